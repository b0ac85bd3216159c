/**
 * The pre-training loss (SPEC §4.2) and its exact gradient by backpropagation through time,
 * through the feedback loop unless the rollout was made with detachFeedback.
 *
 *   L = mean(E^2) + rateWeight * mean(r^2) + paramWeight * (|W_in| + |W_out| + |b_out| + |W_fb| + |b|) + recWeight * |W_rec|
 *
 * E = [0, e_1 .. e_T] and r = [r_0 .. r_T] (T+1 steps; r_0 and E[0] are constants). |.| is the plain
 * (unsquared) Frobenius norm as in the reference; penalty: "squared" uses |.|^2 instead (DEVIATIONS.md 4).
 *
 * Backward pass, with g_z = dL/dz and a_k the drive of step k (x_{k+1} = (1-a) x_k + a a_k):
 *   g_e_k  = 2 e_k / |E| + g_e_{k+1} + (M o W_fb)^T g_a_{k+d}      (last term: feedback not detached)
 *   (with velocity feedback, NetworkConfig.fbVelocityGain: (1 + kappa/dt) times that last term, minus
 *   kappa/dt times (M o W_fb)^T g_a_{k+1+d})
 *   g_y_k  = -dt g_e_k,   g_r_k = W_out^T g_y_k + 2 rateWeight r_k / |r| + W_rec^T g_a_k
 *   g_x_k  = relu'(x_k) g_r_k + (1-a) g_x_{k+1},   g_a_{k-1} = a g_x_k
 * and the weight gradients are sums of outer products over all steps, each done as one large product.
 */
import { gemm, nativeKernels, FArray } from "./kernels";
import { Network, Rollout, dtypeOf, effectiveFeedback, feedbackFilter, PARAM_NAMES, ParamName } from "./network";
import { finite, oneOf, ParameterError } from "./validate";
import { frobenius } from "./analysis/alignment";
import { applyInPlace, transpose } from "./cursor";

/**
 * Weights of the pre-training loss's penalty terms. Defaults: `DEFAULT_LOSS`; `lossConfig(overrides)` validates one.
 */
export interface LossConfig {
  /** Weight of mean(r^2) ("beta1", 2e-3). */
  rateWeight: number;
  /** Weight of the norms of W_in, W_out, b_out, W_fb, b ("alpha1", 1e-3). */
  paramWeight: number;
  /** Weight of the norm of W_rec ("gamma1", 1e-3). */
  recWeight: number;
  /** "norm": plain Frobenius norm, as the reference; "squared": squared norm (classic L2). */
  penalty: "norm" | "squared";
}

/** The reference's weights: rate 2e-3, parameters 1e-3, W_rec 1e-3, plain (unsquared) norms. */
export const DEFAULT_LOSS: Readonly<LossConfig> = Object.freeze({ rateWeight: 2e-3, paramWeight: 1e-3, recWeight: 1e-3, penalty: "norm" });

/** A complete loss config: `DEFAULT_LOSS` with `overrides` on top, validated. */
export function lossConfig(overrides: Partial<LossConfig> = {}): LossConfig {
  const c = { ...DEFAULT_LOSS, ...overrides };
  finite("rateWeight", c.rateWeight);
  finite("paramWeight", c.paramWeight);
  finite("recWeight", c.recWeight);
  oneOf("penalty", c.penalty, ["norm", "squared"]);
  return c;
}

/** The loss of a rollout and its parts (`total` = task + rate + param). */
export interface LossValue {
  /** The whole loss L. */
  total: number;
  /** mean(E^2) */
  task: number;
  /** rateWeight * mean(r^2) */
  rate: number;
  /** the parameter penalty, all terms */
  param: number;
}

/** The name of a trained parameter: every parameter but the fixed feedback mask. */
export type GradName = Exclude<ParamName, "mask">;
/** Gradients of every parameter but the fixed mask; same shapes as the parameters. */
export type Grads = Record<GradName, FArray>;
/** The parameters that have gradients: all but the fixed mask, in `PARAM_NAMES` order. */
export const GRAD_NAMES = PARAM_NAMES.filter((n) => n !== "mask") as GradName[];

/** Zero gradients for `net`, one array per trainable parameter in the network's dtype. */
export function zeroGrads(net: Network): Grads {
  const make = (n: number): FArray => (dtypeOf(net.params.wRec) === "float64" ? new Float64Array(n) : new Float32Array(n));
  const g = {} as Grads;
  for (const name of GRAD_NAMES) g[name] = make(net.params[name].length);
  return g;
}

