/**
 * Control as learning in activity space (SPEC §7.5, result F2): the control input the feedback injects,
 * c_k = (M o W_fb) e_k, against the descent direction of the task loss with respect to the rates it acts
 * on. c_k enters the drive of step k, so it moves r_{k+1}; its targets are therefore taken at r_{k+1}:
 *
 *   one-step:  g1_k = -d l_{k+1} / d r_{k+1}   (direct term only: dt W_out^T e_{k+1} for the position error)
 *   adjoint:   g2_k = -d L / d r_{k+1},  L = sum_{j >= k+1} l_j                (horizon "from-next", default)
 *                                        L = sum_{j >  k+1} l_j                (horizon "after-next")
 *
 * with l_j = |e_j|^2 / 2 of each trial, taken through the dynamics (leak, recurrence, error integrator).
 * The fed-back error is an external input (the adaptation's error_detach) unless throughFeedback is set.
 * Losses before k+1 do not depend on r_{k+1}, so the "from-next" adjoint is the ordinary BPTT adjoint of
 * r_{k+1} for the whole trial's loss. The reference computes g1-like quantities but no comparison (§7.5);
 * these definitions are this project's (DEVIATIONS.md).
 */
import { gemm } from "../kernels";
import { Network, Rollout, cloneNetwork, effectiveFeedback, assertPaperLoop } from "../network";
import { Rng } from "../rng";
import { ParameterError, oneOf } from "../validate";
import { frobenius } from "./alignment";

/** Options of `controlAlignment` and `rateAdjoint`. */
export interface ActivityGradientOptions {
  /** Losses in the adjoint target: from step k+1 on ("from-next", default) or after it ("after-next"). */
  horizon?: "from-next" | "after-next";
  /** Backpropagate through the fed-back error too (default false: it is an external input). */
  throughFeedback?: boolean;
}

function f64(a: ArrayLike<number>): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a);
}

function checkRollout(net: Network, ro: Rollout): void {
  if (ro.N !== net.config.N || ro.nOut !== net.config.nOut) throw new ParameterError("ro", `rollout has N=${ro.N}, nOut=${ro.nOut}; the network has N=${net.config.N}, nOut=${net.config.nOut}`);
}

/**
 * lambda_m = -dL/dr_m for m = 0..T and every trial, L = sum_{j=1..T} |e_j|^2 / 2 of that trial:
 * [T+1, B, N] (float64). The error integrator, leak and recurrence carry the gradient back; the fed-back
 * error does so only with throughFeedback.
 */
