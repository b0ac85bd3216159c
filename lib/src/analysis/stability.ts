/**
 * Stability of the delayed control loop (notebook 11, issue 25): why learning with a late controller can fail.
 *
 * The network's error channel, linearised around a trajectory with the relu gains D = diag(relu'(x)) frozen
 * (their mean over the steps and trials of a rollout, so fractional gains are allowed), is a linear
 * time-invariant loop. A small change in the fed-back error eps moves the state by
 *   dx_{k+1} = A dx_k + a F deps_k,     A = (1-a) I + a W_rec D,   F = M o W_fb,
 * and the position error by de_{k+1} = de_k - dt W_out D dx_{k+1}. With the delay, eps_k = e_{k-d}, so the
 * error obeys the scalar-kernel recurrence (position error; c = 1, g = dt)
 *   de_{k+1} = c de_k - sum_{m>=0} H_m de_{k-d-m},   H_m = g W_out D A^m a F  (nOut x nOut),
 * a state of nOut (d + M + 1) numbers (the x part is summed into the kernel; its own modes are those of A,
 * which must be stable, |eig A| < 1). For the instantaneous velocity error (errorMode "velocity") c = 0 and
 * g = 1. The kernel's sum is the quasi-static loop gain
 *   K = sum_m H_m = g W_out D (I - A)^{-1} a F = g W_out D (I - W_rec D)^{-1} F,
 * and a one-tap kernel (H_0 = k, H_m = 0 otherwise) with c = 1 is the Levin-May delay equation
 * x_{k+1} = x_k - k x_{k-d}, stable exactly for 0 < k < 2 cos(d pi / (2d + 1)) (`levinMayBound`).
 *
 * The closed loop is stable when every root z of the characteristic function
 *   chi(z) = det[(z - c) I + sum_m H_m z^{-(d+m)}]
 * lies inside the unit circle; `delayLoopStability` counts the roots outside by the argument principle on
 * the unit circle (exact up to sampling, which it refines), and estimates the spectral radius by iterating
 * the recurrence. From these: the gain margin (the largest factor s on F for which the loop with s F is
 * stable: 1 means the loop sits on its boundary), and the delay margin (the first delay at which the loop
 * with the network's own F is unstable). `rfloControlUpdate` is the weight change one RFLO trial makes
 * (SPEC §6.3: lr sum_k diag(W_fb e_{k+1}) P_k), so that a learning-rate-scaled update's effect on the
 * margins can be computed.
 */
import { Network, Rollout, effectiveFeedback, assertPaperLoop } from "../network";
import { solveDense } from "./dense";
import { eigenvalues2 } from "./loopGain";
import { Rng } from "../rng";
import { ParameterError, finite, integer, positive } from "../validate";

/** Options of `reluGains`: which steps and trials of a rollout to average relu'(x_k) over. */
export interface ReluGainOptions {
  /** Trials to average over (default all). */
  trials?: number[];
  /** First state index k of x_k (default 1: x_0 is the random initial state). */
  from?: number;
  /** Last state index k, inclusive (default T). */
  to?: number;
}

/**
 * The mean relu gain of every unit, mean over the chosen steps and trials of 1[x_k > 0] ([N]): the frozen
 * D of the linearised loop.
 */
export function reluGains(ro: Rollout, options: ReluGainOptions = {}): Float64Array {
  const { N, B, T } = ro;
  const trials = options.trials ?? Array.from({ length: B }, (_, b) => b);
  trials.forEach((b, i) => integer(`trials[${i}]`, b, 0, B - 1));
  if (trials.length === 0) throw new ParameterError("trials", "must name at least one trial");
  const from = integer("from", options.from ?? 1, 0, T);
  const to = integer("to", options.to ?? T, from, T);
  const D = new Float64Array(N);
  for (let k = from; k <= to; k++) {
    for (const b of trials) {
      const o = (k * B + b) * N;
      for (let i = 0; i < N; i++) if (ro.x[o + i] > 0) D[i] += 1;
    }
  }
  const n = (to - from + 1) * trials.length;
  for (let i = 0; i < N; i++) D[i] /= n;
  return D;
}