function penaltyWeight(name: ParamName, c: LossConfig): number {
  return name === "wRec" ? c.recWeight : c.paramWeight;
}

/** The loss of a rollout (no gradient). */
export function loss(net: Network, ro: Rollout, config: Partial<LossConfig> = {}): LossValue {
  const c = lossConfig(config);
  let se = 0;
  for (let i = 0; i < ro.e.length; i++) se += ro.e[i] * ro.e[i];
  const sr = ro.sumR2; // kept by the simulation
  let param = 0;
  for (const name of GRAD_NAMES) {
    const n = frobenius(net.params[name]);
    param += penaltyWeight(name, c) * (c.penalty === "norm" ? n : n * n);
  }
  const task = se / ro.e.length;
  const rate = (c.rateWeight * sr) / ro.r.length;
  return { total: task + rate + param, task, rate, param };
}

/** Scratch buffers for `lossGradient`, reusable across batches of the same shape. */
export interface GradWorkspace {
  /** The shape and dtype the buffers were made for ("dtype:T:B:N:nIn:nOut"); another shape reallocates them. */
  key: string;
  /** [T, B, N] adjoints of the drives a_0 .. a_{T-1}. */
  ga: FArray;
  /** [T+1, B, nOut] adjoints of the errors (index 0: the integrator's start e_0). */
  ge: FArray;
  /** [T+1, B, nOut] adjoints of the readouts y_0 .. y_T. */
  gy: FArray;
  /** [B, N] adjoint of the pre-activations x_k at the current step. */
  gx: FArray;
  /** [B, N] adjoint of x_{k+1} (swapped with gx each step). */
  gxNext: FArray;
  /** [B, N] adjoint of the rates r_k. */
  gr: FArray;
  /** [B, nOut] adjoint of the fed-back error at the current step. */
  geps: FArray;
  /** Native path: float64 accumulators of the small weight gradients (see lib/native/fbc_rnn.c). */
  acc: Float64Array;
  /** With a plant: [B, nState] adjoints of the plant's state s_k and s_{k-1} (swapped each step). */
  gs?: Float64Array[];
  /** With a plant: [B, nOut] adjoint of the hand's velocity v_k. */
  gv?: Float64Array;
}

function workspace(ro: Rollout, nIn: number, old?: GradWorkspace): GradWorkspace {
  const key = `${dtypeOf(ro.x)}:${ro.T}:${ro.B}:${ro.N}:${nIn}:${ro.nOut}`;
  if (old && old.key === key) return old;
  const make = (n: number): FArray => (dtypeOf(ro.x) === "float64" ? new Float64Array(n) : new Float32Array(n));
  const { T, B, N, nOut } = ro;
  return {
    key,
    ga: make(T * B * N),
    ge: make((T + 1) * B * nOut),
    gy: make((T + 1) * B * nOut),
    gx: make(B * N),
    gxNext: make(B * N),
    gr: make(B * N),
    geps: make(B * nOut),
    acc: new Float64Array(N * (1 + nIn + 2 * nOut) + nOut),
  };
}

/**
 * Writes dL/dtheta for every parameter but the mask into `grads` (overwriting it) and returns the loss.
 * The gradient of W_fb is (dL/d(M o W_fb)) o M. Pass the previous `work` back to avoid reallocation.
 */
