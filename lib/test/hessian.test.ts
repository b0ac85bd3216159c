import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "../src/network";
import * as task from "../src/task";
import { Rng } from "../src/rng";
import { StepHessian } from "../src/analysis/hessian";
import { cg, lanczosExtremes, minres, tridiagonalEigenvalue } from "../src/analysis/krylov";
import { naiveForward, relDiff, setup, symmetricEigenvalues } from "./reference-forward";
import { secondOrderAlignment } from "../src/analysis/secondOrder";
import * as dense from "../src/analysis/dense";
import { Adapter, adaptConfig } from "../src/adapt";
import { Pretrainer, pretrainConfig } from "../src/train";

function problem(config: Partial<net.NetworkConfig> = {}, feedback = true, k = 17) {
  const { n, batch, x0 } = setup({ N: 5, ...config }, 25);
  const one = task.selectTrials(batch, [1]);
  const x = x0.subarray(5, 10);
  const ro = net.simulate(n, one, { feedback, x0: x });
  const eps = Float64Array.from(ro.eps);
  const H = new StepHessian({ net: n, batch: batch, trial: 1, x0: x, eps, feedback, k });
  // The step loss from the test's own forward pass, the fed-back error replayed.
  const loss = () => {
    const E = naiveForward(n, one, Float64Array.from(x), { feedback, replay: eps });
    return 0.5 * (E[(k + 1) * 2] ** 2 + E[(k + 1) * 2 + 1] ** 2);
  };
  const errorAt = () => {
    const E = naiveForward(n, one, Float64Array.from(x), { feedback, replay: eps });
    return [E[(k + 1) * 2], E[(k + 1) * 2 + 1]];
  };
  const at = (m: net.Network) => new StepHessian({ net: m, batch, trial: 1, x0: x, eps, feedback, k });
  return { n, H, loss, errorAt, at };
}

const rel = relDiff;
const denseOf = dense.denseMatrix;

for (const c of [{ label: "position error, feedback on", config: {}, feedback: true }, { label: "feedback off", config: {}, feedback: false }, { label: "velocity error", config: { errorMode: "velocity" as const }, feedback: true }]) {
  test(`step gradient and Hessian-vector products against float64 finite differences: ${c.label}`, () => {
    const { n, H, loss, errorAt, at } = problem(c.config, c.feedback);
    const w = n.params.wRec;
    const dim = w.length;
    assert.ok(Math.abs(H.loss - loss()) < 1e-12 * Math.max(1, H.loss));
    // Gradient: central differences of the loss.
    const g = H.gradient();
    const fd = new Float64Array(dim);
    const h = 1e-6;
    for (let i = 0; i < dim; i++) {
      const keep = w[i];
      w[i] = keep + h;
      const up = loss();
      w[i] = keep - h;
      const down = loss();
      w[i] = keep;
      fd[i] = (up - down) / (2 * h);
    }
    assert.ok(rel(g, fd) < 1e-6, `gradient: relative error ${rel(g, fd)}`);
    // The dense Hessian: central differences of the exact gradient, at perturbed copies of the network.
    const Hfd = new Float64Array(dim * dim);
    for (let j = 0; j < dim; j++) {
      const col = (sign: number) => {
        const m = net.cloneNetwork(n);
        m.params.wRec[j] += sign * h;
        return at(m).gradient();
      };
      const gu = col(1);
      const gd = col(-1);
      for (let i = 0; i < dim; i++) Hfd[i * dim + j] = (gu[i] - gd[i]) / (2 * h);
    }
    const Hd = denseOf((v, out) => H.hvp(v, out), dim);
    assert.ok(rel(Hd, Hfd) < 1e-6, `Hessian: relative error ${rel(Hd, Hfd)}`);
    // Symmetry, on random vectors: u^T H v = v^T H u.
    const rng = Rng.seeded(3);
    const u = Float64Array.from({ length: dim }, () => rng.normal());
    const v = Float64Array.from({ length: dim }, () => rng.normal());
    const Hu = new Float64Array(dim);
    const Hv = new Float64Array(dim);
    H.hvp(u, Hu);
    H.hvp(v, Hv);
    const uHv = u.reduce((s, x, i) => s + x * Hv[i], 0);
    const vHu = v.reduce((s, x, i) => s + x * Hu[i], 0);
    assert.ok(Math.abs(uHv - vHu) < 1e-10 * Math.abs(uHv), `${uHv} vs ${vHu}`);
    // Gauss-Newton: J^T J with J = de_{k+1}/dW by central differences.
    const J = new Float64Array(2 * dim);
    for (let i = 0; i < dim; i++) {
      const keep = w[i];
      w[i] = keep + h;
      const up = errorAt();
      w[i] = keep - h;
      const down = errorAt();
      w[i] = keep;
      for (let o = 0; o < 2; o++) J[o * dim + i] = (up[o] - down[o]) / (2 * h);
    }
    const JtJ = new Float64Array(dim * dim);
    for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) JtJ[i * dim + j] = J[i] * J[j] + J[dim + i] * J[dim + j];
    const Gd = denseOf((x, out) => H.gaussNewton(x, out), dim);
    assert.ok(rel(Gd, JtJ) < 1e-6, `Gauss-Newton: relative error ${rel(Gd, JtJ)}`);
    // The Hessian is not the Gauss-Newton matrix: the recurrence makes l non-quadratic in W.
    assert.ok(rel(Hd, Gd) > 1e-3);
  });
}