/** Options of `loopKernel` and `quasiStaticGain`. */
export interface LoopOptions {
  /** W_rec to use instead of the network's (e.g. an adapted one). */
  wRec?: ArrayLike<number>;
  /** Most kernel taps M (default 4000); the kernel is cut once its taps fall below tolerance. */
  maxLag?: number;
  /** Relative size below which the kernel's tail is dropped (default 1e-10). */
  tolerance?: number;
  /** [N, nOut] input directions to use instead of a F's F (e.g. D F for the drive a learned change adds). */
  input?: ArrayLike<number>;
}

/** The error kernel of the linearised delayed loop (module comment). */
export interface LoopKernel {
  /** Outputs (the error's width). */
  nOut: number;
  /** Number of taps M kept. */
  lags: number;
  /** [M, nOut, nOut] H_m = g W_out D A^m a F. */
  H: Float64Array;
  /** The integrator's carry c: 1 for the position error, 0 for the velocity error. */
  carry: number;
  /** [nOut, nOut] sum of the kept taps: the quasi-static loop gain K. */
  gain: Float64Array;
  /** Estimated spectral radius of A from the decay of the kernel's tail (NaN if too short to tell). */
  radiusA: number;
  /** Whether the tail was still above tolerance at maxLag (A not stable enough: the kernel is truncated). */
  truncated: boolean;
}

interface LoopParts {
  N: number;
  nOut: number;
  alpha: number;
  g: number;
  carry: number;
  wRec: Float64Array;
  wOut: Float64Array;
  F: Float64Array;
  D: Float64Array;
}

function parts(net: Network, gains: ArrayLike<number>, wRec?: ArrayLike<number>): LoopParts {
  const c = net.config;
  const { N, nOut } = c;
  if (gains.length !== N) throw new ParameterError("gains", `must have N = ${N} entries, got ${gains.length}`);
  if (wRec && wRec.length !== N * N) throw new ParameterError("wRec", `must have N*N = ${N * N} entries, got ${wRec.length}`);
  const position = c.errorMode === "position";
  return {
    N,
    nOut,
    alpha: c.dt / c.tau,
    g: position ? c.dt : 1,
    carry: position ? 1 : 0,
    wRec: c.recurrent ? Float64Array.from(wRec ?? net.params.wRec) : new Float64Array(N * N),
    wOut: Float64Array.from(net.params.wOut),
    F: Float64Array.from(effectiveFeedback(net)),
    D: Float64Array.from(gains),
  };
}

/**
 * The kernel H_m = g W_out D A^m a F of the linearised loop (module comment), with D = diag(gains) (e.g. from
 * `reluGains`), taps m = 0.. until they fall below `tolerance` times the largest.
 */
