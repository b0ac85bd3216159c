/**
 * Krylov methods for large symmetric systems given only as matrix-vector products (float64): MINRES for
 * indefinite systems, conjugate gradients for positive definite ones, and Lanczos for extreme eigenvalues.
 * Used by the second-order analysis (F5b), where the matrix is the 160,000 x 160,000 Hessian of a step
 * loss with respect to W_rec and is never formed.
 */
import { Rng } from "../rng";
import { ParameterError, integer, positive } from "../validate";

/** out = A v for a symmetric A (out and v do not overlap). */
export type SymmetricOperator = (v: Float64Array, out: Float64Array) => void;

/** Options of the solvers `minres` and `cg`. */
export interface SolveOptions {
  /** Solve (A + shift I) x = b (default 0). */
  shift?: number;
  /** Stop when the relative residual |(A + shift I) x - b| / |b| <= tol, checked on the true residual (1e-6). */
  tol?: number;
  /** Most iterations (one product each; default 1000). */
  maxIterations?: number;
}

/** A solution of (A + shift I) x = b and how it was reached. */
export interface SolveResult {
  /** The solution. */
  x: Float64Array;
  /** Iterations run (operator products, not counting the residual check). */
  iterations: number;
  /** The true relative residual |(A + shift I) x - b| / |b|, recomputed from x. */
  residual: number;
  /** The solver's own running estimate of the same, at the end. */
  estimate: number;
  /** Whether the true residual reached tol. */
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** |(A + shift I) x - b| / |b| from one more product. */
export function trueResidual(A: SymmetricOperator, x: Float64Array, b: Float64Array, shift: number): number {
  const Ax = new Float64Array(x.length);
  A(x, Ax);
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const r = Ax[i] + shift * x[i] - b[i];
    s += r * r;
  }
  return Math.sqrt(s / dot(b, b));
}

function check(b: Float64Array, o: SolveOptions): { shift: number; tol: number; maxIt: number } {
  if (!(b instanceof Float64Array)) throw new ParameterError("b", "must be a Float64Array");
  const shift = o.shift ?? 0;
  if (!Number.isFinite(shift)) throw new ParameterError("shift", `must be a finite number, got ${shift}`);
  return { shift, tol: positive("tol", o.tol ?? 1e-6), maxIt: integer("maxIterations", o.maxIterations ?? 1000, 1) };
}

/**
 * MINRES (Paige & Saunders 1975) for (A + shift I) x = b with A symmetric, possibly indefinite. The running
 * residual estimate decides when to check; the reported residual and `converged` come from the true residual.
 */
export function minres(A: SymmetricOperator, b: Float64Array, options: SolveOptions = {}): SolveResult {
  const { shift, tol, maxIt } = check(b, options);
  const n = b.length;
  const x = new Float64Array(n);
  const beta1 = Math.sqrt(dot(b, b));
  if (beta1 === 0) return { x, iterations: 0, residual: 0, estimate: 0, converged: true };
  let r1 = Float64Array.from(b);
  let r2 = Float64Array.from(b);
  let y = Float64Array.from(b);
  const v = new Float64Array(n);
  let w = new Float64Array(n);
  let w1 = new Float64Array(n);
  let w2 = new Float64Array(n);
  let oldb = 0;
  let beta = beta1;
  let dbar = 0;
  let epsln = 0;
  let phibar = beta1;
  let cs = -1;
  let sn = 0;
  let itn = 0;
  let residual = 1;
  let converged = false;
  while (itn < maxIt) {
    itn++;
    const s = 1 / beta;
    for (let i = 0; i < n; i++) v[i] = s * y[i];
    A(v, y);
    for (let i = 0; i < n; i++) y[i] += shift * v[i];
    if (itn >= 2) {
      const f = beta / oldb;
      for (let i = 0; i < n; i++) y[i] -= f * r1[i];
    }
    const alfa = dot(v, y);
    const f = alfa / beta;
    for (let i = 0; i < n; i++) y[i] -= f * r2[i];
    const t = r1;
    r1 = r2;
    r2 = t;
    r2.set(y);
    oldb = beta;
    beta = Math.sqrt(dot(r2, r2));
    const oldeps = epsln;
    const delta = cs * dbar + sn * alfa;
    const gbar = sn * dbar - cs * alfa;
    epsln = sn * beta;
    dbar = -cs * beta;
    const gamma = Math.max(Math.hypot(gbar, beta), Number.EPSILON);
    cs = gbar / gamma;
    sn = beta / gamma;
    const phi = cs * phibar;
    phibar = sn * phibar;
    const denom = 1 / gamma;
    const tw = w1;
    w1 = w2;
    w2 = w;
    w = tw;
    for (let i = 0; i < n; i++) {
      w[i] = (v[i] - oldeps * w1[i] - delta * w2[i]) * denom;
      x[i] += phi * w[i];
    }
    const estimate = phibar / beta1;
    if (estimate <= tol || beta === 0) {
      residual = trueResidual(A, x, b, shift);
      if (residual <= tol) {
        converged = true;
        return { x, iterations: itn, residual, estimate, converged };
      }
      if (beta === 0) break;
    }
  }
  residual = trueResidual(A, x, b, shift);
  return { x, iterations: itn, residual, estimate: phibar / beta1, converged: residual <= tol };
}

