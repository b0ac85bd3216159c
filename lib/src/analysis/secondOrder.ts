/**
 * Alignment of learning-rule updates with the damped Newton step (SPEC §7.4, result F5b), at full size
 * and without forming the Hessian. An adaptation run is replayed; at chosen steps of chosen trials, with
 * the weights of that moment and the trial's own states:
 *
 *   g = dl_{k+1}/dW_rec,   s(lambda) = -(H + lambda I)^{-1} g   (H: exact Hessian, or Gauss-Newton J^T J)
 *
 * solved by MINRES (CG for Gauss-Newton) to a true relative residual <= tol, and compared with the rule's
 * own update dw_k and with -g. Optionally the extreme eigenvalues of H by Lanczos. The learning run is
 * the same as without the analysis (the observer only reads).
 */
import { Adapter, AdaptConfig, StepObserver, adaptConfig } from "../adapt";
import { Network } from "../network";
import { Rng } from "../rng";
import { ParameterError, integer, oneOf, positive } from "../validate";
import { StepHessian } from "./hessian";
import { cg, lanczosExtremes, minres } from "./krylov";
import { denseMatrix, solveDense, symmetricEigenvalues } from "./dense";
import { cosine } from "./alignment";

/** What `secondOrderAlignment` analyses and how. */
export interface SecondOrderOptions {
  /** Trials at which to analyse (trial indices, 0-based); the run goes on until the last of them. */
  trials: number[];
  /** Steps k within each of those trials (the loss is that of e_{k+1}). */
  steps: number[];
  /** Damping values lambda (default [1e-3], the reference's). */
  lambdas?: number[];
  /** "hessian" (exact, indefinite: MINRES) or "gauss-newton" (J^T J, semi-definite: CG). */
  matrix?: "hessian" | "gauss-newton";
  /** Relative residual target |(H + lambda I) s + g| / |g| (1e-6) and iteration limit (2000). */
  tol?: number;
  /** Iteration limit of each solve (2000). */
  maxIterations?: number;
  /** Lanczos iterations for the extreme eigenvalues of H (0: skip; default 0). */
  eigenIterations?: number;
  /**
   * Also form H densely and solve and diagonalise it directly (the reference's own method; only for small
   * networks, N*N <= 4096): adds the dense columns to every row.
   */
  dense?: boolean;
  /** Steps to leave out (e.g. those a resumed run has already). */
  skip?: (trial: number, step: number) => boolean;
  /** Called with each row as it is computed (progress). */
  onRow?: (row: SecondOrderRow) => void;
}

/** One analysed (trial, step, lambda): the damped Newton step against the rule's update and the gradient. */
export interface SecondOrderRow {
  /** The trial (0-based). */
  trial: number;
  /** The step k (the loss is that of e_{k+1}). */
  step: number;
  /** The damping lambda. */
  lambda: number;
  /** l_{k+1} = |e_{k+1}|^2 / 2 at that moment. */
  loss: number;
  /** cos(s, dw_k) with the learning rule's own update. */
  cosRule: number;
  /** cos(s, -g): the damped Newton step against the plain gradient step. */
  cosGradient: number;
  /** cos(dw_k, -g): the rule against the gradient at the same weights. */
  cosRuleGradient: number;
  /** Iterations of the solver (MINRES or CG). */
  iterations: number;
  /** True relative residual reached. */
  residual: number;
  /** Whether the solver reached tol. */
  converged: boolean;
  /** |s| / |g|. */
  stepRatio: number;
  /** Extreme eigenvalues of H (NaN unless eigenIterations > 0; on the first lambda's row only). */
  eigMin: number;
  /** Largest eigenvalue estimate of H (NaN unless eigenIterations > 0; first lambda's row only). */
  eigMax: number;
  /** Wall-clock seconds of the row (the first lambda's also counts the gradient and the eigenvalues). */
  seconds: number;
  /** With dense: |s - s_dense| / |s_dense|, cos(s_dense, dw_k), the exact extreme eigenvalues of H and the condition number of H + lambda I (NaN otherwise). */
  denseStepError: number;
  /** With dense: cos(s_dense, dw_k) (NaN otherwise). */
  cosRuleDense: number;
  /** With dense: the smallest eigenvalue of H (NaN otherwise). */
  eigMinDense: number;
  /** With dense: the largest eigenvalue of H (NaN otherwise). */
  eigMaxDense: number;
  /** With dense: the condition number of H + lambda I, max |eig + lambda| / min |eig + lambda| (NaN otherwise). */
  conditionDense: number;
}