export function loopKernel(net: Network, gains: ArrayLike<number>, options: LoopOptions = {}): LoopKernel {
  assertPaperLoop(net.config, "analysis.loopKernel");
  const p = parts(net, gains, options.wRec);
  const { N, nOut, alpha, g, wRec, wOut, D } = p;
  if (options.input && options.input.length !== N * nOut) throw new ParameterError("input", `must have N*nOut = ${N * nOut} entries, got ${options.input.length}`);
  const F = options.input ? Float64Array.from(options.input) : p.F;
  const maxLag = integer("maxLag", options.maxLag ?? 4000, 1);
  const tol = positive("tolerance", options.tolerance ?? 1e-10);
  // V = A^m a F, [N, nOut]; H_m = g W_out D V.
  let V = new Float64Array(N * nOut);
  for (let i = 0; i < V.length; i++) V[i] = alpha * F[i];
  let next = new Float64Array(N * nOut);
  const DV = new Float64Array(N * nOut);
  const taps: number[] = [];
  const norms: number[] = [];
  let biggest = 0;
  let truncated = false;
  const vNorm0 = Math.sqrt(V.reduce((s, v) => s + v * v, 0)) || 1;
  for (let m = 0; m < maxLag; m++) {
    for (let i = 0; i < N; i++) for (let o = 0; o < nOut; o++) DV[i * nOut + o] = D[i] * V[i * nOut + o];
    let h2 = 0;
    for (let o = 0; o < nOut; o++) {
      for (let q = 0; q < nOut; q++) {
        let s = 0;
        for (let i = 0; i < N; i++) s += wOut[o * N + i] * DV[i * nOut + q];
        s *= g;
        taps.push(s);
        h2 += s * s;
      }
    }
    const hn = Math.sqrt(h2);
    norms.push(hn);
    biggest = Math.max(biggest, hn);
    const vn = Math.sqrt(V.reduce((s, v) => s + v * v, 0));
    if (m > 0 && ((vn < tol * vNorm0 && hn <= tol * biggest) || m === maxLag - 1)) {
      truncated = !(vn < tol * vNorm0 && hn <= tol * biggest);
      break;
    }
    // next = (1-a) V + a W_rec (D V)
    for (let i = 0; i < N; i++) {
      const row = i * N;
      for (let o = 0; o < nOut; o++) {
        let s = 0;
        for (let j = 0; j < N; j++) s += wRec[row + j] * DV[j * nOut + o];
        next[i * nOut + o] = (1 - alpha) * V[i * nOut + o] + alpha * s;
      }
    }
    [V, next] = [next, V];
  }
  const lags = norms.length;
  const H = Float64Array.from(taps);
  const gain = new Float64Array(nOut * nOut);
  for (let m = 0; m < lags; m++) for (let i = 0; i < nOut * nOut; i++) gain[i] += H[m * nOut * nOut + i];
  // Decay rate of the tail: geometric mean ratio of tap norms over the last quarter (where it is clean).
  let radiusA = NaN;
  const a0 = Math.floor((3 * lags) / 4);
  if (lags >= 16 && norms[a0] > 0 && norms[lags - 1] > 0) radiusA = Math.exp((Math.log(norms[lags - 1]) - Math.log(norms[a0])) / (lags - 1 - a0));
  return { nOut, lags, H, carry: p.carry, gain, radiusA, truncated };
}

/**
 * The quasi-static loop gain K = g W_out D (I - W_rec D)^{-1} F ([nOut, nOut], row-major) by a dense solve:
 * the steady-state change in the error increment per unit of fed-back error. Equals the sum of
 * `loopKernel`'s taps when A is stable; computed independently as a check.
 */
export function quasiStaticGain(net: Network, gains: ArrayLike<number>, options: Pick<LoopOptions, "wRec"> = {}): Float64Array {
  const { N, nOut, g, wRec, wOut, F, D } = parts(net, gains, options.wRec);
  const A = new Float64Array(N * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) A[i * N + j] = (i === j ? 1 : 0) - wRec[i * N + j] * D[j];
  }
  const K = new Float64Array(nOut * nOut);
  for (let q = 0; q < nOut; q++) {
    const rhs = new Float64Array(N);
    for (let i = 0; i < N; i++) rhs[i] = F[i * nOut + q];
    const x = solveDense(A, rhs, N);
    for (let o = 0; o < nOut; o++) {
      let s = 0;
      for (let i = 0; i < N; i++) s += wOut[o * N + i] * D[i] * x[i];
      K[o * nOut + q] = g * s;
    }
  }
  return K;
}

/** Eigenvalues of a 2 x 2 (or 1 x 1) real matrix, as [re, im] pairs. */
export function gainEigenvalues(K: ArrayLike<number>, n: number): [number, number][] {
  if (n === 1) return [[K[0], 0]];
  if (n !== 2) throw new ParameterError("n", `must be 1 or 2, got ${n}`);
  return eigenvalues2([K[0], K[1], K[2], K[3]]).map((e): [number, number] => [e.re, e.im]);
}

/**
 * Levin and May's bound for x_{k+1} = x_k - g x_{k-d}: the loop is asymptotically stable exactly for
 * 0 < g < 2 cos(d pi / (2 d + 1)) (2 at d = 0; about pi / (2 d) for large d).
 */
