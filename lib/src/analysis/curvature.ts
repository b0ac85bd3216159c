/**
 * Curvature of one step's loss with respect to W_rec, with the control input on and off at the same
 * weights (issue 25, item 5): is the instantaneous loss less non-convex when the network is under
 * feedback control?
 *
 * The loss is that of `StepHessian` (hessian.ts): l(W) = |e_{k+1}|^2 / 2 of one trial, from a given initial
 * state, with W_rec fixed within the pass. With control on, the error the network feeds back is replayed as a
 * constant (detached, as during adaptation), so that l depends on W only through the network; with control
 * off, nothing is fed back. Two summaries of the spectrum of H = d^2 l / dW^2 (dim = N^2, never formed):
 *
 * - the extreme eigenvalues, by Lanczos with full reorthogonalisation from a Gaussian start vector. The
 *   convergence check is the Ritz residual |H u - theta u| of each extreme Ritz pair (theta, u): Lanczos
 *   stops when both residual estimates beta_m |y_m| are at most `tol` times the spectral scale
 *   s = max(|theta_min|, |theta_max|), and the residuals are then recomputed exactly from the Ritz vectors
 *   with one Hessian-vector product each. A residual rho guarantees an eigenvalue of H within rho of theta.
 * - the spectral density, by stochastic Lanczos quadrature (SLQ; Ubaru, Chen & Saad 2017; Ghorbani, Krishnan
 *   & Xiao 2019): for each of `probes` Rademacher vectors q (|q| = 1), `steps` Lanczos steps give a Gauss
 *   quadrature rule (nodes theta_j, weights w_j = first eigenvector component squared, sum w_j = 1) with
 *   q^T f(H) q ~ sum_j w_j f(theta_j); the density estimate is the mean over probes. From it: the fraction of
 *   eigenvalues below -tau s and above +tau s ("negative mass", "positive mass"; tau = `threshold`), and the
 *   negative share of the absolute spectral mass, sum_{lambda<0} |lambda| / sum |lambda|, which needs no
 *   threshold. (Most of the spectrum of a step-loss Hessian is at or very near 0 and nearly symmetric in
 *   count, so the fraction of eigenvalues strictly below 0 is not resolvable by SLQ; hence the threshold.)
 *
 * Everything in float64. The spread over probes is reported beside each SLQ mean.
 */
import { gemm } from "../kernels";
import { Network, cloneNetwork, simulate } from "../network";
import { Rng } from "../rng";
import { TrialBatch, selectTrials } from "../task";
import { ParameterError, integer, positive } from "../validate";
import { StepHessian } from "./hessian";
import { SymmetricOperator } from "./krylov";

/** Eigenvalues (ascending) and selected rows of the eigenvectors of a symmetric tridiagonal matrix. */
export interface TridiagonalEigensystem {
  /** [m] the eigenvalues, ascending. */
  values: Float64Array;
  /**
   * For each requested row index r (in the order asked), [m] the r-th component of each unit eigenvector,
   * in the order of `values` (the sign of each eigenvector is arbitrary).
   */
  rows: Float64Array[];
}

/**
 * Eigenvalues and eigenvector components of the symmetric tridiagonal matrix with diagonal `a` (length m)
 * and off-diagonal `b` (length m - 1), by the implicit QL algorithm with Wilkinson shifts. Only the rows of
 * the eigenvector matrix named in `rows` are accumulated (each costs O(m) per rotation), e.g. [0] for the
 * quadrature weights of SLQ or [m - 1] for Lanczos residual estimates; pass every index for full eigenvectors.
 * @throws ParameterError when the lengths do not fit or QL does not converge in 60 sweeps per eigenvalue
 */
