/**
 * Sharpness of a solution: the top eigenvalues of the Hessian of the test loss with respect to W_rec
 * (an extension after Liu et al., NeurIPS 2022, who found that biologically plausible temporal credit
 * assignment rules reach sharper minima than BPTT).
 *
 * The loss is the task loss of `network.taskLoss` on a batch with feedback off (or on, with the fed-back
 * error replayed as an external input):
 *
 *   L(W) = sum_{k=1..T} sum_b |e_{k,b}|^2 / ((T + 1) B nOut)
 *
 * `TestLossHessian` gives L, dL/dW and exact Hessian-vector products H v by forward-over-reverse
 * differentiation through the whole trial (a tangent pass for the direction v, then the reverse pass
 * and its tangent; ReLU's second derivative is zero almost everywhere). One product costs about two
 * gradients; all in float64, every trial of the batch at once. `sharpness` runs Lanczos on it.
 */
import { gemm } from "../kernels";
import { Network, cloneNetwork, simulate, taskLoss, assertPaperLoop } from "../network";
import { Rng } from "../rng";
import { TrialBatch } from "../task";
import { ParameterError, integer } from "../validate";
import { topEigenvalues } from "./krylov";

/** How the test loss is evaluated: initial states and the control input. */
export interface TestLossOptions {
  /** Initial pre-activations [B, N]; otherwise drawn from `init` (default: the adapter's test states, stream "eval-init" of seed 1). */
  x0?: ArrayLike<number>;
  /** Stream for the initial states when x0 is not given (default: stream "eval-init" of seed 1). */
  init?: Rng;
  /** Control input on, with the error it fed back replayed as an external input (default false: the test with feedback off). */
  feedback?: boolean;
}

/**
 * The test loss L(W_rec) of a batch (module comment) at fixed weights: `gradient()` and exact
 * Hessian-vector products `hvp(v)` on vectors of length dim = N², in float64.
 */
export class TestLossHessian {
  /** Recurrent units. */
  readonly N: number;
  /** N², the length of W_rec and of every vector the products take. */
  readonly dim: number;
  /** L at these weights (equal to network.taskLoss of the same rollout). */
  readonly loss: number;
  private readonly B: number;
  private readonly T: number;
  private readonly nOut: number;
  private readonly alpha: number;
  private readonly dt: number;
  private readonly position: boolean;
  private readonly c: number;
  private readonly W: Float64Array;
  private readonly Wout: Float64Array;
  /** [T+1, B, N] rates and relu' masks; [T+1, B, nOut] errors. */
  private readonly R: Float64Array;
  private readonly D: Float64Array;
  private readonly E: Float64Array;
  private gradCache?: Float64Array;
  private gaCache?: Float64Array;

  /**
   * @param net the network (copied to float64; its W_rec is the point where derivatives are taken)
   * @param batch the test trials
   * @param options initial states and the control input
   * @throws ParameterError for a network without recurrence
   */
  constructor(net: Network, batch: TrialBatch, options: TestLossOptions = {}) {
    assertPaperLoop(net.config, "analysis.TestLossHessian");
    const n64 = cloneNetwork(net, "float64");
    const cfg = n64.config;
    if (!cfg.recurrent) throw new ParameterError("net", "has no recurrence (recurrent: false): W_rec does not enter the loss");
    const feedback = options.feedback ?? false;
    const init = options.x0 ? undefined : options.init ?? Rng.seeded(1, "eval-init");
    const first = simulate(n64, batch, { feedback, ...(options.x0 ? { x0: options.x0 } : { init }) });
    // With feedback on, replay what it fed back, so that the loss is a function of W through the network only.
    const ro = feedback ? simulate(n64, batch, { feedback: true, x0: first.x.subarray(0, batch.B * cfg.N), replayFeedback: first.eps }) : first;
    this.N = cfg.N;
    this.dim = cfg.N * cfg.N;
    this.B = batch.B;
    this.T = batch.T;
    this.nOut = cfg.nOut;
    this.alpha = cfg.dt / cfg.tau;
    this.dt = cfg.dt;
    this.position = cfg.errorMode === "position";
    this.c = 1 / ((batch.T + 1) * batch.B * cfg.nOut);
    this.W = n64.params.wRec as Float64Array;
    this.Wout = n64.params.wOut as Float64Array;
    this.R = Float64Array.from(ro.r);
    this.D = Float64Array.from(ro.x, (v) => (v > 0 ? 1 : 0));
    this.E = Float64Array.from(ro.e);
    this.loss = taskLoss(ro);
  }