export function lossGradient(
  net: Network,
  ro: Rollout,
  grads: Grads,
  config: Partial<LossConfig> = {},
  work?: GradWorkspace,
): {
  /** The loss of the rollout. */
  value: LossValue;
  /** The scratch buffers used; pass them to the next call. */
  work: GradWorkspace;
} {
  const c = lossConfig(config);
  const { N, nIn, nOut, dt, tau, fbDelay, recurrent, errorMode, e0 } = net.config;
  const { T, B } = ro;
  if (ro.N !== N || dtypeOf(ro.x) !== dtypeOf(net.params.wRec)) throw new ParameterError("ro", "rollout does not belong to this network");
  const w = workspace(ro, nIn, work);
  const { ga, ge, gy, gr, geps } = w;
  let gx = w.gx;
  let gxNext = w.gxNext;
  const { wRec, wOut, mask } = net.params;
  const F = effectiveFeedback(net);
  const alpha = dt / tau;
  const BN = B * N;
  const BO = B * nOut;
  const nE = ro.e.length;
  const nR = ro.r.length;
  const feedbackGrad = ro.feedback && !ro.detachFeedback;
  if (feedbackGrad && ro.controlGain !== 1) throw new ParameterError("controlGain", `the gradient through the feedback loop does not handle a control gain (${ro.controlGain}) yet: simulate with detachFeedback, or gain 1`);
  const position = errorMode === "position";
  const filter = feedbackFilter(net.config);

  // Direct terms of the task loss; ge[0] collects the adjoint of the integrator's start.
  for (let i = 0; i < ge.length; i++) ge[i] = (2 * ro.e[i]) / nE;
  gy.fill(0);
  gxNext.fill(0);
  const rateScale = (2 * c.rateWeight) / nR;

  const plant = ro.plant;
  // With a plant, v_k = V(s_{k-1}, y_k, f_{k-1}) and s_k = F(s_{k-1}, y_k, f_{k-1}): the adjoint of the plant's
  // state runs backwards beside the network's, and y_k's adjoint comes out of the plant's backward step
  // (into gy[k], before the network's step k, which then takes it as given).
  const S = plant ? B * plant.nState : 0;
  if (plant && (!w.gs || w.gs[0].length !== S)) {
    w.gs = [new Float64Array(S), new Float64Array(S)];
    w.gv = new Float64Array(BO);
  }
  let gs = plant ? w.gs![0] : null;
  let gsPrev = plant ? w.gs![1] : null;
  gs?.fill(0);
  /** gy[k] from the plant's backward step k (its state adjoint carried to s_{k-1}). */
  // Under a cursor map the error is the cursor's, v = C v_hand: the hand's adjoint is C^T g_v.
  const cursorT = ro.cursor !== null ? transpose(ro.cursor) : null;
  const plantBackward = (k: number) => {
    const geK = ge.subarray(k * BO, (k + 1) * BO);
    const gv = w.gv!;
    for (let i = 0; i < BO; i++) gv[i] = position ? -dt * geK[i] : -geK[i];
    if (cursorT) applyInPlace(cursorT, gv);
    const push = ro.push.subarray((k - 1) * BO, k * BO);
    for (let i = 0; i < BO; i++) ro.force[i] = plant!.pushScale * push[i];
    gsPrev!.fill(0);
    plant!.backward(B, ro.ps.subarray((k - 1) * S, k * S), ro.y.subarray(k * BO, (k + 1) * BO), ro.force, gs!, gv, gsPrev!, gy.subarray(k * BO, (k + 1) * BO), null);
    const t = gs!;
    gs = gsPrev;
    gsPrev = t;
  };
  const native = ro.x instanceof Float32Array ? nativeKernels() : null;
  if (native) {
    // The same loop in C, with the small weight gradients accumulated in float64 on the way.
    const f = (a: FArray) => a as Float32Array;
    const acc = w.acc;
    acc.fill(0);
    for (let k = T; k >= 1; k--) {
      if (plant) plantBackward(k);
      native.rnnBackwardStep(
        k, T, B, N, nIn, nOut, alpha, dt, rateScale, position, recurrent, feedbackGrad, ro.feedback, fbDelay,
        f(ro.x), f(ro.r), f(ro.u), f(ro.eps), f(ga), f(ge), f(gy), f(gxNext), f(gr), f(wRec), f(wOut), f(F), acc,
        ...((plant || filter.prev !== 0 ? [plant !== null, filter.now, filter.prev] : []) as [boolean?, number?, number?]),
      );
    }
    if (position && e0 === "readout") gy.set(ge.subarray(0, BO), 0);
    // Step 0's readout adjoint (the integrator's start) joins W_out's and b_out's gradients.
    const gWout = acc.subarray(N * (1 + nIn + nOut), N * (1 + nIn + 2 * nOut));
    const gBout = acc.subarray(N * (1 + nIn + 2 * nOut));
    for (let row = 0; row < B; row++) {
      for (let o = 0; o < nOut; o++) {
        const g = gy[row * nOut + o];
        if (g === 0) continue;
        gBout[o] += g;
        for (let i = 0; i < N; i++) gWout[o * N + i] += g * ro.r[row * N + i];
      }
    }
    gemm(true, false, N, N, T * B, 1, ga, N, ro.r.subarray(0, T * BN), N, 0, grads.wRec, N);
    if (!recurrent) grads.wRec.fill(0);
    for (let i = 0; i < N; i++) {
      grads.b[i] = acc[i];
      for (let m = 0; m < nIn; m++) grads.wIn[i * nIn + m] = acc[N + m * N + i];
      for (let o = 0; o < nOut; o++) {
        grads.wFb[i * nOut + o] = acc[N * (1 + nIn) + o * N + i] * mask[i * nOut + o];
        grads.wOut[o * N + i] = gWout[o * N + i];
      }
    }
    for (let o = 0; o < nOut; o++) grads.bOut[o] = gBout[o];
    addPenalties(net, grads, c);
    return { value: loss(net, ro, c), work: w };
  }

  for (let k = T; k >= 1; k--) {
    const geK = ge.subarray(k * BO, (k + 1) * BO);
    const gyK = gy.subarray(k * BO, (k + 1) * BO);
    if (plant) plantBackward(k);
    else for (let i = 0; i < BO; i++) gyK[i] = position ? -dt * geK[i] : -geK[i];
    // g_r_k = W_out^T g_y_k (+ W_rec^T g_a_k when step k exists) + rate penalty
    gemm(false, false, B, N, nOut, 1, gyK, nOut, wOut, N, 0, gr, N);
    if (k < T && recurrent) gemm(false, false, B, N, N, 1, ga.subarray(k * BN, (k + 1) * BN), N, wRec, N, 1, gr, N);
    const xK = ro.x.subarray(k * BN, (k + 1) * BN);
    const rK = ro.r.subarray(k * BN, (k + 1) * BN);
    const gaPrev = ga.subarray((k - 1) * BN, k * BN);
    for (let i = 0; i < BN; i++) {
      const g = (xK[i] > 0 ? gr[i] + rateScale * rK[i] : 0) + (1 - alpha) * gxNext[i];
      gx[i] = g;
      gaPrev[i] = alpha * g;
    }
    // The fed-back error eps_{k-1} = E[k-1-d] receives (M o W_fb)^T g_a_{k-1} (E[0] = 0 is a constant); with
    // velocity feedback eps = now E[j] + prev E[j-1], and E[j-1]'s share goes to ge[j-1] (ge[0]: e_0's adjoint).
    const target = k - 1 - fbDelay;
    if (feedbackGrad && target >= 1) {
      gemm(false, false, B, nOut, N, 1, gaPrev, N, F, nOut, 0, geps, nOut);
      const geT = ge.subarray(target * BO, (target + 1) * BO);
      for (let i = 0; i < BO; i++) geT[i] += filter.now * geps[i];
      if (filter.prev !== 0) {
        const geP = ge.subarray((target - 1) * BO, target * BO);
        for (let i = 0; i < BO; i++) geP[i] += filter.prev * geps[i];
      }
    }
    if (position) {
      const gePrev = ge.subarray((k - 1) * BO, k * BO);
      for (let i = 0; i < BO; i++) gePrev[i] += geK[i];
    }
    const swap = gx;
    gx = gxNext;
    gxNext = swap;
  }
  w.gx = gx;
  w.gxNext = gxNext;
  // e_0 = y_0 under the reference's quirk, so y_0 receives the start's adjoint.
  if (position && e0 === "readout") gy.set(ge.subarray(0, BO), 0);

  // Weight gradients: one product each over all T (or T+1) steps.
  const R = ro.r.subarray(0, T * BN);
  gemm(true, false, N, N, T * B, 1, ga, N, R, N, 0, grads.wRec, N);
  if (!recurrent) grads.wRec.fill(0);
  gemm(true, false, N, nIn, T * B, 1, ga, N, ro.u, nIn, 0, grads.wIn, nIn);
  gemm(true, false, N, nOut, T * B, ro.feedback ? 1 : 0, ga, N, ro.eps, nOut, 0, grads.wFb, nOut);
  for (let i = 0; i < grads.wFb.length; i++) grads.wFb[i] *= mask[i];
  gemm(true, false, nOut, N, (T + 1) * B, 1, gy, nOut, ro.r, N, 0, grads.wOut, N);
  grads.b.fill(0);
  for (let row = 0; row < T * B; row++) for (let i = 0; i < N; i++) grads.b[i] += ga[row * N + i];
  grads.bOut.fill(0);
  for (let row = 0; row < (T + 1) * B; row++) for (let o = 0; o < nOut; o++) grads.bOut[o] += gy[row * nOut + o];

  addPenalties(net, grads, c);
  return { value: loss(net, ro, c), work: w };
}

/** Adds the parameter penalty's gradient to `grads`. */
function addPenalties(net: Network, grads: Grads, c: LossConfig): void {
  for (const name of GRAD_NAMES) {
    const p = net.params[name];
    const n = frobenius(p);
    const wgt = penaltyWeight(name, c);
    const scale = c.penalty === "norm" ? (n > 0 ? wgt / n : 0) : 2 * wgt;
    const g = grads[name];
    for (let i = 0; i < g.length; i++) g[i] += scale * p[i];
  }
}