export function levinMayBound(d: number): number {
  integer("d", d, 0);
  return 2 * Math.cos((d * Math.PI) / (2 * d + 1));
}

/** chi(z) / z-free part at z = e^{i theta}: det[(z - c) I + s sum_m H_m z^{-(d+m)}] as [re, im]. */
function characteristic(k: LoopKernel, d: number, s: number, theta: number, work: Float64Array): [number, number] {
  const { nOut, lags, H, carry } = k;
  const n2 = nOut * nOut;
  // work: [n2 re, n2 im] of sum_m H_m z^{-(d+m)}
  work.fill(0);
  // z^{-(d+m)} = e^{-i theta (d+m)}: rotate by e^{-i theta} per tap.
  let cr = Math.cos(theta * d);
  let ci = -Math.sin(theta * d);
  const stepR = Math.cos(theta);
  const stepI = -Math.sin(theta);
  for (let m = 0; m < lags; m++) {
    const o = m * n2;
    for (let i = 0; i < n2; i++) {
      work[i] += H[o + i] * cr;
      work[n2 + i] += H[o + i] * ci;
    }
    const nr = cr * stepR - ci * stepI;
    ci = cr * stepI + ci * stepR;
    cr = nr;
    if ((m & 63) === 63) {
      const r = Math.hypot(cr, ci); // renormalise the rotation against drift
      cr /= r;
      ci /= r;
    }
  }
  const zr = Math.cos(theta) - carry;
  const zi = Math.sin(theta);
  if (nOut === 1) return [zr + s * work[0], zi + s * work[1]];
  if (nOut !== 2) throw new ParameterError("nOut", `the stability analysis handles 1 or 2 outputs, got ${nOut}`);
  const ar = zr + s * work[0], ai = zi + s * work[n2 + 0];
  const br = s * work[1], bi = s * work[n2 + 1];
  const cr2 = s * work[2], ci2 = s * work[n2 + 2];
  const dr = zr + s * work[3], di = zi + s * work[n2 + 3];
  return [ar * dr - ai * di - (br * cr2 - bi * ci2), ar * di + ai * dr - (br * ci2 + bi * cr2)];
}

/** Options of `delayLoopStability`. */
export interface DelayLoopOptions {
  /** Factor s on the feedback (the kernel scaled by s; default 1). */
  scale?: number;
  /** Also estimate the spectral radius by iterating the recurrence (default true). */
  radius?: boolean;
  /** Stream for the iteration's starting history (default a fixed one). */
  rng?: Rng;
}

/** The stability of the delayed loop with a kernel, a delay and a feedback scale. */
export interface DelayLoopStability {
  /** Delay d in steps. */
  delay: number;
  /** Feedback scale s. */
  scale: number;
  /** Closed-loop roots outside the unit circle (argument principle); 0 means stable. */
  rootsOutside: number;
  /** Whether every root is inside the unit circle. */
  stable: boolean;
  /** Estimated spectral radius of the loop (growth of a perturbation per step; NaN unless asked for). */
  radius: number;
}

/**
 * Counts the closed-loop roots outside the unit circle by the winding number of chi on the unit circle
 * (the number inside is nOut (d + M) minus it), bisecting every sampled interval until it turns the
 * phase by at most 0.5 radian; and estimates the spectral radius by iterating the recurrence.
 */
