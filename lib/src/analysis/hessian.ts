/**
 * Second-order information of one step's loss with respect to W_rec (SPEC §7.4, result F5b), without
 * forming the Hessian. For one trial, step k and fixed weights W (no learning within the pass):
 *
 *   l(W) = |e_{k+1}|^2 / 2,  the trajectory x_0 -> x_{k+1} recomputed with W, the fed-back error replayed
 *   (detached, as during adaptation), the initial state given.
 *
 * `gradient()` is dl/dW (online BPTT's step gradient, at weights that do not move within the trial).
 * `hvp(v)` is the exact Hessian-vector product H v by forward-over-reverse differentiation: a tangent
 * pass (x', r', e' for the direction v) followed by the reverse pass and its own tangent (ReLU has zero
 * second derivative almost everywhere, so only the bilinear terms W r and W_out r contribute).
 * `gaussNewton(v)` is J^T J v with J = de_{k+1}/dW (positive semi-definite, rank <= nOut).
 * All in float64; one product costs about two gradients.
 */
import { gemm } from "../kernels";
import { Network, cloneNetwork, simulate, assertPaperLoop } from "../network";
import { TrialBatch, selectTrials } from "../task";
import { ParameterError, integer } from "../validate";

/** One trial's step loss l = |e_{k+1}|^2 / 2 as a function of W_rec: what `StepHessian` differentiates. */
export interface StepProblem {
  /** The network; its W_rec is the point where derivatives are taken (copied to float64). */
  net: Network;
  /** The trial (batch element `trial` of `batch`). */
  batch: TrialBatch;
  /** Index of the trial in `batch` (default 0). */
  trial?: number;
  /** Initial pre-activations of that trial [N]. */
  x0: ArrayLike<number>;
  /** The fed-back error it received, [T, nOut] (a rollout's eps of that trial); ignored when feedback is off. */
  eps: ArrayLike<number>;
  /** Whether the replayed error enters as the control input (as in the rollout it came from). */
  feedback: boolean;
  /** The step: the loss is that of e_{k+1}. */
  k: number;
}

/**
 * Derivatives of one step's loss with respect to W_rec (module comment): `gradient()`, the Hessian-vector
 * product `hvp(v)` and the Gauss-Newton product `gaussNewton(v)`, on vectors of length dim = N².
 */
export class StepHessian {
  /** Recurrent units. */
  readonly N: number;
  /** N², the length of W_rec and of every vector the products take. */
  readonly dim: number;
  /** The step: the loss is that of e_{k+1}. */
  readonly k: number;
  /** l = |e_{k+1}|^2 / 2 at these weights. */
  readonly loss: number;
  private readonly nOut: number;
  private readonly alpha: number;
  private readonly position: boolean;
  private readonly dt: number;
  private readonly W: Float64Array;
  private readonly Wout: Float64Array;
  /** [k+2, N] rates r_0..r_{k+1} and relu'(x_j) masks d_0..d_{k+1} of the trial. */
  private readonly R: Float64Array;
  private readonly D: Float64Array;
  private readonly e: Float64Array;
  /** Reverse-pass adjoints of the drives a_0..a_k, [k+1, N], for the current loss. */
  private readonly ga: Float64Array;
  private gradCache?: Float64Array;

  constructor(p: StepProblem) {
    assertPaperLoop(p.net.config, "analysis.StepHessian");
    const net64 = cloneNetwork(p.net, "float64");
    const c = net64.config;
    const T = p.batch.T;
    this.k = integer("k", p.k, 0, T - 1);
    const b = integer("trial", p.trial ?? 0, 0, p.batch.B - 1);
    if (p.x0.length !== c.N) throw new ParameterError("x0", `must have N = ${c.N} entries, got ${p.x0.length}`);
    if (p.feedback && p.eps.length !== T * c.nOut) throw new ParameterError("eps", `must have T*nOut = ${T * c.nOut} entries, got ${p.eps.length}`);
    this.N = c.N;
    this.nOut = c.nOut;
    this.dim = c.N * c.N;
    this.alpha = c.dt / c.tau;
    this.dt = c.dt;
    this.position = c.errorMode === "position";
    if (!c.recurrent) throw new ParameterError("net", "has no recurrence (recurrent: false): W_rec does not enter the loss");
    this.W = net64.params.wRec as Float64Array;
    this.Wout = net64.params.wOut as Float64Array;
    const one = b === 0 && p.batch.B === 1 ? p.batch : selectTrials(p.batch, [b]);
    const ro = simulate(net64, one, { feedback: p.feedback, x0: p.x0, replayFeedback: p.feedback ? p.eps : new Float64Array(T * c.nOut) });
    const N = c.N;
    const K = this.k;
    this.R = Float64Array.from(ro.r.subarray(0, (K + 2) * N));
    this.D = Float64Array.from(ro.x.subarray(0, (K + 2) * N), (v) => (v > 0 ? 1 : 0));
    this.e = Float64Array.from(ro.e.subarray((K + 1) * c.nOut, (K + 2) * c.nOut));
    this.loss = 0.5 * this.e.reduce((s, v) => s + v * v, 0);
    this.ga = new Float64Array((K + 1) * N);
  }