  /**
   * Reverse pass from the error adjoints `seedE` ([T+1, B, nOut], dL/de_k before the integrator's
   * accumulation): fills ga [T, B, N] with the adjoints of the drives a_0..a_{T-1}. With `tangent`, also
   * the tangent adjoints for the direction V (seeded by tangent.seedE, plus V^T ga through the drives).
   */
  private reverse(seedE: Float64Array, ga: Float64Array, tangent?: { seedE: Float64Array; ga: Float64Array; V: Float64Array }): void {
    const { N, B, T, nOut, alpha, W, Wout, D } = this;
    const BN = B * N;
    const BO = B * nOut;
    const gv = new Float64Array(BO);
    const gvt = new Float64Array(BO);
    const accE = new Float64Array(BO); // the integrator's running adjoint of e
    const accEt = new Float64Array(BO);
    const gr = new Float64Array(BN);
    const grt = new Float64Array(BN);
    let gx = new Float64Array(BN);
    let gxNext = new Float64Array(BN);
    let gxt = new Float64Array(BN);
    let gxtNext = new Float64Array(BN);
    for (let j = T; j >= 1; j--) {
      // e_j depends on v_j: position e_j = e_{j-1} + dt (v*_{j-1} - v_j); velocity e_j = v*_{j-1} - v_j.
      for (let i = 0; i < BO; i++) {
        if (this.position) {
          accE[i] += seedE[j * BO + i];
          gv[i] = -this.dt * accE[i];
          if (tangent) {
            accEt[i] += tangent.seedE[j * BO + i];
            gvt[i] = -this.dt * accEt[i];
          }
        } else {
          gv[i] = -seedE[j * BO + i];
          if (tangent) gvt[i] = -tangent.seedE[j * BO + i];
        }
      }
      // g_r_j = W_out^T g_v_j + W^T g_a_j (the drive of step j uses r_j, for j <= T-1)
      gemm(false, false, B, N, nOut, 1, gv, nOut, Wout, N, 0, gr, N);
      if (j <= T - 1) gemm(false, false, B, N, N, 1, ga.subarray(j * BN, (j + 1) * BN), N, W, N, 1, gr, N);
      for (let i = 0; i < BN; i++) {
        const g = D[j * BN + i] * gr[i] + (1 - alpha) * gxNext[i];
        gx[i] = g;
        ga[(j - 1) * BN + i] = alpha * g;
      }
      [gx, gxNext] = [gxNext, gx];
      if (tangent) {
        gemm(false, false, B, N, nOut, 1, gvt, nOut, Wout, N, 0, grt, N);
        if (j <= T - 1) {
          gemm(false, false, B, N, N, 1, tangent.ga.subarray(j * BN, (j + 1) * BN), N, W, N, 1, grt, N);
          gemm(false, false, B, N, N, 1, ga.subarray(j * BN, (j + 1) * BN), N, tangent.V, N, 1, grt, N);
        }
        for (let i = 0; i < BN; i++) {
          const g = D[j * BN + i] * grt[i] + (1 - alpha) * gxtNext[i];
          gxt[i] = g;
          tangent.ga[(j - 1) * BN + i] = alpha * g;
        }
        [gxt, gxtNext] = [gxtNext, gxt];
      }
    }
  }

  private seed(E: Float64Array): Float64Array {
    const s = new Float64Array(E.length);
    for (let i = this.B * this.nOut; i < E.length; i++) s[i] = 2 * this.c * E[i];
    return s;
  }

  /** dL/dW, [N, N] row-major like W_rec (a fresh array). */
  gradient(): Float64Array {
    if (!this.gradCache) {
      const { N, B, T } = this;
      const ga = new Float64Array(T * B * N);
      this.reverse(this.seed(this.E), ga);
      const g = new Float64Array(this.dim);
      gemm(true, false, N, N, T * B, 1, ga, N, this.R, N, 0, g, N); // sum_j ga_j^T r_j, j = 0..T-1
      this.gradCache = g;
      this.gaCache = ga;
    }
    return Float64Array.from(this.gradCache);
  }