/** Solves A x = b densely by Gaussian elimination with partial pivoting. */
function denseSolve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[p * n + c])) p = r;
    for (let j = 0; j < n; j++) [M[c * n + j], M[p * n + j]] = [M[p * n + j], M[c * n + j]];
    [x[c], x[p]] = [x[p], x[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c] / M[c * n + c];
      for (let j = c; j < n; j++) M[r * n + j] -= f * M[c * n + j];
      x[r] -= f * x[c];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    for (let j = c + 1; j < n; j++) x[c] -= M[c * n + j] * x[j];
    x[c] /= M[c * n + c];
  }
  return x;
}

test("MINRES (indefinite) and CG (definite) against dense solves; Lanczos extremes against dense eigenvalues", () => {
  const { H } = problem();
  const dim = H.dim;
  const Hd = denseOf((v, out) => H.hvp(v, out), dim);
  const ev = symmetricEigenvalues(Hd, dim);
  assert.ok(ev[0] < 0 && ev[dim - 1] > 0, "the step Hessian is indefinite");
  const g = H.gradient();
  const b = g.map((v) => -v);
  for (const shift of [1e-3, 1e-1, 1]) {
    const A = Float64Array.from(Hd);
    for (let i = 0; i < dim; i++) A[i * dim + i] += shift;
    const exact = denseSolve(A, b, dim);
    const res = minres((v, out) => H.hvp(v, out), b, { shift, tol: 1e-10, maxIterations: 500 });
    assert.ok(res.converged, `minres shift ${shift}: residual ${res.residual} after ${res.iterations}`);
    assert.ok(rel(res.x, exact) < 1e-6, `minres shift ${shift}: ${rel(res.x, exact)}`);
  }
  // CG on the Gauss-Newton matrix (positive semi-definite) plus a shift.
  const Gd = denseOf((v, out) => H.gaussNewton(v, out), dim);
  for (let i = 0; i < dim; i++) Gd[i * dim + i] += 1e-2;
  const exact = denseSolve(Gd, b, dim);
  const r = cg((v, out) => H.gaussNewton(v, out), b, { shift: 1e-2, tol: 1e-10 });
  assert.ok(r.converged && rel(r.x, exact) < 1e-6, `cg: ${rel(r.x, exact)} in ${r.iterations}`);
  assert.throws(() => cg((v, out) => H.hvp(v, out), b, { shift: 1e-3, tol: 1e-12, maxIterations: 200 }), /not positive definite/);
  // A residual the solver cannot reach is reported, not hidden.
  const short = minres((v, out) => H.hvp(v, out), b, { shift: 1e-3, tol: 1e-12, maxIterations: 2 });
  assert.equal(short.converged, false);
  assert.ok(short.residual > 1e-12 && short.iterations === 2);
  const lz = lanczosExtremes((v, out) => H.hvp(v, out), dim, { tol: 1e-12 });
  assert.ok(Math.abs(lz.min - ev[0]) < 1e-8 * Math.abs(ev[dim - 1]) && Math.abs(lz.max - ev[dim - 1]) < 1e-8 * Math.abs(ev[dim - 1]), `${lz.min} ${lz.max} vs ${ev[0]} ${ev[dim - 1]}`);
  // Tridiagonal bisection: a 3x3 example by hand (eigenvalues 2 - sqrt 2, 2, 2 + sqrt 2).
  assert.ok(Math.abs(tridiagonalEigenvalue([2, 2, 2], [-1, -1], 0) - (2 - Math.SQRT2)) < 1e-13);
  assert.ok(Math.abs(tridiagonalEigenvalue([2, 2, 2], [-1, -1], 2) - (2 + Math.SQRT2)) < 1e-13);
});

const pretrainedN = (N: number) => net.initNetwork({ N }, Rng.seeded(1));