export function delayLoopStability(k: LoopKernel, d: number, options: DelayLoopOptions = {}): DelayLoopStability {
  integer("d", d, 0);
  const s = finite("scale", options.scale ?? 1);
  const work = new Float64Array(2 * k.nOut * k.nOut);
  // chi(z) z^{nOut (d + M - 1)} ... is a polynomial of degree nOut (d + M); its winding number W on the
  // unit circle counts its roots inside. chi's own winding is W - nOut (d + M - 1), where the polynomial has
  // all nOut (d + M) of its roots inside when stable: chi then winds nOut times.
  const degree = k.nOut * (d + k.lags);
  // Sample the circle evenly, and bisect any interval whose phase turns by more than 0.5 rad (roots close
  // to the circle turn it quickly), so that the accumulated phase is exact.
  const samples = Math.max(1024, 4 * (d + k.lags));
  const at = (t: number) => characteristic(k, d, s, t, work);
  const turn = (a: [number, number], b: [number, number]) => Math.atan2(a[0] * b[1] - a[1] * b[0], a[0] * b[0] + a[1] * b[1]);
  const phase = (t0: number, t1: number, a: [number, number], b: [number, number], depth: number): number => {
    const dphi = turn(a, b);
    if (Math.abs(dphi) <= 0.5 || depth >= 40) return dphi;
    const tm = (t0 + t1) / 2;
    const m = at(tm);
    return phase(t0, tm, a, m, depth + 1) + phase(tm, t1, m, b, depth + 1);
  };
  let total = 0;
  let prev = at(0);
  for (let j = 1; j <= samples; j++) {
    const t1 = (2 * Math.PI * j) / samples;
    const q = at(t1);
    total += phase((2 * Math.PI * (j - 1)) / samples, t1, prev, q, 0);
    prev = q;
  }
  const winding = Math.round(total / (2 * Math.PI));
  // chi(z) = det[(z - c) I + ...]: z^{nOut(d+M-1)} chi(z) is a polynomial in z of degree nOut (d + M) with
  // leading term z^{nOut (d + M)}; its roots inside number winding + nOut (d + M - 1).
  const inside = winding + k.nOut * (d + k.lags - 1);
  const rootsOutside = degree - inside;
  let radius = NaN;
  if (options.radius ?? true) radius = loopRadius(k, d, s, options.rng ?? Rng.seeded(0, "stability"));
  return { delay: d, scale: s, rootsOutside, stable: rootsOutside <= 0, radius };
}

/** Spectral radius of the loop's recurrence by iterating it from a random history (power iteration). */
function loopRadius(k: LoopKernel, d: number, s: number, rng: Rng): number {
  const { nOut, lags, H, carry } = k;
  const n2 = nOut * nOut;
  const W = d + lags + 1; // history window
  const steps = Math.max(4000, 40 * W);
  const len = steps + W + 1;
  const e = new Float64Array(len * nOut);
  for (let i = 0; i < W * nOut; i++) e[i] = rng.normal();
  let logScale = 0;
  const logAt: number[] = [];
  for (let t = W - 1; t < len - 1; t++) {
    // e_{t+1} = c e_t - s sum_m H_m e_{t-d-m}
    for (let o = 0; o < nOut; o++) {
      let acc = carry * e[t * nOut + o];
      for (let m = 0; m < lags; m++) {
        const src = t - d - m;
        if (src < 0) break;
        for (let q = 0; q < nOut; q++) acc -= s * H[m * n2 + o * nOut + q] * e[src * nOut + q];
      }
      e[(t + 1) * nOut + o] = acc;
    }
    // Renormalise the whole history window now and then, keeping track of the scale.
    if ((t - W + 1) % W === W - 1) {
      let n = 0;
      for (let i = (t + 2 - W) * nOut; i < (t + 2) * nOut; i++) n += e[i] * e[i];
      n = Math.sqrt(n);
      if (n > 0 && Number.isFinite(n)) {
        for (let i = (t + 2 - W) * nOut; i < (t + 2) * nOut; i++) e[i] /= n;
        logScale += Math.log(n);
      }
      logAt.push(logScale);
    }
  }
  // Growth per step over the second half of the windows.
  const n = logAt.length;
  if (n < 4) return NaN;
  const h = Math.floor(n / 2);
  return Math.exp((logAt[n - 1] - logAt[h - 1]) / ((n - h) * W));
}

/** Options of `gainMargin`. */
export interface GainMarginOptions {
  /** Smallest and largest scales searched (default 0.01 and 100). */
  range?: [number, number];
  /** Points of the log-spaced scan before bisection (default 41). */
  points?: number;
  /** Relative precision of the bisection (default 1e-3). */
  precision?: number;
}