  private checkVector(name: string, v: Float64Array): void {
    if (!(v instanceof Float64Array) || v.length !== this.dim) throw new ParameterError(name, `must be a Float64Array of N*N = ${this.dim} entries`);
  }

  /** out = H v, the exact Hessian of L with respect to W (flattened row-major) applied to v. */
  hvp(v: Float64Array, out: Float64Array): void {
    this.checkVector("v", v);
    this.checkVector("out", out);
    if (!this.gaCache) this.gradient();
    const { N, B, T, nOut, alpha, W, Wout, R, D } = this;
    const BN = B * N;
    const BO = B * nOut;
    // Tangent forward: a'_j = V r_j + W r'_j, x'_{j+1} = (1-a) x'_j + a a'_j, r' = D x', e' from v' = W_out r'.
    const Rt = new Float64Array((T + 1) * BN);
    const Et = new Float64Array((T + 1) * BO);
    const xt = new Float64Array(BN);
    const at = new Float64Array(BN);
    const vt = new Float64Array(BO);
    for (let j = 0; j < T; j++) {
      gemm(false, true, B, N, N, 1, R.subarray(j * BN, (j + 1) * BN), N, v, N, 0, at, N);
      if (j > 0) gemm(false, true, B, N, N, 1, Rt.subarray(j * BN, (j + 1) * BN), N, W, N, 1, at, N);
      for (let i = 0; i < BN; i++) {
        xt[i] = (1 - alpha) * xt[i] + alpha * at[i];
        Rt[(j + 1) * BN + i] = D[(j + 1) * BN + i] * xt[i];
      }
      gemm(false, true, B, nOut, N, 1, Rt.subarray((j + 1) * BN, (j + 2) * BN), N, Wout, N, 0, vt, nOut);
      for (let i = 0; i < BO; i++) Et[(j + 1) * BO + i] = this.position ? Et[j * BO + i] - this.dt * vt[i] : -vt[i];
    }
    const ga = new Float64Array(T * BN);
    const gat = new Float64Array(T * BN);
    this.reverse(this.seed(this.E), ga, { seedE: this.seed(Et), ga: gat, V: v });
    // (dL/dW)' = sum_j ga'_j^T r_j + ga_j^T r'_j
    gemm(true, false, N, N, T * B, 1, gat, N, R, N, 0, out, N);
    gemm(true, false, N, N, T * B, 1, ga, N, Rt, N, 1, out, N);
  }
}

/** The top of the test-loss Hessian's spectrum, as `sharpness` returns it. */
export interface SharpnessResult {
  /** The top eigenvalues of H, largest first. */
  eigenvalues: number[];
  /** The smallest Ritz value found (H is indefinite in general; a negative value says so). */
  smallest: number;
  /** The test loss L at these weights. */
  loss: number;
  /** |dL/dW_rec| (Frobenius). */
  gradientNorm: number;
  /** Lanczos iterations run (one Hessian-vector product each). */
  iterations: number;
  /** Whether the top eigenvalues settled within tol. */
  converged: boolean;
}

/**
 * The `count` largest eigenvalues of the test loss's Hessian with respect to W_rec, by Lanczos with full
 * reorthogonalisation on exact Hessian-vector products. Converged when each of them changed by less than
 * `tol` (relative to the largest) over the last iteration.
 */
export function sharpness(net: Network, batch: TrialBatch, options: TestLossOptions & { count?: number; maxIterations?: number; tol?: number; rng?: Rng } = {}): SharpnessResult {
  assertPaperLoop(net.config, "analysis.sharpness");
  const H = new TestLossHessian(net, batch, options);
  const count = integer("count", options.count ?? 5, 1, H.dim);
  const res = topEigenvalues((v, out) => H.hvp(v, out), H.dim, count, options);
  const g = H.gradient();
  return { ...res, loss: H.loss, gradientNorm: Math.sqrt(g.reduce((s, x) => s + x * x, 0)) };
}