  /** Reverse pass seeded with the output error adjoint `seed` (= e_{k+1} for the loss): fills `ga` (adjoints of a_0..a_k). */
  private reverse(seed: ArrayLike<number>, ga: Float64Array, tangent?: { ga: Float64Array; seed: ArrayLike<number>; V: Float64Array }): void {
    const { N, nOut, alpha, k, W, Wout, D } = this;
    const scale = this.position ? -this.dt : -1;
    const v = new Float64Array(N); // -dt W_out^T seed
    const vt = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      let s = 0;
      let st = 0;
      for (let o = 0; o < nOut; o++) {
        s += Wout[o * N + i] * seed[o];
        if (tangent) st += Wout[o * N + i] * tangent.seed[o];
      }
      v[i] = scale * s;
      vt[i] = scale * st;
    }
    const gr = new Float64Array(N);
    let gx = new Float64Array(N);
    let gxNext = new Float64Array(N);
    const grt = new Float64Array(N);
    let gxt = new Float64Array(N);
    let gxtNext = new Float64Array(N);
    for (let j = k + 1; j >= 1; j--) {
      const direct = this.position || j === k + 1 ? 1 : 0;
      for (let i = 0; i < N; i++) gr[i] = direct * v[i];
      // g_r_j += W^T g_a_j (the drive of step j uses r_j), for j <= k
      if (j <= k) gemm(false, false, 1, N, N, 1, ga.subarray(j * N, (j + 1) * N), N, W, N, 1, gr, N);
      if (tangent) {
        for (let i = 0; i < N; i++) grt[i] = direct * vt[i];
        if (j <= k) {
          gemm(false, false, 1, N, N, 1, tangent.ga.subarray(j * N, (j + 1) * N), N, W, N, 1, grt, N);
          gemm(false, false, 1, N, N, 1, ga.subarray(j * N, (j + 1) * N), N, tangent.V, N, 1, grt, N);
        }
      }
      for (let i = 0; i < N; i++) {
        const g = D[j * N + i] * gr[i] + (1 - alpha) * gxNext[i];
        gx[i] = g;
        ga[(j - 1) * N + i] = alpha * g;
      }
      if (tangent) {
        for (let i = 0; i < N; i++) {
          const g = D[j * N + i] * grt[i] + (1 - alpha) * gxtNext[i];
          gxt[i] = g;
          tangent.ga[(j - 1) * N + i] = alpha * g;
        }
        const t2 = gxt;
        gxt = gxtNext;
        gxtNext = t2;
      }
      const t = gx;
      gx = gxNext;
      gxNext = t;
    }
  }

  /** dl/dW, [N, N] row-major like W_rec (a fresh array). */
  gradient(): Float64Array {
    if (!this.gradCache) {
      this.reverse(this.e, this.ga);
      const g = new Float64Array(this.dim);
      // dl/dW = sum_j ga_j r_j^T, j = 0..k
      gemm(true, false, this.N, this.N, this.k + 1, 1, this.ga, this.N, this.R, this.N, 0, g, this.N);
      this.gradCache = g;
    }
    return Float64Array.from(this.gradCache);
  }

  /** Tangent of the forward pass in direction V: r'_0..r'_{k+1} [k+2, N] and e'_{k+1} [nOut]. */
  private tangent(V: Float64Array): { Rt: Float64Array; et: Float64Array } {
    const { N, nOut, alpha, k, W, Wout, R, D } = this;
    const Rt = new Float64Array((k + 2) * N);
    const xt = new Float64Array(N);
    const at = new Float64Array(N);
    const et = new Float64Array(nOut);
    const scale = this.position ? -this.dt : -1;
    for (let j = 0; j <= k; j++) {
      // a'_j = V r_j + W r'_j
      gemm(false, true, 1, N, N, 1, R.subarray(j * N, (j + 1) * N), N, V, N, 0, at, N);
      if (j > 0) gemm(false, true, 1, N, N, 1, Rt.subarray(j * N, (j + 1) * N), N, W, N, 1, at, N);
      for (let i = 0; i < N; i++) {
        xt[i] = (1 - alpha) * xt[i] + alpha * at[i];
        Rt[(j + 1) * N + i] = D[(j + 1) * N + i] * xt[i];
      }
      if (this.position || j === k) {
        for (let o = 0; o < nOut; o++) {
          let s = 0;
          for (let i = 0; i < N; i++) s += Wout[o * N + i] * Rt[(j + 1) * N + i];
          et[o] = (this.position ? et[o] : 0) + scale * s;
        }
      }
    }
    return { Rt, et };
  }

  private checkVector(name: string, v: Float64Array): void {
    if (!(v instanceof Float64Array) || v.length !== this.dim) throw new ParameterError(name, `must be a Float64Array of N*N = ${this.dim} entries`);
  }

  /** out = H v, the exact Hessian of l with respect to W (flattened row-major) applied to v. */
  hvp(v: Float64Array, out: Float64Array): void {
    this.checkVector("v", v);
    this.checkVector("out", out);
    if (!this.gradCache) this.gradient();
    const { N, k } = this;
    const { Rt, et } = this.tangent(v);
    const gat = new Float64Array((k + 1) * N);
    const ga = new Float64Array((k + 1) * N);
    this.reverse(this.e, ga, { ga: gat, seed: et, V: v });
    // (dl/dW)' = sum_j ga'_j r_j^T + ga_j r'_j^T
    gemm(true, false, N, N, k + 1, 1, gat, N, this.R, N, 0, out, N);
    gemm(true, false, N, N, k + 1, 1, ga, N, Rt, N, 1, out, N);
  }

  /** out = J^T J v, the Gauss-Newton matrix of l (J = de_{k+1}/dW) applied to v. */
  gaussNewton(v: Float64Array, out: Float64Array): void {
    this.checkVector("v", v);
    this.checkVector("out", out);
    const { N, k } = this;
    const { et } = this.tangent(v);
    const ga = new Float64Array((k + 1) * N);
    this.reverse(et, ga);
    gemm(true, false, N, N, k + 1, 1, ga, N, this.R, N, 0, out, N);
  }
}