/** Conjugate gradients for (A + shift I) x = b with A + shift I symmetric positive definite. */
export function cg(A: SymmetricOperator, b: Float64Array, options: SolveOptions = {}): SolveResult {
  const { shift, tol, maxIt } = check(b, options);
  const n = b.length;
  const x = new Float64Array(n);
  const bb = dot(b, b);
  if (bb === 0) return { x, iterations: 0, residual: 0, estimate: 0, converged: true };
  const r = Float64Array.from(b);
  const p = Float64Array.from(b);
  const Ap = new Float64Array(n);
  let rr = bb;
  let itn = 0;
  while (itn < maxIt) {
    itn++;
    A(p, Ap);
    for (let i = 0; i < n; i++) Ap[i] += shift * p[i];
    const pAp = dot(p, Ap);
    if (!(pAp > 0)) throw new ParameterError("A", `is not positive definite (p^T (A + shift I) p = ${pAp} at iteration ${itn}); use minres`);
    const a = rr / pAp;
    for (let i = 0; i < n; i++) {
      x[i] += a * p[i];
      r[i] -= a * Ap[i];
    }
    const rrNew = dot(r, r);
    if (Math.sqrt(rrNew / bb) <= tol) {
      const residual = trueResidual(A, x, b, shift);
      if (residual <= tol) return { x, iterations: itn, residual, estimate: Math.sqrt(rrNew / bb), converged: true };
    }
    const beta = rrNew / rr;
    rr = rrNew;
    for (let i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
  }
  const residual = trueResidual(A, x, b, shift);
  return { x, iterations: itn, residual, estimate: Math.sqrt(rr / bb), converged: residual <= tol };
}

/**
 * The k-th smallest eigenvalue (0-based) of the symmetric tridiagonal matrix with diagonal a and
 * off-diagonal b (length a.length - 1), by Sturm-sequence bisection.
 */
export function tridiagonalEigenvalue(a: ArrayLike<number>, b: ArrayLike<number>, k: number): number {
  const n = a.length;
  integer("k", k, 0, n - 1);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const r = (i > 0 ? Math.abs(b[i - 1]) : 0) + (i < n - 1 ? Math.abs(b[i]) : 0);
    lo = Math.min(lo, a[i] - r);
    hi = Math.max(hi, a[i] + r);
  }
  const below = (x: number) => {
    let c = 0;
    let d = 1;
    for (let i = 0; i < n; i++) {
      d = a[i] - x - (i > 0 ? (b[i - 1] * b[i - 1]) / d : 0);
      if (d === 0) d = -1e-300;
      if (d < 0) c++;
    }
    return c;
  };
  for (let it = 0; it < 300 && hi - lo > 1e-15 * Math.max(Math.abs(hi), Math.abs(lo), 1e-300); it++) {
    const mid = 0.5 * (lo + hi);
    if (below(mid) > k) hi = mid;
    else lo = mid;
  }
  return 0.5 * (lo + hi);
}

/** The extreme eigenvalues of a symmetric operator, as `lanczosExtremes` estimates them. */
export interface LanczosExtremes {
  /** The smallest Ritz value (estimate of the smallest eigenvalue). */
  min: number;
  /** The largest Ritz value (estimate of the largest eigenvalue). */
  max: number;
  /** Lanczos iterations run (one product each). */
  iterations: number;
  /** Both extremes changed by less than tol (relative to the spectral radius estimate) in the last iteration. */
  converged: boolean;
}

