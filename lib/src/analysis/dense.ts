/**
 * Dense float64 linear algebra for the small-network reference of the second-order analysis (F5b at
 * N = 32-64, where the Hessian has at most a few thousand rows and can be formed): the matrix of an
 * operator, a solve by Gaussian elimination with partial pivoting, and all eigenvalues of a symmetric
 * matrix by Householder reduction to tridiagonal form and Sturm bisection.
 */
import { ParameterError, integer } from "../validate";
import { tridiagonalEigenvalue } from "./krylov";

/** The dim x dim matrix (row-major) of a linear operator, from its products with the unit vectors. */
export function denseMatrix(op: (v: Float64Array, out: Float64Array) => void, dim: number): Float64Array {
  integer("dim", dim, 1, 8192);
  const M = new Float64Array(dim * dim);
  const v = new Float64Array(dim);
  const out = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    v.fill(0);
    v[j] = 1;
    op(v, out);
    for (let i = 0; i < dim; i++) M[i * dim + j] = out[i];
  }
  return M;
}

/** x with A x = b (A n x n row-major, left untouched), by Gaussian elimination with partial pivoting. */
export function solveDense(A: Float64Array, b: Float64Array, n: number): Float64Array {
  if (A.length !== n * n || b.length !== n) throw new ParameterError("A, b", `must be ${n} x ${n} and ${n} long`);
  const M = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[p * n + c])) p = r;
    if (M[p * n + c] === 0) throw new ParameterError("A", "is singular");
    if (p !== c) {
      for (let j = 0; j < n; j++) {
        const t = M[c * n + j];
        M[c * n + j] = M[p * n + j];
        M[p * n + j] = t;
      }
      const t = x[c];
      x[c] = x[p];
      x[p] = t;
    }
    const piv = M[c * n + c];
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c] / piv;
      if (f === 0) continue;
      for (let j = c; j < n; j++) M[r * n + j] -= f * M[c * n + j];
      x[r] -= f * x[c];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    let s = x[c];
    for (let j = c + 1; j < n; j++) s -= M[c * n + j] * x[j];
    x[c] = s / M[c * n + c];
  }
  return x;
}

/** Diagonal and off-diagonal of the tridiagonal matrix similar to symmetric A (Householder reflections). */
export function tridiagonalise(
  A: Float64Array,
  n: number,
): {
  /** [n] the diagonal. */
  d: Float64Array;
  /** [n - 1] the off-diagonal: e[i] couples d[i] and d[i + 1]. */
  e: Float64Array;
} {
  if (A.length !== n * n) throw new ParameterError("A", `must be ${n} x ${n}`);
  const a = Float64Array.from(A);
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  const e = new Float64Array(Math.max(n - 1, 0));
  for (let k = 0; k < n - 2; k++) {
    // Householder vector for column k below the diagonal.
    let alpha = 0;
    for (let i = k + 1; i < n; i++) alpha += a[i * n + k] * a[i * n + k];
    alpha = Math.sqrt(alpha);
    if (alpha === 0) {
      e[k] = 0;
      continue;
    }
    const x0 = a[(k + 1) * n + k];
    const sign = x0 >= 0 ? 1 : -1;
    e[k] = -sign * alpha;
    for (let i = 0; i <= k; i++) v[i] = 0;
    for (let i = k + 1; i < n; i++) v[i] = a[i * n + k];
    v[k + 1] += sign * alpha;
    let vv = 0;
    for (let i = k + 1; i < n; i++) vv += v[i] * v[i];
    const beta = 2 / vv;
    // A <- (I - beta v v^T) A (I - beta v v^T) on the trailing block: p = beta A v, w = p - (beta/2)(v.p) v, A -= v w^T + w v^T.
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      for (let j = k + 1; j < n; j++) s += a[i * n + j] * v[j];
      p[i] = beta * s;
    }
    let vp = 0;
    for (let i = k + 1; i < n; i++) vp += v[i] * p[i];
    const f = (beta / 2) * vp;
    for (let i = k + 1; i < n; i++) p[i] -= f * v[i];
    for (let i = k + 1; i < n; i++) {
      for (let j = k + 1; j < n; j++) a[i * n + j] -= v[i] * p[j] + p[i] * v[j];
    }
  }
  if (n >= 2) e[n - 2] = a[(n - 1) * n + n - 2];
  const d = Float64Array.from({ length: n }, (_, i) => a[i * n + i]);
  return { d, e };
}

/** Every eigenvalue of a symmetric matrix, ascending (or only those with the given indices). */
export function symmetricEigenvalues(A: Float64Array, n: number, indices?: number[]): number[] {
  const { d, e } = tridiagonalise(A, n);
  return (indices ?? Array.from({ length: n }, (_, i) => i)).map((i) => tridiagonalEigenvalue(d, e, i));
}