export function tridiagonalEigensystem(a: ArrayLike<number>, b: ArrayLike<number>, rows: number[] = []): TridiagonalEigensystem {
  const n = a.length;
  integer("a.length", n, 1);
  if (b.length !== n - 1) throw new ParameterError("b", `must have a.length - 1 = ${n - 1} entries, got ${b.length}`);
  rows.forEach((r, i) => integer(`rows[${i}]`, r, 0, n - 1));
  const d = Float64Array.from(a);
  const e = new Float64Array(n);
  for (let i = 0; i < n - 1; i++) e[i] = b[i];
  // z[r][j]: component rows[r] of column j of the accumulated rotations (starts as the identity's rows).
  const z = rows.map((r) => {
    const row = new Float64Array(n);
    row[r] = 1;
    return row;
  });
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd) break;
      }
      if (m !== l) {
        if (iter++ === 60) throw new ParameterError("a, b", "implicit QL did not converge in 60 sweeps");
        let g = (d[l + 1] - d[l]) / (2 * e[l]);
        let r = Math.hypot(g, 1);
        g = d[m] - d[l] + e[l] / (g + (g >= 0 ? Math.abs(r) : -Math.abs(r)));
        let s = 1;
        let c = 1;
        let p = 0;
        let i: number;
        for (i = m - 1; i >= l; i--) {
          let f = s * e[i];
          const bb = c * e[i];
          r = Math.hypot(f, g);
          e[i + 1] = r;
          if (r === 0) {
            d[i + 1] -= p;
            e[m] = 0;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2 * c * bb;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - bb;
          for (const zr of z) {
            f = zr[i + 1];
            zr[i + 1] = s * zr[i] + c * f;
            zr[i] = c * zr[i] - s * f;
          }
        }
        if (r === 0 && i >= l) continue;
        d[l] -= p;
        e[l] = g;
        e[m] = 0;
      }
    } while (m !== l);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[x] - d[y]);
  return { values: Float64Array.from(order, (i) => d[i]), rows: z.map((zr) => Float64Array.from(order, (i) => zr[i])) };
}

/** What a Lanczos run keeps: the tridiagonal matrix, the basis and the norm of the next residual. */
export interface LanczosRun {
  /** [m] diagonal of the Lanczos tridiagonal matrix T_m. */
  alpha: number[];
  /** [m - 1] its off-diagonal. */
  beta: number[];
  /** |r_m|, the norm of the residual after the last step (the next beta); 0 when the Krylov space became invariant. */
  next: number;
  /** [m, dim] the orthonormal Lanczos vectors, row-major (only when kept). */
  Q?: Float64Array;
}

/**
 * Lanczos on a symmetric operator from `start` (normalised here), with full reorthogonalisation (two
 * classical Gram-Schmidt passes against every earlier vector, by matrix products). After each step `stop`
 * sees the run so far and returns true to end it; the run also ends at `maxSteps` or when the Krylov space
 * becomes invariant (|r| <= 1e-13 |T|). Keeps maxSteps vectors of length dim in memory.
 */
export function lanczosRun(A: SymmetricOperator, start: Float64Array, maxSteps: number, stop?: (run: LanczosRun) => boolean, keepBasis = false): LanczosRun {
  const dim = start.length;
  const m = Math.min(integer("maxSteps", maxSteps, 1), dim);
  let n0 = 0;
  for (let i = 0; i < dim; i++) n0 += start[i] * start[i];
  n0 = Math.sqrt(n0);
  if (!(n0 > 0) || !Number.isFinite(n0)) throw new ParameterError("start", "must be a finite, non-zero vector");
  // The basis grows in chunks (a run that stops early does not pay for maxSteps vectors).
  let Q = new Float64Array(Math.min(m, 32) * dim);
  for (let i = 0; i < dim; i++) Q[i] = start[i] / n0;
  const w = new Float64Array(dim);
  const c = new Float64Array(m);
  const alpha: number[] = [];
  const beta: number[] = [];
  let scale = 0;
  for (let j = 0; j < m; j++) {
    const q = Q.subarray(j * dim, (j + 1) * dim);
    A(q, w);
    let a = 0;
    for (let i = 0; i < dim; i++) a += q[i] * w[i];
    alpha.push(a);
    for (let pass = 0; pass < 2; pass++) {
      gemm(false, false, j + 1, 1, dim, 1, Q, dim, w, 1, 0, c, 1);
      gemm(true, false, dim, 1, j + 1, -1, Q, dim, c, 1, 1, w, 1);
    }
    let nb = 0;
    for (let i = 0; i < dim; i++) nb += w[i] * w[i];
    nb = Math.sqrt(nb);
    scale = Math.max(scale, Math.abs(a) + nb + (j > 0 ? beta[j - 1] : 0));
    const invariant = nb <= 1e-13 * scale;
    const run: LanczosRun = { alpha, beta, next: invariant ? 0 : nb };
    if (invariant || j === m - 1 || stop?.(run)) return keepBasis ? { ...run, Q: Q.subarray(0, (j + 1) * dim) } : run;
    beta.push(nb);
    if ((j + 2) * dim > Q.length) {
      const grown = new Float64Array(Math.min(m, 2 * (j + 1)) * dim);
      grown.set(Q);
      Q = grown;
    }
    const qn = Q.subarray((j + 1) * dim, (j + 2) * dim);
    for (let i = 0; i < dim; i++) qn[i] = w[i] / nb;
  }
  throw new Error("unreachable");
}