/** Replays an adaptation run from `pretrained` and analyses the chosen steps (see module comment). */
export function secondOrderAlignment(pretrained: Network, config: AdaptConfig, options: SecondOrderOptions): SecondOrderRow[] {
  const c = adaptConfig(config);
  if (!Array.isArray(options.trials) || options.trials.length === 0) throw new ParameterError("trials", "must be a non-empty array of trial indices");
  options.trials.forEach((t, i) => integer(`trials[${i}]`, t, 0, c.trials - 1));
  if (!Array.isArray(options.steps) || options.steps.length === 0) throw new ParameterError("steps", "must be a non-empty array of steps");
  options.steps.forEach((k, i) => integer(`steps[${i}]`, k, 0, c.reach.T - 1));
  const lambdas = options.lambdas ?? [1e-3];
  lambdas.forEach((l, i) => positive(`lambdas[${i}]`, l));
  const matrix = oneOf("matrix", options.matrix ?? "hessian", ["hessian", "gauss-newton"]);
  const tol = positive("tol", options.tol ?? 1e-6);
  const maxIterations = integer("maxIterations", options.maxIterations ?? 2000, 1);
  const eigenIterations = integer("eigenIterations", options.eigenIterations ?? 0, 0);
  const denseToo = options.dense === true;
  if (denseToo && pretrained.config.N * pretrained.config.N > 4096) throw new ParameterError("dense", `needs N*N <= 4096 (the dense Hessian has (N*N)^2 entries), got N = ${pretrained.config.N}`);
  const trials = new Set(options.trials);
  const steps = new Set(options.steps);

  const adapter = new Adapter(pretrained, c);
  const rows: SecondOrderRow[] = [];
  let pending: { rows: SecondOrderRow[]; solutions: Float64Array[]; denseSolutions: Float64Array[]; minusG: Float64Array } | null = null;
  const observer: StepObserver = {
    beforeUpdate: (k, ctx) => {
      if (!steps.has(k) || options.skip?.(ctx.trial, k)) return;
      const t0 = performance.now();
      const H = new StepHessian({ net: ctx.net, batch: ctx.batch, x0: ctx.x0, eps: ctx.ro.eps, feedback: c.control, k });
      const g = H.gradient();
      const minusG = g.map((v) => -v);
      const op = matrix === "hessian" ? (v: Float64Array, out: Float64Array) => H.hvp(v, out) : (v: Float64Array, out: Float64Array) => H.gaussNewton(v, out);
      const eig = eigenIterations > 0 ? lanczosExtremes((v, out) => H.hvp(v, out), H.dim, { maxIterations: eigenIterations, rng: Rng.seeded(k, "lanczos") }) : null;
      const gNorm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
      const solutions: Float64Array[] = [];
      const denseSolutions: Float64Array[] = [];
      const mine: SecondOrderRow[] = [];
      const D = denseToo ? denseMatrix(op, H.dim) : null;
      const ev = D ? symmetricEigenvalues(D, H.dim) : null;
      lambdas.forEach((lambda, i) => {
        const t1 = performance.now();
        const res = matrix === "hessian" ? minres(op, minusG, { shift: lambda, tol, maxIterations }) : cg(op, minusG, { shift: lambda, tol, maxIterations });
        solutions.push(res.x);
        let denseStepError = NaN;
        let conditionDense = NaN;
        if (D && ev) {
          const A = Float64Array.from(D);
          for (let i = 0; i < H.dim; i++) A[i * H.dim + i] += lambda;
          const sd = solveDense(A, minusG, H.dim);
          denseSolutions.push(sd);
          let num = 0;
          let den = 0;
          for (let i = 0; i < sd.length; i++) {
            num += (res.x[i] - sd[i]) ** 2;
            den += sd[i] ** 2;
          }
          denseStepError = Math.sqrt(num / den);
          const shifted = ev.map((x) => Math.abs(x + lambda));
          conditionDense = Math.max(...shifted) / Math.min(...shifted);
        }
        mine.push({
          trial: ctx.trial,
          step: k,
          lambda,
          loss: H.loss,
          cosRule: NaN,
          cosGradient: cosine(res.x, minusG),
          cosRuleGradient: NaN,
          iterations: res.iterations,
          residual: res.residual,
          converged: res.converged,
          stepRatio: Math.sqrt(res.x.reduce((s, v) => s + v * v, 0)) / gNorm,
          eigMin: i === 0 && eig ? eig.min : NaN,
          eigMax: i === 0 && eig ? eig.max : NaN,
          seconds: (performance.now() - (i === 0 ? t0 : t1)) / 1000,
          denseStepError,
          cosRuleDense: NaN,
          eigMinDense: ev ? ev[0] : NaN,
          eigMaxDense: ev ? ev[ev.length - 1] : NaN,
          conditionDense,
        });
      });
      pending = { rows: mine, solutions, denseSolutions, minusG };
    },
    afterUpdate: (_k, dw) => {
      if (!pending) return;
      const p = pending;
      pending = null;
      const cRG = cosine(dw, p.minusG);
      p.rows.forEach((row, i) => {
        row.cosRule = cosine(dw, p.solutions[i]);
        if (p.denseSolutions.length) row.cosRuleDense = cosine(dw, p.denseSolutions[i]);
        row.cosRuleGradient = cRG;
        rows.push(row);
        options.onRow?.(row);
      });
    },
  };
  const last = Math.max(...options.trials);
  while (adapter.done <= last) {
    if (trials.has(adapter.done)) adapter.trial(observer);
    else adapter.trial();
  }
  return rows;
}