/**
 * The gain margin at delay d: the largest s such that the loop with the feedback scaled by s' is stable for
 * every s' on the scan up to s (so 1.3 means the feedback could be 30% stronger before the delayed loop
 * goes unstable; below 1, the loop with the network's own feedback is unstable). 0 if even the smallest
 * scale is unstable; the range's top (Infinity) if none is unstable.
 */
export function gainMargin(k: LoopKernel, d: number, options: GainMarginOptions = {}): number {
  const [lo, hi] = options.range ?? [0.01, 100];
  positive("range[0]", lo);
  if (!(hi > lo)) throw new ParameterError("range", `must be increasing, got [${lo}, ${hi}]`);
  const points = integer("points", options.points ?? 41, 2);
  const prec = positive("precision", options.precision ?? 1e-3);
  const stable = (s: number) => delayLoopStability(k, d, { scale: s, radius: false }).stable;
  let prev = 0;
  for (let i = 0; i < points; i++) {
    const s = lo * Math.pow(hi / lo, i / (points - 1));
    if (!stable(s)) {
      if (i === 0) return 0;
      let a = prev;
      let b = s;
      while ((b - a) / a > prec) {
        const m = Math.sqrt(a * b);
        if (stable(m)) a = m;
        else b = m;
      }
      return a;
    }
    prev = s;
  }
  return Infinity;
}

/** The first delay d in 0..maxDelay at which the loop (feedback scale 1) is unstable; Infinity if none. */
export function firstUnstableDelay(k: LoopKernel, maxDelay = 200): number {
  integer("maxDelay", maxDelay, 0);
  for (let d = 0; d <= maxDelay; d++) if (!delayLoopStability(k, d, { radius: false }).stable) return d;
  return Infinity;
}

/**
 * The change in W_rec that one RFLO trial makes along a rollout (SPEC §6.3, with the weights held fixed
 * over the trial): lr sum_k diag(W_fb e_{k+1}) P_k, with the eligibility trace
 * P_k = a relu'(x_{k+1}) r_k^T + (1-a) P_{k-1} (P_{-1} = 0), the current error e_{k+1} and W_fb without the
 * mask. Trial b of the rollout; [N, N] row-major (post, pre).
 */
export function rfloControlUpdate(net: Network, ro: Rollout, b = 0, lr = 1): Float64Array {
  const { N, nOut, dt, tau } = net.config;
  integer("b", b, 0, ro.B - 1);
  const alpha = dt / tau;
  const { wFb } = net.params;
  const B = ro.B;
  const P = new Float64Array(N * N);
  const dW = new Float64Array(N * N);
  const s = new Float64Array(N);
  for (let k = 0; k < ro.T; k++) {
    const x1 = ro.x.subarray(((k + 1) * B + b) * N, ((k + 1) * B + b + 1) * N);
    const r0 = ro.r.subarray((k * B + b) * N, (k * B + b + 1) * N);
    const e1 = ro.e.subarray(((k + 1) * B + b) * nOut, ((k + 1) * B + b + 1) * nOut);
    for (let i = 0; i < N; i++) {
      let v = 0;
      for (let o = 0; o < nOut; o++) v += wFb[i * nOut + o] * e1[o];
      s[i] = v;
    }
    for (let i = 0; i < N; i++) {
      const row = i * N;
      const post = x1[i] > 0 ? alpha : 0;
      for (let j = 0; j < N; j++) {
        const p = (1 - alpha) * P[row + j] + post * r0[j];
        P[row + j] = p;
        dW[row + j] += lr * s[i] * p;
      }
    }
  }
  return dW;
}

/** Options of `learningMap`. */
export interface LearningMapOptions {
  /** Control input on during learning (RFLO+c) or off (RFLO). */
  control: boolean;
  /** Feedback delay d of the control input (default the network's fbDelay). */
  delay?: number;
  /** Trials of the rollout (targets) in the map (default all). */
  trials?: number[];
}