/** The extreme eigenvalues of a symmetric operator with their convergence check, as `extremeEigenvalues` returns them. */
export interface ExtremeEigenvalues {
  /** The smallest Ritz value. */
  min: number;
  /** The largest Ritz value. */
  max: number;
  /** |H u - min u| for the unit Ritz vector u of `min`, recomputed exactly: an eigenvalue of H lies within it of `min`. */
  residualMin: number;
  /** |H u - max u| for the Ritz vector of `max`, recomputed exactly. */
  residualMax: number;
  /** The spectral scale s = max(|min|, |max|) the tolerance is relative to. */
  scale: number;
  /** residualMin <= tol * scale. */
  convergedMin: boolean;
  /** residualMax <= tol * scale. */
  convergedMax: boolean;
  /** Lanczos steps run (one operator product each, plus 2 for the residual check). */
  iterations: number;
}

/** Options of `extremeEigenvalues`. */
export interface ExtremeOptions {
  /** Most Lanczos steps (default 150; memory: maxIterations vectors of length dim). */
  maxIterations?: number;
  /** Relative Ritz residual target |H u - theta u| / s (default 1e-4). */
  tol?: number;
  /** Stream of the Gaussian start vector (default Rng.seeded(0, "curvature-extremes")). */
  rng?: Rng;
}

/**
 * The smallest and largest eigenvalues of a symmetric operator by Lanczos with full reorthogonalisation, run
 * until the Ritz residual estimates of both extreme pairs are at most tol times the spectral scale; the
 * residuals are then recomputed exactly from the Ritz vectors (module comment).
 */
export function extremeEigenvalues(A: SymmetricOperator, dim: number, options: ExtremeOptions = {}): ExtremeEigenvalues {
  integer("dim", dim, 1);
  const maxIt = integer("maxIterations", options.maxIterations ?? 150, 2);
  const tol = positive("tol", options.tol ?? 1e-4);
  const rng = options.rng ?? Rng.seeded(0, "curvature-extremes");
  const start = new Float64Array(dim);
  for (let i = 0; i < dim; i++) start[i] = rng.normal();
  const run = lanczosRun(A, start, maxIt, (r) => {
    const m = r.alpha.length;
    if (m < 2) return false;
    const es = tridiagonalEigensystem(r.alpha, r.beta, [m - 1]);
    const s = Math.max(Math.abs(es.values[0]), Math.abs(es.values[m - 1]), 1e-300);
    return r.next * Math.abs(es.rows[0][0]) <= tol * s && r.next * Math.abs(es.rows[0][m - 1]) <= tol * s;
  }, true);
  const m = run.alpha.length;
  const es = tridiagonalEigensystem(run.alpha, run.beta, Array.from({ length: m }, (_, i) => i));
  const Q = run.Q!;
  const residual = (j: number): number => {
    const y = Float64Array.from(es.rows, (row) => row[j]);
    const u = new Float64Array(dim);
    gemm(true, false, dim, 1, m, 1, Q, dim, y, 1, 0, u, 1);
    let nu = 0;
    for (let i = 0; i < dim; i++) nu += u[i] * u[i];
    nu = Math.sqrt(nu);
    for (let i = 0; i < dim; i++) u[i] /= nu;
    const Hu = new Float64Array(dim);
    A(u, Hu);
    let s = 0;
    for (let i = 0; i < dim; i++) s += (Hu[i] - es.values[j] * u[i]) ** 2;
    return Math.sqrt(s);
  };
  const min = es.values[0];
  const max = es.values[m - 1];
  const scale = Math.max(Math.abs(min), Math.abs(max));
  const residualMin = residual(0);
  const residualMax = m > 1 ? residual(m - 1) : residualMin;
  return { min, max, residualMin, residualMax, scale, convergedMin: residualMin <= tol * scale, convergedMax: residualMax <= tol * scale, iterations: m };
}

