/**
 * The step-to-step Jacobian of the network's state along a rollout (SPEC §7.7, result F4a). The paper's
 * definition is NOT FOUND; three are offered (DEVIATIONS.md), with D_k = diag(relu'(x_k)), a = dt/tau,
 * F = M o W_fb, f = 1 when the rollout's feedback is on (0 when off, and at k = 0, where eps_0 = E[0] = 0):
 *
 *   "open"     J_x = dx_{k+1}/dx_k with the error state held fixed:   (1-a) I + a W_rec D_k
 *   "closed"   the whole closed loop over z = (x, e): x_{k+1} = (1-a) x_k + a (W_rec r_k + f F e_k + ...),
 *              e_{k+1} = e_k - dt W_out r_{k+1} + ...  (velocity error: e_{k+1} = -W_out r_{k+1} + ...)
 *   "reduced"  x only, with e_k a function of x_k through its last increment (SPEC §7.7's formula):
 *              (1-a) I + a (W_rec - f dt F W_out) D_k
 *
 * J_k maps the state at step k to step k+1 (k = 0..T-1). Spectral norms come from Lanczos on
 * J^T J (all trials at once, as matrix products), Frobenius norms from closed forms; the spectral norm of
 * the product J_k J_{k-1} ... J_{k-s+1} measures how strongly step k+1 still depends on step k-s+1.
 * Only feedback delay 0 is supported by the closed-loop kinds (a delay would add past errors to the state).
 */
import { gemm } from "../kernels";
import { Network, Rollout, effectiveFeedback, assertPaperLoop } from "../network";
import { Rng } from "../rng";
import { tridiagonalEigenvalue } from "./krylov";
import { ParameterError, integer, oneOf, positive } from "../validate";

/** The three definitions of the step Jacobian (module comment). */
export const JACOBIAN_KINDS = ["open", "closed", "reduced"] as const;
/** A Jacobian definition: "open", "closed" or "reduced". */
export type JacobianKind = (typeof JACOBIAN_KINDS)[number];

/** Float64 copies of what the Jacobians need, and the operator J_k (and J_k^T) on B row vectors at once. */
export class StepJacobian {
  /** Size of the state J_k acts on: N, or N + nOut for "closed". */
  readonly dim: number;
  /** Recurrent units. */
  readonly N: number;
  /** Trials in the rollout. */
  readonly B: number;
  /** Steps in the rollout (J_k for k = 0..T-1). */
  readonly T: number;
  private readonly nOut: number;
  private readonly alpha: number;
  private readonly g: number;
  private readonly position: boolean;
  private readonly wRec: Float64Array;
  private readonly wOut: Float64Array;
  private readonly F: Float64Array;
  /** [T+1, B, N] relu'(x_k) as 0/1. */
  private readonly d: Float64Array;
  private readonly fb: number;
  private readonly tmp: Float64Array;
  private readonly tmpO: Float64Array;
  private readonly tmpO2: Float64Array;

  /**
   * @param net the network the rollout ran
   * @param ro the rollout along which the Jacobians are taken
   * @param kind the Jacobian definition
   * @throws ParameterError for "closed" or "reduced" with a feedback delay
   */
  constructor(net: Network, ro: Rollout, readonly kind: JacobianKind) {
    assertPaperLoop(net.config, "analysis.StepJacobian");
    oneOf("kind", kind, JACOBIAN_KINDS);
    const c = net.config;
    if (ro.N !== c.N || ro.nOut !== c.nOut) throw new ParameterError("ro", "rollout does not belong to this network");
    if (kind !== "open" && c.fbDelay !== 0 && ro.feedback) throw new ParameterError("kind", `"${kind}" needs fbDelay 0 (a delayed error would be part of the state), got fbDelay ${c.fbDelay}`);
    this.N = c.N;
    this.nOut = c.nOut;
    this.B = ro.B;
    this.T = ro.T;
    this.dim = kind === "closed" ? c.N + c.nOut : c.N;
    this.alpha = c.dt / c.tau;
    this.position = c.errorMode === "position";
    this.g = this.position ? c.dt : 1;
    this.wRec = c.recurrent ? Float64Array.from(net.params.wRec) : new Float64Array(c.N * c.N);
    this.wOut = Float64Array.from(net.params.wOut);
    this.F = Float64Array.from(effectiveFeedback(net));
    this.fb = ro.feedback ? 1 : 0;
    this.d = new Float64Array(ro.x.length);
    for (let i = 0; i < ro.x.length; i++) this.d[i] = ro.x[i] > 0 ? 1 : 0;
    this.tmp = new Float64Array(this.B * c.N);
    this.tmpO = new Float64Array(this.B * c.nOut);
    this.tmpO2 = new Float64Array(this.B * c.nOut);
  }