export function rateAdjoint(net: Network, ro: Rollout, options: Pick<ActivityGradientOptions, "throughFeedback"> = {}): Float64Array {
  assertPaperLoop(net.config, "analysis.rateAdjoint");
  checkRollout(net, ro);
  const { N, nOut, dt, tau, fbDelay, recurrent, errorMode, e0 } = net.config;
  const { T, B } = ro;
  const BN = B * N;
  const BO = B * nOut;
  const alpha = dt / tau;
  const position = errorMode === "position";
  const through = options.throughFeedback === true && ro.feedback;
  const wRec = f64(net.params.wRec);
  const wOut = f64(net.params.wOut);
  const F = f64(effectiveFeedback(net));
  const x = ro.x;
  const e = ro.e;

  const lambda = new Float64Array((T + 1) * BN);
  const ga = new Float64Array(T * BN); // adjoints of the drives a_0 .. a_{T-1}
  const ge = new Float64Array(BO); // d L / d e_k (total), for the current k
  const gy = new Float64Array(BO);
  const gr = new Float64Array(BN);
  let gx = new Float64Array(BN);
  let gxNext = new Float64Array(BN);
  const geps = new Float64Array(BO);
  for (let k = T; k >= 0; k--) {
    // d L / d e_k: its own term (k >= 1), the integrator's carry, and (throughFeedback) the control it drives.
    for (let i = 0; i < BO; i++) {
      const own = k >= 1 ? e[k * BO + i] : 0;
      ge[i] = own + (position ? ge[i] : 0);
    }
    if (through && k >= 1 && k + fbDelay <= T - 1) {
      gemm(false, false, B, nOut, N, 1, ga.subarray((k + fbDelay) * BN, (k + fbDelay + 1) * BN), N, F, nOut, 0, geps, nOut);
      for (let i = 0; i < BO; i++) ge[i] += geps[i];
    }
    // y_k feeds e_k (k >= 1), or the integrator's start e_0 = y_0 (k = 0, the reference's quirk).
    if (k >= 1) for (let i = 0; i < BO; i++) gy[i] = position ? -dt * ge[i] : -ge[i];
    else for (let i = 0; i < BO; i++) gy[i] = position && e0 === "readout" ? ge[i] : 0;
    // g_r_k = W_out^T g_y_k + W_rec^T g_a_k
    gemm(false, false, B, N, nOut, 1, gy, nOut, wOut, N, 0, gr, N);
    if (k < T && recurrent) gemm(false, false, B, N, N, 1, ga.subarray(k * BN, (k + 1) * BN), N, wRec, N, 1, gr, N);
    for (let i = 0; i < BN; i++) lambda[k * BN + i] = -gr[i];
    if (k === 0) break;
    for (let i = 0; i < BN; i++) {
      const g = (x[k * BN + i] > 0 ? gr[i] : 0) + (1 - alpha) * gxNext[i];
      gx[i] = g;
      ga[(k - 1) * BN + i] = alpha * g;
    }
    const t = gx;
    gx = gxNext;
    gxNext = t;
  }
  return lambda;
}

/** -d l_m / d r_m through the readout only: [T+1, B, N], row 0 zero (dt W_out^T e_m, or W_out^T e_m for the velocity error). */
export function oneStepGradient(net: Network, ro: Rollout): Float64Array {
  assertPaperLoop(net.config, "analysis.oneStepGradient");
  checkRollout(net, ro);
  const { N, nOut, dt, errorMode } = net.config;
  const { T, B } = ro;
  const scale = errorMode === "position" ? dt : 1;
  const out = new Float64Array((T + 1) * B * N);
  gemm(false, false, T * B, N, nOut, scale, f64(ro.e.subarray(B * nOut)), nOut, f64(net.params.wOut), N, 0, out.subarray(B * N), N);
  return out;
}

/** Per trial and step: how the control input c_k compares with a target direction at r_{k+1}. */
export interface ControlComparison {
  /** Steps per trial. */
  T: number;
  /** Trials. */
  B: number;
  /** [B, T] cos(c_k, g_k); NaN where either is zero (c_0 = 0: the first step has no fed-back error). */
  cosine: Float64Array;
  /** [B, T] |c_k| / |g_k|. */
  normRatio: Float64Array;
}

/** The control inputs of a rollout compared with both activity-space targets, as `controlAlignment` returns them. */
export interface ControlAlignment {
  /** Against the one-step gradient g1_k = -d l_{k+1} / d r_{k+1}. */
  oneStep: ControlComparison;
  /** Against the adjoint g2_k = -d L / d r_{k+1} over the horizon. */
  adjoint: ControlComparison;
  /** The options used, defaults filled in. */
  options: Required<ActivityGradientOptions>;
}

function compare(ro: Rollout, target: Float64Array): ControlComparison {
  const { T, B, N } = ro;
  const cosine = new Float64Array(B * T);
  const normRatio = new Float64Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < T; k++) {
      const c = (k * B + b) * N;
      const g = ((k + 1) * B + b) * N;
      let cg = 0;
      let cc = 0;
      let gg = 0;
      for (let i = 0; i < N; i++) {
        const ci = ro.c[c + i];
        const gi = target[g + i];
        cg += ci * gi;
        cc += ci * ci;
        gg += gi * gi;
      }
      cosine[b * T + k] = cc > 0 && gg > 0 ? cg / Math.sqrt(cc * gg) : NaN;
      normRatio[b * T + k] = gg > 0 ? Math.sqrt(cc / gg) : NaN;
    }
  }
  return { T, B, cosine, normRatio };
}