/** The linearised trial-to-trial learning map of RFLO (module comment of `learningMap`). */
export interface LearningMap {
  /** Size of the error vector: trials x T x nOut. */
  dim: number;
  /** Trials (targets) in the map. */
  trials: number[];
  /** [dim, dim] row-major M: one RFLO trial on every target at lr eta changes the errors by eta M e. */
  M: Float64Array;
}

/**
 * The RFLO learning loop linearised around a rollout (issue 25): the errors e (e_1..e_T of each chosen trial)
 * drive an RFLO update of W_rec (`rfloControlUpdate`: eta sum_k diag(W_fb e_{k+1}) P_k); to first order that
 * update adds to trial j's drive at step n the input eta sum_k (W_fb e_{k+1}) o (P_k r^j_n), which, with the
 * relu gains frozen at their mean D, is the input direction D W_fb times
 * u_n = eta sum_k sum_{m<=k} a (1-a)^{k-m} (r_m . r^j_n) e_{k+1}; and that input changes trial j's errors through
 * the linearised loop: open (`control` false) or closed by the control input with the delay d
 * (de_{n+1} = c de_n - sum_m HL_m u_{n-m} - sum_m H_m de_{n-d-m}; HL with input D W_fb, H with input F).
 * The result is a linear map e -> eta M e: learning one trial per target repeats e <- (I + eta M) e, which
 * diverges where I + eta M has an eigenvalue outside the unit circle (`learningGrowth`). Exact to first
 * order when every unit stays active (lib/test/stability.test.ts); with the relu gains averaged, on the
 * 400-unit networks it predicts RFLO without control to diverge at lr 5e-5 where it does not (notebook 11):
 * not a reliable predictor there.
 */
export function learningMap(net: Network, ro: Rollout, options: LearningMapOptions): LearningMap {
  const c = net.config;
  const { N, nOut, dt, tau } = c;
  if (c.errorMode !== "position") throw new ParameterError("errorMode", "the learning map is built for the position error");
  const alpha = dt / tau;
  const T = ro.T;
  const B = ro.B;
  const trials = options.trials ?? Array.from({ length: B }, (_, b) => b);
  trials.forEach((b, i) => integer(`trials[${i}]`, b, 0, B - 1));
  const d = integer("delay", options.delay ?? c.fbDelay, 0);
  const D = reluGains(ro, { trials });
  const wFb = net.params.wFb;
  const DF = new Float64Array(N * nOut);
  for (let i = 0; i < N; i++) for (let o = 0; o < nOut; o++) DF[i * nOut + o] = D[i] * wFb[i * nOut + o];
  const HL = loopKernel(net, D, { input: DF, maxLag: T, tolerance: 1e-14 });
  const H = loopKernel(net, D, { maxLag: T, tolerance: 1e-14 });
  const n2 = nOut * nOut;
  const tap = (k: LoopKernel, m: number, o: number, q: number) => (m < k.lags ? k.H[m * n2 + o * nOut + q] : 0);
  const carry = H.carry;
  // Lifted response of e_1..e_T to inputs u_0..u_{T-1} (direction D W_fb), [T nOut, T nOut]:
  // Lf[(n, o), (j, q)] = d e_{n+1, o} / d u_{j, q}.
  const TO = T * nOut;
  const Lf = new Float64Array(TO * TO);
  const de = new Float64Array((T + 1) * nOut);
  for (let j = 0; j < T; j++) {
    for (let q = 0; q < nOut; q++) {
      de.fill(0);
      for (let n = 0; n < T; n++) {
        for (let o = 0; o < nOut; o++) {
          let v = carry * de[n * nOut + o];
          if (n >= j) v -= tap(HL, n - j, o, q);
          if (options.control) {
            // eps_k = E[k - d]: the error of step k - d >= 1 (E[0] = 0 and eps = 0 before d are constants).
            for (let m = 0; m <= n; m++) {
              const src = n - m - d;
              if (src < 1) break;
              for (let p = 0; p < nOut; p++) v -= tap(H, m, o, p) * de[src * nOut + p];
            }
          }
          de[(n + 1) * nOut + o] = v;
        }
      }
      for (let n = 0; n < T; n++) for (let o = 0; o < nOut; o++) Lf[(n * nOut + o) * TO + j * nOut + q] = de[(n + 1) * nOut + o];
    }
  }
  // M[(ti, n, o), (tj, k, p)] = sum_j Lf_ti[(n,o),(j,p')] Wt[j, k] delta(p', p), with
  // Wt[j, k] = sum_{m<=k} a (1-a)^{k-m} (r^{tj}_m . r^{ti}_j): the update on trial tj's error e_{k+1}.
  const nt = trials.length;
  const dim = nt * TO;
  const M = new Float64Array(dim * dim);
  const Wt = new Float64Array(T * T);
  const G = new Float64Array(T * T);
  for (let ai = 0; ai < nt; ai++) {
    const ti = trials[ai];
    for (let aj = 0; aj < nt; aj++) {
      const tj = trials[aj];
      // G[m, j] = r^{tj}_m . r^{ti}_j
      for (let m = 0; m < T; m++) {
        const rm = ro.r.subarray((m * B + tj) * N, (m * B + tj + 1) * N);
        for (let j = 0; j < T; j++) {
          const rj = ro.r.subarray((j * B + ti) * N, (j * B + ti + 1) * N);
          let s = 0;
          for (let i = 0; i < N; i++) s += rm[i] * rj[i];
          G[m * T + j] = s;
        }
      }
      // Wt[j, k] = a sum_{m<=k} (1-a)^{k-m} G[m, j], by the recursion over k.
      for (let j = 0; j < T; j++) {
        let acc = 0;
        for (let k = 0; k < T; k++) {
          acc = (1 - alpha) * acc + alpha * G[k * T + j];
          Wt[j * T + k] = acc;
        }
      }
      // Block (ai, aj): [TO, TO], rows (n, o), cols (k, p): sum_j Lf[(n,o),(j,p)] Wt[j,k].
      for (let n = 0; n < T; n++) {
        for (let o = 0; o < nOut; o++) {
          const row = (ai * TO + n * nOut + o) * dim + aj * TO;
          const lrow = (n * nOut + o) * TO;
          for (let j = 0; j <= n; j++) {
            for (let p = 0; p < nOut; p++) {
              const l = Lf[lrow + j * nOut + p];
              if (l === 0) continue;
              const wrow = j * T;
              for (let k = 0; k < T; k++) M[row + k * nOut + p] += l * Wt[wrow + k];
            }
          }
        }
      }
    }
  }
  return { dim, trials, M };
}