  /** The feedback coupling at step k: f, or 0 at k = 0 (eps_0 = E[0] = 0 is a constant). */
  private fbAt(k: number): number {
    return k >= 1 ? this.fb : 0;
  }

  private checkStep(k: number): void {
    integer("k", k, 0, this.T - 1);
  }

  /** U = J_k V for B row vectors V [B, dim] (row b uses trial b's states). */
  apply(k: number, V: Float64Array, U: Float64Array): void {
    this.checkStep(k);
    const { N, B, nOut, alpha, dim } = this;
    const DV = this.tmp;
    const dk = this.d.subarray(k * B * N, (k + 1) * B * N);
    for (let b = 0; b < B; b++) for (let i = 0; i < N; i++) DV[b * N + i] = dk[b * N + i] * V[b * dim + i];
    // x part: (1-a) v + a W_rec D_k v
    gemm(false, true, B, N, N, alpha, DV, N, this.wRec, N, 0, this.tmp2(), N);
    const W = this.tmp2();
    for (let b = 0; b < B; b++) for (let i = 0; i < N; i++) U[b * dim + i] = (1 - alpha) * V[b * dim + i] + W[b * N + i];
    const f = this.fbAt(k);
    if (this.kind === "reduced" && f) {
      // - a f g F W_out D_k v
      gemm(false, true, B, nOut, N, 1, DV, N, this.wOut, N, 0, this.tmpO, nOut);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < N; i++) {
          let s = 0;
          for (let o = 0; o < nOut; o++) s += this.F[i * nOut + o] * this.tmpO[b * nOut + o];
          U[b * dim + i] -= alpha * f * this.g * s;
        }
      }
    }
    if (this.kind === "closed") {
      if (f) {
        for (let b = 0; b < B; b++) {
          for (let i = 0; i < N; i++) {
            let s = 0;
            for (let o = 0; o < nOut; o++) s += this.F[i * nOut + o] * V[b * dim + N + o];
            U[b * dim + i] += alpha * f * s;
          }
        }
      }
      // e part: (e carried) - g W_out D_{k+1} u_x
      const dk1 = this.d.subarray((k + 1) * B * N, (k + 2) * B * N);
      for (let b = 0; b < B; b++) {
        for (let o = 0; o < nOut; o++) {
          let s = 0;
          for (let i = 0; i < N; i++) s += this.wOut[o * N + i] * dk1[b * N + i] * U[b * dim + i];
          U[b * dim + N + o] = (this.position ? V[b * dim + N + o] : 0) - this.g * s;
        }
      }
    }
  }

  /** W = J_k^T U for B row vectors U [B, dim]. */
  applyT(k: number, U: Float64Array, W: Float64Array): void {
    this.checkStep(k);
    const { N, B, nOut, alpha, dim } = this;
    const f = this.fbAt(k);
    const G = this.tmp; // the x-part adjoint before the leaky step
    if (this.kind === "closed") {
      const dk1 = this.d.subarray((k + 1) * B * N, (k + 2) * B * N);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < N; i++) {
          let s = 0;
          for (let o = 0; o < nOut; o++) s += this.wOut[o * N + i] * U[b * dim + N + o];
          G[b * N + i] = U[b * dim + i] - this.g * dk1[b * N + i] * s;
        }
      }
    } else {
      for (let b = 0; b < B; b++) for (let i = 0; i < N; i++) G[b * N + i] = U[b * dim + i];
    }
    // (1-a) G + a D_k W_rec^T G  (reduced: + a D_k (-f g W_out^T F^T G))
    const R = this.tmp2();
    gemm(false, false, B, N, N, 1, G, N, this.wRec, N, 0, R, N);
    if (this.kind === "reduced" && f) {
      gemm(false, false, B, nOut, N, 1, G, N, this.F, nOut, 0, this.tmpO, nOut);
      gemm(false, false, B, N, nOut, -f * this.g, this.tmpO, nOut, this.wOut, N, 1, R, N);
    }
    const dk = this.d.subarray(k * B * N, (k + 1) * B * N);
    for (let b = 0; b < B; b++) for (let i = 0; i < N; i++) W[b * dim + i] = (1 - alpha) * G[b * N + i] + alpha * dk[b * N + i] * R[b * N + i];
    if (this.kind === "closed") {
      if (f) gemm(false, false, B, nOut, N, alpha * f, G, N, this.F, nOut, 0, this.tmpO2, nOut);
      else this.tmpO2.fill(0);
      for (let b = 0; b < B; b++) for (let o = 0; o < nOut; o++) W[b * dim + N + o] = (this.position ? U[b * dim + N + o] : 0) + this.tmpO2[b * nOut + o];
    }
  }

  private scratch2?: Float64Array;
  private tmp2(): Float64Array {
    return (this.scratch2 ??= new Float64Array(this.B * this.N));
  }

  /** The dense J_k of trial b, [dim, dim] row-major (dim operator applications: for small networks and tests). */
  matrix(k: number, b: number): Float64Array {
    integer("b", b, 0, this.B - 1);
    const { dim, B } = this;
    const J = new Float64Array(dim * dim);
    const V = new Float64Array(B * dim);
    const U = new Float64Array(B * dim);
    for (let j = 0; j < dim; j++) {
      V.fill(0);
      V[b * dim + j] = 1;
      this.apply(k, V, U);
      for (let i = 0; i < dim; i++) J[i * dim + j] = U[b * dim + i];
    }
    return J;
  }

  private columnCache = new Map<number, { colNorm2: Float64Array; diag: Float64Array }>();

  /**
   * Column norms and diagonal of W' = W_rec (- f g F W_out for "reduced"), the matrix in the x-x block
   * (1-a) I + a W' D_k. They depend only on the feedback coupling f, so they are computed once per f.
   */
  private xBlockColumns(f: number): { colNorm2: Float64Array; diag: Float64Array } {
    let c = this.columnCache.get(f);
    if (c) return c;
    const { N, nOut, wRec, wOut, F } = this;
    const colNorm2 = new Float64Array(N);
    const diag = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        let w = wRec[i * N + j];
        if (this.kind === "reduced" && f) {
          let s = 0;
          for (let o = 0; o < nOut; o++) s += F[i * nOut + o] * wOut[o * N + j];
          w -= f * this.g * s;
        }
        colNorm2[j] += w * w;
        if (i === j) diag[i] = w;
      }
    }
    c = { colNorm2, diag };
    this.columnCache.set(f, c);
    return c;
  }

  /** |J_k|_F of every trial, [B], from closed forms (no dense matrix). */
  frobenius(k: number): Float64Array {
    this.checkStep(k);
    const { N, B, nOut, alpha, wRec, wOut, F } = this;
    const f = this.fbAt(k);
    const out = new Float64Array(B);
    const { colNorm2, diag } = this.xBlockColumns(f);
    const dk = this.d.subarray(k * B * N, (k + 1) * B * N);
    for (let b = 0; b < B; b++) {
      let s = N * (1 - alpha) * (1 - alpha);
      for (let j = 0; j < N; j++) {
        if (!dk[b * N + j]) continue;
        s += 2 * alpha * (1 - alpha) * diag[j] + alpha * alpha * colNorm2[j];
      }
      out[b] = s;
    }
    if (this.kind === "closed") {
      const Fn2 = F.reduce((p, v) => p + v * v, 0);
      const dk1 = this.d.subarray((k + 1) * B * N, (k + 2) * B * N);
      // e-x block: -g W_out D_{k+1} A_k, row o = A_k^T (D_{k+1} w_o); e-e block: [position] I - a f g W_out D_{k+1} F.
      const rows = new Float64Array(B * nOut * N);
      for (let b = 0; b < B; b++) for (let o = 0; o < nOut; o++) for (let i = 0; i < N; i++) rows[(b * nOut + o) * N + i] = dk1[b * N + i] * wOut[o * N + i];
      const AtRows = new Float64Array(B * nOut * N);
      gemm(false, false, B * nOut, N, N, 1, rows, N, wRec, N, 0, AtRows, N);
      for (let b = 0; b < B; b++) {
        let s = alpha * alpha * f * f * Fn2;
        for (let o = 0; o < nOut; o++) {
          const r = (b * nOut + o) * N;
          let q2 = 0;
          for (let i = 0; i < N; i++) {
            const q = (1 - alpha) * rows[r + i] + alpha * dk[b * N + i] * AtRows[r + i];
            q2 += q * q;
          }
          s += this.g * this.g * q2;
          for (let p = 0; p < nOut; p++) {
            let wdf = 0;
            for (let i = 0; i < N; i++) wdf += rows[r + i] * F[i * nOut + p];
            const v = (this.position && o === p ? 1 : 0) - alpha * f * this.g * wdf;
            s += v * v;
          }
        }
        out[b] += s;
      }
    }
    for (let b = 0; b < B; b++) out[b] = Math.sqrt(out[b]);
    return out;
  }
}