/**
 * Compares a rollout's control inputs with the one-step and the adjoint activity-space gradients
 * (module comment). The rollout should run with feedback on; with it off, c_k is still what the feedback
 * would inject, but the states are those of the open loop.
 */
export function controlAlignment(net: Network, ro: Rollout, options: ActivityGradientOptions = {}): ControlAlignment {
  const opts: Required<ActivityGradientOptions> = {
    horizon: oneOf("horizon", options.horizon ?? "from-next", ["from-next", "after-next"]),
    throughFeedback: options.throughFeedback ?? false,
  };
  if (typeof opts.throughFeedback !== "boolean") throw new ParameterError("throughFeedback", `must be a boolean, got ${options.throughFeedback}`);
  const one = oneStepGradient(net, ro);
  const adj = rateAdjoint(net, ro, opts);
  if (opts.horizon === "after-next") for (let i = 0; i < adj.length; i++) adj[i] -= one[i];
  return { oneStep: compare(ro, one), adjoint: compare(ro, adj), options: opts };
}

/** Per step: mean, standard deviation, min and max over the trials of a [B, T] array (NaN entries skipped). */
export function acrossTrials(
  values: Float64Array,
  B: number,
  T: number,
): {
  /** [T] mean over trials (NaN where every trial is NaN). */
  mean: Float64Array;
  /** [T] sample standard deviation over trials (NaN with fewer than 2 values). */
  sd: Float64Array;
  /** [T] smallest value over trials. */
  min: Float64Array;
  /** [T] largest value over trials. */
  max: Float64Array;
} {
  if (values.length !== B * T) throw new ParameterError("values", `must have B*T = ${B * T} entries, got ${values.length}`);
  const mean = new Float64Array(T);
  const sd = new Float64Array(T);
  const min = new Float64Array(T);
  const max = new Float64Array(T);
  for (let k = 0; k < T; k++) {
    let n = 0;
    let s = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let b = 0; b < B; b++) {
      const v = values[b * T + k];
      if (Number.isNaN(v)) continue;
      n++;
      s += v;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const m = n ? s / n : NaN;
    let ss = 0;
    for (let b = 0; b < B; b++) {
      const v = values[b * T + k];
      if (!Number.isNaN(v)) ss += (v - m) * (v - m);
    }
    mean[k] = m;
    sd[k] = n > 1 ? Math.sqrt(ss / (n - 1)) : NaN;
    min[k] = n ? lo : NaN;
    max[k] = n ? hi : NaN;
  }
  return { mean, sd, min, max };
}

/** Mean over every trial and step of a [B, T] array, skipping NaN (e.g. one number per network). */
export function grandMean(values: ArrayLike<number>): number {
  let n = 0;
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) continue;
    n++;
    s += values[i];
  }
  return n ? s / n : NaN;
}

/**
 * A copy of `net` with other feedback weights, for controls of the F2 comparison:
 *   mask "ones": every unit receives the error (for a network trained without feedback, whose mask is zero);
 *   random: W_fb replaced by a Gaussian random matrix with the Frobenius norm of the effective M o W_fb
 *   (of the mask after the "ones" replacement), drawn from `random`.
 */
export function withFeedback(net: Network, options: { mask?: "keep" | "ones"; random?: Rng } = {}): Network {
  const out = cloneNetwork(net);
  const mask = oneOf("mask", options.mask ?? "keep", ["keep", "ones"]);
  if (mask === "ones") out.params.mask.fill(1);
  if (options.random) {
    const norm = frobenius(effectiveFeedback(out));
    if (!(norm > 0)) throw new ParameterError("net", "its effective feedback weights are zero, so a random matrix of the same norm is zero too; use mask: \"ones\"");
    const w = out.params.wFb;
    for (let i = 0; i < w.length; i++) w[i] = options.random.normal();
    const scale = norm / frobenius(effectiveFeedback(out));
    for (let i = 0; i < w.length; i++) w[i] *= scale;
  }
  return out;
}