/** Options of `learningGrowth`. */
export interface LearningGrowthOptions {
  /** Iterations of e <- (I + eta M) e (default 3000). */
  iterations?: number;
  /** Stream for the starting vector. */
  rng?: Rng;
}

/**
 * The growth per application of I + lr M (the spectral radius, by power iteration with the growth measured
 * over the second half of the iterations): above 1, the linearised learning loop diverges at that rate.
 */
export function learningGrowth(map: LearningMap, lr: number, options: LearningGrowthOptions = {}): number {
  finite("lr", lr);
  const its = integer("iterations", options.iterations ?? 3000, 2);
  const rng = options.rng ?? Rng.seeded(0, "learning-growth");
  const { dim, M } = map;
  let v = new Float64Array(dim);
  for (let i = 0; i < dim; i++) v[i] = rng.normal();
  let w = new Float64Array(dim);
  let logSum = 0;
  let logHalf = 0;
  const half = Math.floor(its / 2);
  for (let t = 0; t < its; t++) {
    for (let i = 0; i < dim; i++) {
      let s = 0;
      const row = i * dim;
      for (let j = 0; j < dim; j++) s += M[row + j] * v[j];
      w[i] = v[i] + lr * s;
    }
    let n = 0;
    for (let i = 0; i < dim; i++) n += w[i] * w[i];
    n = Math.sqrt(n);
    logSum += Math.log(n);
    for (let i = 0; i < dim; i++) w[i] /= n;
    [v, w] = [w, v];
    if (t === half - 1) logHalf = logSum;
  }
  return Math.exp((logSum - logHalf) / (its - half));
}