/** Options of `jacobianNorms`. */
export interface JacobianNormOptions {
  /** The Jacobian definition (default "open"). */
  kind?: JacobianKind;
  /** Lengths s of the products J_k ... J_{k-s+1} whose spectral norms are wanted (default [1]). */
  products?: number[];
  /** Steps k at which to evaluate (default all, 0..T-1). */
  steps?: number[];
  /** Lanczos on P^T P: stop when the top Ritz value changes by less than this (relative; 1e-9), or after maxIterations (150). */
  tolerance?: number;
  /** Most Lanczos iterations per evaluation (150). */
  maxIterations?: number;
  /** Stream for the starting vectors (default a fixed one). */
  rng?: Rng;
}

/** Norms of the step Jacobians along a rollout, as `jacobianNorms` returns them. */
export interface JacobianNorms {
  /** The Jacobian definition used. */
  kind: JacobianKind;
  /** Steps in the rollout. */
  T: number;
  /** Trials. */
  B: number;
  /** The steps k evaluated, in column order. */
  steps: number[];
  /** [B, steps.length] |J_k|_F. */
  frobenius: Float64Array;
  /** s -> [B, steps.length] spectral norm of J_k ... J_{k-s+1} (NaN for k < s-1); s = 1 is |J_k|_2. */
  spectral: Map<number, Float64Array>;
  /** Largest number of Lanczos iterations any evaluation needed (it did not converge if it hit the limit). */
  iterations: number;
  /** Whether every Lanczos evaluation converged within maxIterations. */
  converged: boolean;
}