test("secondOrderAlignment replays a run and equals the dense computation at a small size", () => {
  const p = Pretrainer.create(pretrainConfig({ seed: 2, batches: 20, batchSize: 16, evalEvery: 20, network: { N: 10 } }));
  while (p.done < 20) p.step();
  const config = adaptConfig({ rule: "rflo", control: true, trials: 3, lr: 1e-3 });
  const rows = secondOrderAlignment(p.net, config, { trials: [2], steps: [40], lambdas: [1e-3, 1], tol: 1e-9, maxIterations: 5000, eigenIterations: 100, dense: true });
  assert.equal(rows.length, 2);
  // The same moment by hand: dense H from products, a dense solve, dense eigenvalues.
  const a = new Adapter(p.net, config);
  a.trial();
  a.trial();
  let dense: { s: Float64Array[]; g: Float64Array; ev: number[] } | null = null;
  let dwAt: Float64Array | null = null;
  a.trial({
    beforeUpdate: (k, ctx) => {
      if (k !== 40) return;
      const H = new StepHessian({ net: ctx.net, batch: ctx.batch, x0: ctx.x0, eps: ctx.ro.eps, feedback: true, k });
      const Hd = denseOf((v, out) => H.hvp(v, out), H.dim);
      const g = H.gradient();
      const s = [1e-3, 1].map((lambda) => {
        const A = Float64Array.from(Hd);
        for (let i = 0; i < H.dim; i++) A[i * H.dim + i] += lambda;
        return denseSolve(A, g.map((v) => -v), H.dim);
      });
      dense = { s, g, ev: symmetricEigenvalues(Hd, H.dim) };
    },
    afterUpdate: (k, dw) => {
      if (k === 40) dwAt = Float64Array.from(dw);
    },
  });
  const d = dense!;
  const cos = (x: ArrayLike<number>, y: ArrayLike<number>) => {
    let xy = 0, xx = 0, yy = 0;
    for (let i = 0; i < x.length; i++) { xy += x[i] * y[i]; xx += x[i] * x[i]; yy += y[i] * y[i]; }
    return xy / Math.sqrt(xx * yy);
  };
  rows.forEach((r, i) => {
    assert.ok(r.converged && r.residual <= 1e-9, `lambda ${r.lambda}: residual ${r.residual}`);
    assert.ok(Math.abs(r.cosRule - cos(d.s[i], dwAt!)) < 1e-6, `cos(s, dw) ${r.cosRule} vs dense ${cos(d.s[i], dwAt!)}`);
    assert.ok(Math.abs(r.cosGradient - cos(d.s[i], d.g.map((v) => -v))) < 1e-6);
    assert.ok(Math.abs(r.cosRuleGradient - cos(dwAt!, d.g.map((v) => -v))) < 1e-12);
    // The built-in dense columns agree with the hand computation too.
    assert.ok(r.denseStepError < 1e-6 && Math.abs(r.cosRuleDense - cos(d.s[i], dwAt!)) < 1e-9, `dense columns: ${r.denseStepError} ${r.cosRuleDense}`);
  });
  assert.ok(Math.abs(rows[0].eigMinDense - d.ev[0]) < 1e-9 && rows[0].conditionDense > 1);
  assert.throws(() => secondOrderAlignment(pretrainedN(70), config, { trials: [0], steps: [1], dense: true }), /dense: needs N\*N <= 4096/);
  const scale = Math.max(Math.abs(d.ev[0]), Math.abs(d.ev[d.ev.length - 1]));
  assert.ok(Math.abs(rows[0].eigMin - d.ev[0]) < 1e-6 * scale && Math.abs(rows[0].eigMax - d.ev[d.ev.length - 1]) < 1e-6 * scale, `${rows[0].eigMin} ${rows[0].eigMax} vs ${d.ev[0]} ${d.ev[d.ev.length - 1]}`);
});

test("dense reference: Householder + bisection eigenvalues and the pivoted solve against independent ones", () => {
  const rng = Rng.seeded(9);
  for (const n of [1, 2, 7, 30]) {
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = rng.normal();
    const mine = dense.symmetricEigenvalues(A, n);
    const ref = symmetricEigenvalues(A, n);
    mine.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) < 1e-10, `n=${n}: eigenvalue ${i}: ${v} vs ${ref[i]}`));
    const b = Float64Array.from({ length: n }, () => rng.normal());
    const x = dense.solveDense(A, b, n);
    assert.ok(rel(x, denseSolve(A, b, n)) < 1e-9);
    assert.deepEqual(dense.denseMatrix((v, out) => { for (let i = 0; i < n; i++) { let s = 0; for (let j = 0; j < n; j++) s += A[i * n + j] * v[j]; out[i] = s; } }, n), A);
  }
  assert.throws(() => dense.solveDense(new Float64Array(4), new Float64Array(2), 2), /singular/);
});