/**
 * Lanczos with full reorthogonalisation (keeps every vector of length dim): after each step, `done` sees the
 * tridiagonal coefficients so far and the norm of the next residual, and returns true to stop. Returns the
 * number of steps taken (at most m).
 */
function lanczos(A: SymmetricOperator, dim: number, m: number, rng: Rng, done: (alpha: number[], beta: number[], next: number) => boolean): number {
  const Q: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  let q = new Float64Array(dim);
  for (let i = 0; i < dim; i++) q[i] = rng.normal();
  const n0 = Math.sqrt(dot(q, q));
  for (let i = 0; i < dim; i++) q[i] /= n0;
  const w = new Float64Array(dim);
  for (let j = 0; j < m; j++) {
    Q.push(q);
    A(q, w);
    alpha.push(dot(q, w));
    for (let pass = 0; pass < 2; pass++) {
      for (const p of Q) {
        const c = dot(p, w);
        for (let i = 0; i < dim; i++) w[i] -= c * p[i];
      }
    }
    const nb = Math.sqrt(dot(w, w));
    if (done(alpha, beta, nb)) return j + 1;
    beta.push(nb);
    q = new Float64Array(dim);
    for (let i = 0; i < dim; i++) q[i] = w[i] / nb;
  }
  return m;
}

/**
 * The smallest and largest eigenvalues of a symmetric operator of dimension `dim` by Lanczos with full
 * reorthogonalisation (keeps `maxIterations` vectors of length dim).
 */
export function lanczosExtremes(A: SymmetricOperator, dim: number, options: { maxIterations?: number; tol?: number; rng?: Rng } = {}): LanczosExtremes {
  const m = Math.min(integer("maxIterations", options.maxIterations ?? 200, 1), dim);
  const tol = positive("tol", options.tol ?? 1e-8);
  let lo = NaN;
  let hi = NaN;
  let converged = false;
  const iterations = lanczos(A, dim, m, options.rng ?? Rng.seeded(0, "lanczos"), (alpha, beta, nb) => {
    const newLo = tridiagonalEigenvalue(alpha, beta, 0);
    const newHi = tridiagonalEigenvalue(alpha, beta, alpha.length - 1);
    const scale = Math.max(Math.abs(newLo), Math.abs(newHi), 1e-300);
    if (alpha.length > 1 && Math.abs(newLo - lo) <= tol * scale && Math.abs(newHi - hi) <= tol * scale) converged = true;
    lo = newLo;
    hi = newHi;
    if (nb <= 1e-13 * scale) converged = true;
    return converged;
  });
  return { min: lo, max: hi, iterations, converged };
}

/**
 * The `count` largest eigenvalues of a symmetric operator (largest first) by Lanczos with full
 * reorthogonalisation, and the smallest Ritz value. Converged when each of the `count` changed by less
 * than `tol` (relative to the largest) in the last step.
 */
export function topEigenvalues(
  A: SymmetricOperator, dim: number, count: number, options: { maxIterations?: number; tol?: number; rng?: Rng } = {},
): {
  /** The `count` largest Ritz values, largest first. */
  eigenvalues: number[];
  /** The smallest Ritz value. */
  smallest: number;
  /** Lanczos iterations run (one product each). */
  iterations: number;
  /** Whether the `count` values settled within tol (or the Krylov space became invariant). */
  converged: boolean;
} {
  const m = Math.min(integer("maxIterations", options.maxIterations ?? 100, count), dim);
  const tol = positive("tol", options.tol ?? 1e-8);
  let prev: number[] = [];
  let top: number[] = [];
  let smallest = NaN;
  let converged = false;
  const iterations = lanczos(A, dim, m, options.rng ?? Rng.seeded(0, "lanczos"), (alpha, beta, nb) => {
    const n = alpha.length;
    top = [];
    for (let r = 0; r < Math.min(count, n); r++) top.push(tridiagonalEigenvalue(alpha, beta, n - 1 - r));
    smallest = tridiagonalEigenvalue(alpha, beta, 0);
    const scale = Math.max(Math.abs(top[0]), 1e-300);
    const settled = top.length === count && prev.length === count && top.every((t, r) => Math.abs(t - prev[r]) <= tol * scale);
    prev = top;
    converged = settled || nb <= 1e-13 * scale;
    return converged;
  });
  return { eigenvalues: top, smallest, iterations, converged };
}