/**
 * Spectral and Frobenius norms of the step Jacobians along a rollout, for every trial (see module comment).
 * The spectral norm of P = J_k ... J_{k-s+1} is the square root of the largest eigenvalue of P^T P, found by
 * Lanczos with full reorthogonalisation on all trials at once (each trial its own Krylov space); unlike
 * power iteration it converges in tens of iterations even when the top singular values are close.
 */
export function jacobianNorms(net: Network, ro: Rollout, options: JacobianNormOptions = {}): JacobianNorms {
  assertPaperLoop(net.config, "analysis.jacobianNorms");
  const kind = oneOf("kind", options.kind ?? "open", JACOBIAN_KINDS);
  const J = new StepJacobian(net, ro, kind);
  const { B, T, dim } = J;
  const products = options.products ?? [1];
  products.forEach((s, i) => integer(`products[${i}]`, s, 1, T));
  const steps = options.steps ?? Array.from({ length: T }, (_, k) => k);
  steps.forEach((k, i) => integer(`steps[${i}]`, k, 0, T - 1));
  const tol = positive("tolerance", options.tolerance ?? 1e-9);
  const maxIt = integer("maxIterations", options.maxIterations ?? 150, 1);
  const rng = options.rng ?? Rng.seeded(0, "jacobian");

  const S = steps.length;
  const frob = new Float64Array(B * S);
  const spectral = new Map<number, Float64Array>();
  let iterations = 0;
  let converged = true;
  steps.forEach((k, si) => {
    const fk = J.frobenius(k);
    for (let b = 0; b < B; b++) frob[b * S + si] = fk[b];
  });
  const U = new Float64Array(B * dim);
  const tmp = new Float64Array(B * dim);
  // P^T P applied to B row vectors.
  const normal = (k: number, s: number, V: Float64Array, out: Float64Array) => {
    U.set(V);
    for (let j = k - s + 1; j <= k; j++) {
      J.apply(j, U, tmp);
      U.set(tmp);
    }
    for (let j = k; j >= k - s + 1; j--) {
      J.applyT(j, U, tmp);
      U.set(tmp);
    }
    out.set(U);
  };
  for (const s of products) {
    const out = new Float64Array(B * S).fill(NaN);
    spectral.set(s, out);
    steps.forEach((k, si) => {
      if (k < s - 1) return;
      const { top, its, ok } = lanczosTop((V, W) => normal(k, s, V, W), B, dim, maxIt, tol, rng);
      iterations = Math.max(iterations, its);
      if (!ok) converged = false;
      for (let b = 0; b < B; b++) out[b * S + si] = Math.sqrt(Math.max(0, top[b]));
    });
  }
  return { kind, T, B, steps, frobenius: frob, spectral, iterations, converged };
}