/** One probe's Gauss quadrature rule of stochastic Lanczos quadrature. */
export interface QuadratureRule {
  /** The nodes theta_j (Ritz values), ascending. */
  nodes: Float64Array;
  /** The weights w_j (squared first eigenvector components; they sum to 1). */
  weights: Float64Array;
}

/** Options of `spectralDensity`. */
export interface SpectralDensityOptions {
  /** Rademacher probe vectors (default 4). */
  probes?: number;
  /** Lanczos steps per probe, the number of quadrature nodes (default 30). */
  steps?: number;
  /** Stream of the probe vectors (default Rng.seeded(0, "curvature-slq")). */
  rng?: Rng;
  /** Probe vectors to use instead of Rademacher ones (each of length dim; normalised here): for checks. */
  vectors?: Float64Array[];
}

/**
 * The Gauss quadrature rules of stochastic Lanczos quadrature (module comment): one per Rademacher probe,
 * each from `steps` Lanczos steps with full reorthogonalisation. The density estimate is
 * (1 / probes) sum_p sum_j w_pj delta(x - theta_pj); `densitySummary` reads it.
 */
export function spectralDensity(A: SymmetricOperator, dim: number, options: SpectralDensityOptions = {}): QuadratureRule[] {
  integer("dim", dim, 1);
  const probes = options.vectors ? options.vectors.length : integer("probes", options.probes ?? 4, 1);
  if (options.vectors && (probes === 0 || options.vectors.some((v) => v.length !== dim))) throw new ParameterError("vectors", `must be a non-empty list of vectors of length dim = ${dim}`);
  const steps = integer("steps", options.steps ?? 30, 1);
  const rng = options.rng ?? Rng.seeded(0, "curvature-slq");
  const rules: QuadratureRule[] = [];
  for (let p = 0; p < probes; p++) {
    let q = new Float64Array(dim);
    if (options.vectors) q = Float64Array.from(options.vectors[p]);
    else for (let i = 0; i < dim; i++) q[i] = rng.uniform() < 0.5 ? -1 : 1;
    const run = lanczosRun(A, q, steps);
    const es = tridiagonalEigensystem(run.alpha, run.beta, [0]);
    rules.push({ nodes: es.values, weights: es.rows[0].map((v) => v * v) });
  }
  return rules;
}

/** Mean and sample standard deviation over probes of one SLQ functional. */
export interface ProbeStat {
  /** Mean over probes. */
  mean: number;
  /** Sample standard deviation over probes (NaN for one probe). */
  sd: number;
}

/** Summaries of an SLQ density estimate, each as mean and sd over probes. */
export interface DensitySummary {
  /** Fraction of eigenvalues below -threshold * scale. */
  negativeMass: ProbeStat;
  /** Fraction of eigenvalues above +threshold * scale. */
  positiveMass: ProbeStat;
  /** sum_{lambda < 0} |lambda| / sum |lambda|: the negative share of the absolute spectral mass (no threshold). */
  negativeWeight: ProbeStat;
  /** The trace estimate dim * sum_j w_j theta_j (Hutchinson's, from the same probes). */
  trace: ProbeStat;
}

function probeStat(xs: number[]): ProbeStat {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : NaN;
  return { mean, sd };
}

/**
 * Reads an SLQ estimate (`spectralDensity`): the negative and positive mass beyond ±threshold·scale, the
 * negative share of the absolute mass and the trace, each per probe and then as mean and sd over probes.
 * @param scale the spectral scale, e.g. max(|lambda_min|, |lambda_max|) from `extremeEigenvalues`
 * @param threshold tau, relative to scale (e.g. 1e-3)
 * @param dim the operator's dimension (for the trace)
 */
export function densitySummary(rules: QuadratureRule[], scale: number, threshold: number, dim: number): DensitySummary {
  if (!Array.isArray(rules) || rules.length === 0) throw new ParameterError("rules", "must be a non-empty array of quadrature rules");
  positive("scale", scale);
  positive("threshold", threshold);
  const cut = threshold * scale;
  const sum = (r: QuadratureRule, f: (theta: number, w: number) => number) => r.nodes.reduce((s, t, j) => s + f(t, r.weights[j]), 0);
  return {
    negativeMass: probeStat(rules.map((r) => sum(r, (t, w) => (t < -cut ? w : 0)))),
    positiveMass: probeStat(rules.map((r) => sum(r, (t, w) => (t > cut ? w : 0)))),
    negativeWeight: probeStat(rules.map((r) => sum(r, (t, w) => (t < 0 ? -t * w : 0)) / sum(r, (t, w) => Math.abs(t) * w))),
    trace: probeStat(rules.map((r) => dim * sum(r, (t, w) => t * w))),
  };
}