/**
 * The largest eigenvalue of a symmetric positive semi-definite operator, for B independent operators at
 * once (`op` maps B row vectors [B, dim] to B row vectors): Lanczos with full reorthogonalisation.
 */
export function lanczosTop(
  op: (V: Float64Array, out: Float64Array) => void,
  B: number,
  dim: number,
  maxIt: number,
  tol: number,
  rng: Rng,
): {
  /** [B] the largest eigenvalue of each operator (the top Ritz value). */
  top: Float64Array;
  /** Lanczos iterations run. */
  its: number;
  /** Whether every operator converged (or reached an invariant subspace) within maxIt. */
  ok: boolean;
} {
  const m = Math.min(maxIt, dim);
  const Q = new Float64Array((m + 1) * B * dim); // Lanczos vectors, [j][b][i]
  const alpha = new Float64Array(B * m);
  const beta = new Float64Array(B * m);
  const top = new Float64Array(B);
  const prev = new Float64Array(B).fill(NaN);
  const done = new Uint8Array(B);
  const len = new Int32Array(B); // Krylov dimension reached per trial (stops early on an invariant subspace)
  const W = new Float64Array(B * dim);
  const q = (j: number) => Q.subarray(j * B * dim, (j + 1) * B * dim);
  const q0 = q(0);
  for (let i = 0; i < q0.length; i++) q0[i] = rng.normal();
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let i = 0; i < dim; i++) n += q0[b * dim + i] ** 2;
    n = Math.sqrt(n);
    for (let i = 0; i < dim; i++) q0[b * dim + i] /= n;
  }
  let j = 0;
  for (; j < m && !done.every((d) => d === 1); j++) {
    op(q(j), W);
    const qj = q(j);
    const next = q(j + 1);
    for (let b = 0; b < B; b++) {
      if (done[b]) continue;
      const o = b * dim;
      let a = 0;
      for (let i = 0; i < dim; i++) a += qj[o + i] * W[o + i];
      alpha[b * m + j] = a;
      // Full reorthogonalisation against every earlier vector (twice, for float64 safety).
      for (let pass = 0; pass < 2; pass++) {
        for (let p = 0; p <= j; p++) {
          const qp = q(p);
          let c = 0;
          for (let i = 0; i < dim; i++) c += qp[o + i] * W[o + i];
          for (let i = 0; i < dim; i++) W[o + i] -= c * qp[o + i];
        }
      }
      let n = 0;
      for (let i = 0; i < dim; i++) n += W[o + i] * W[o + i];
      n = Math.sqrt(n);
      beta[b * m + j] = n;
      len[b] = j + 1;
      top[b] = tridiagonalEigenvalue(alpha.subarray(b * m, b * m + j + 1), beta.subarray(b * m, b * m + j), j);
      const invariant = n <= 1e-13 * Math.max(top[b], 1e-300);
      if (invariant || Math.abs(top[b] - prev[b]) <= tol * top[b]) done[b] = 1;
      prev[b] = top[b];
      if (!invariant) for (let i = 0; i < dim; i++) next[o + i] = W[o + i] / n;
      else for (let i = 0; i < dim; i++) next[o + i] = 0;
    }
  }
  return { top, its: j, ok: done.every((d) => d === 1) };
}