/** Options of `stepCurvature`: the Lanczos settings of both summaries. */
export interface StepCurvatureOptions {
  /** Extreme eigenvalues: most Lanczos steps (150) and relative residual target (1e-4). */
  extremes?: {
    /** Most Lanczos steps. */
    maxIterations?: number;
    /** Ritz residual tolerance, relative to max|λ|. */
    tol?: number;
  };
  /** SLQ probes (default 4). */
  probes?: number;
  /** Lanczos steps per SLQ probe (default 30). */
  steps?: number;
  /** Threshold tau of the negative and positive mass, relative to max(|lambda_min|, |lambda_max|) (default 1e-3). */
  threshold?: number;
  /**
   * Seed of the random vectors (default 1): the Gaussian start of the extremes' Lanczos and the Rademacher
   * probes are the same for control on and off, so that the two are compared on the same probes.
   */
  seed?: number;
}

/** The curvature of one step loss (module comment), as `stepCurvature` returns it. */
export interface StepCurvature {
  /** Whether the control input was on. */
  control: boolean;
  /** The step: the loss is that of e_{k+1}. */
  k: number;
  /** l = |e_{k+1}|^2 / 2. */
  loss: number;
  /** |dl/dW_rec| (Frobenius). */
  gradientNorm: number;
  /** The extreme eigenvalues and their convergence check. */
  extremes: ExtremeEigenvalues;
  /** The SLQ summaries (mean and sd over probes) at `threshold`. */
  density: DensitySummary;
  /** The quadrature rules of the SLQ probes (for `densitySummary` at other thresholds). */
  rules: QuadratureRule[];
  /** N^2, the dimension of the Hessian. */
  dim: number;
  /** Seconds the computation took. */
  seconds: number;
}

/**
 * The fed-back error of trial `trial` of `batch` from initial state x0 at the network's weights, [T, nOut]:
 * what the network feeds back to itself when its control input is on (zeros when `control` is false).
 */
export function ownFeedback(net: Network, batch: TrialBatch, trial: number, x0: ArrayLike<number>, control: boolean): Float64Array {
  const one = selectTrials(batch, [integer("trial", trial, 0, batch.B - 1)]);
  const ro = simulate(cloneNetwork(net, "float64"), one, { feedback: control, x0 });
  return control ? Float64Array.from(ro.eps) : new Float64Array(ro.eps.length);
}

/**
 * The extreme eigenvalues and the SLQ density summaries of the Hessian of the step loss l = |e_{k+1}|^2 / 2 of
 * one trial with respect to W_rec, at the network's weights, from initial state x0, with the control input
 * on (its own fed-back error replayed, detached) or off. Calling it twice with control true and false at the
 * same network, trial, x0 and k compares the two at identical W_rec.
 */
export function stepCurvature(net: Network, batch: TrialBatch, trial: number, x0: ArrayLike<number>, k: number, control: boolean, options: StepCurvatureOptions = {}): StepCurvature {
  const t0 = performance.now();
  const seed = integer("seed", options.seed ?? 1, 0);
  const threshold = positive("threshold", options.threshold ?? 1e-3);
  const eps = ownFeedback(net, batch, trial, x0, control);
  const H = new StepHessian({ net, batch, trial, x0, eps, feedback: control, k });
  const op: SymmetricOperator = (v, out) => H.hvp(v, out);
  const g = H.gradient();
  const extremes = extremeEigenvalues(op, H.dim, { ...options.extremes, rng: Rng.seeded(seed, "curvature-extremes") });
  const rules = spectralDensity(op, H.dim, { probes: options.probes, steps: options.steps, rng: Rng.seeded(seed, "curvature-slq") });
  const density = densitySummary(rules, Math.max(extremes.scale, 1e-300), threshold, H.dim);
  return { control, k, loss: H.loss, gradientNorm: Math.sqrt(g.reduce((s, v) => s + v * v, 0)), extremes, density, rules, dim: H.dim, seconds: (performance.now() - t0) / 1000 };
}
