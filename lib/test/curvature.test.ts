// Curvature of the step loss with control on and off (analysis/curvature.ts): the tridiagonal eigensolver,
// Lanczos extremes with their residual check, and stochastic Lanczos quadrature, each against a dense
// eigendecomposition of a Hessian built column by column from exact Hessian-vector products on a tiny network.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "../src/network";
import * as task from "../src/task";
import { Rng } from "../src/rng";
import { StepHessian } from "../src/analysis/hessian";
import { tridiagonalEigenvalue } from "../src/analysis/krylov";
import { denseMatrix } from "../src/analysis/dense";
import { densitySummary, extremeEigenvalues, ownFeedback, spectralDensity, stepCurvature, tridiagonalEigensystem } from "../src/analysis/curvature";
import { setup, symmetricEigenvalues } from "./reference-forward";

test("tridiagonalEigensystem: eigenvalues equal Sturm bisection, eigenvectors satisfy T z = theta z and are orthonormal", () => {
  const rng = Rng.seeded(3, "tri");
  const m = 12;
  const a = Array.from({ length: m }, () => rng.normal());
  const b = Array.from({ length: m - 1 }, () => rng.normal());
  const all = Array.from({ length: m }, (_, i) => i);
  const es = tridiagonalEigensystem(a, b, all);
  for (let j = 0; j < m; j++) {
    assert.ok(Math.abs(es.values[j] - tridiagonalEigenvalue(a, b, j)) < 1e-12, `eigenvalue ${j}`);
    const z = es.rows.map((row) => row[j]);
    for (let i = 0; i < m; i++) {
      const Tz = a[i] * z[i] + (i > 0 ? b[i - 1] * z[i - 1] : 0) + (i < m - 1 ? b[i] * z[i + 1] : 0);
      assert.ok(Math.abs(Tz - es.values[j] * z[i]) < 1e-12, `(T z - theta z)[${i}] for eigenvalue ${j}`);
    }
    for (let l = 0; l <= j; l++) {
      const d = es.rows.reduce((s, row) => s + row[j] * row[l], 0);
      assert.ok(Math.abs(d - (l === j ? 1 : 0)) < 1e-12, `z_${j} . z_${l} = ${d}`);
    }
  }
  // Asking for row 0 only gives the same first components (up to each eigenvector's sign).
  const first = tridiagonalEigensystem(a, b, [0]);
  for (let j = 0; j < m; j++) assert.ok(Math.abs(Math.abs(first.rows[0][j]) - Math.abs(es.rows[0][j])) < 1e-12);
});

/** The tiny problem: N = 6 (36 weights), one rotated trial, step 17 of 25. */
function tiny(control: boolean) {
  const { n, batch, x0 } = setup({ N: 6 }, 25);
  const x = x0.subarray(6, 12);
  const k = 17;
  const eps = ownFeedback(n, batch, 1, x, control);
  const H = new StepHessian({ net: n, batch, trial: 1, x0: x, eps, feedback: control, k });
  const D = denseMatrix((v, out) => H.hvp(v, out), H.dim);
  // symmetrise the float64 rounding before the (independent) Jacobi eigensolver of the test helpers
  for (let i = 0; i < H.dim; i++) for (let j = 0; j < i; j++) D[i * H.dim + j] = D[j * H.dim + i] = 0.5 * (D[i * H.dim + j] + D[j * H.dim + i]);
  const ev = symmetricEigenvalues(D, H.dim);
  return { n, batch, x, k, H, D, ev };
}

for (const control of [true, false]) {
  test(`Lanczos extremes of the step-loss Hessian equal the dense eigenvalues (N = 6, control ${control ? "on" : "off"})`, () => {
    const { n, batch, x, k, H, ev } = tiny(control);
    const scale = Math.max(-ev[0], ev[ev.length - 1]);
    assert.ok(ev[0] < -1e-6 * scale, `the tiny Hessian is indefinite (min ${ev[0]})`);
    const r = stepCurvature(n, batch, 1, x, k, control, { extremes: { tol: 1e-8 }, probes: 2, steps: 10 });
    assert.equal(r.loss, H.loss);
    assert.ok(r.extremes.convergedMin && r.extremes.convergedMax, "converged");
    assert.ok(Math.abs(r.extremes.min - ev[0]) < 1e-7 * scale, `min ${r.extremes.min} vs dense ${ev[0]}`);
    assert.ok(Math.abs(r.extremes.max - ev[ev.length - 1]) < 1e-7 * scale, `max ${r.extremes.max} vs dense ${ev[ev.length - 1]}`);
    assert.ok(r.extremes.residualMin <= 1e-8 * scale && r.extremes.residualMax <= 1e-8 * scale);
  });
}

test("control on and off give different step losses and Hessians at the same weights (the flag is used; off feeds back nothing)", () => {
  const on = tiny(true);
  const off = tiny(false);
  assert.ok(Math.abs(on.H.loss - off.H.loss) > 1e-6 * on.H.loss, `losses ${on.H.loss} and ${off.H.loss}`);
  assert.ok(Math.abs(on.ev[0] - off.ev[0]) > 1e-6 * Math.abs(on.ev[0]));
  assert.ok(ownFeedback(off.n, off.batch, 1, off.x, false).every((v) => v === 0));
  // With control on, the replayed error is the closed loop's own: the open-loop replay reproduces its rollout.
  const one = net.simulate(on.n, task.selectTrials(on.batch, [1]), { feedback: true, x0: on.x });
  const eps = ownFeedback(on.n, on.batch, 1, on.x, true);
  assert.deepEqual(Array.from(eps), Array.from(one.eps));
});

test("too few Lanczos steps are reported as not converged", () => {
  const { H } = tiny(false);
  const r = extremeEigenvalues((v, out) => H.hvp(v, out), H.dim, { maxIterations: 3, tol: 1e-10 });
  assert.equal(r.iterations, 3);
  assert.ok(!(r.convergedMin && r.convergedMax), `residuals ${r.residualMin}, ${r.residualMax}`);
});

test("SLQ: with the unit vectors as probes and full Lanczos, the mean negative mass is the dense fraction exactly; quadrature is exact for low moments", () => {
  const { H, ev } = tiny(true);
  const dim = H.dim;
  const op = (v: Float64Array, out: Float64Array) => H.hvp(v, out);
  const scale = Math.max(-ev[0], ev[ev.length - 1]);
  const units = Array.from({ length: dim }, (_, i) => Float64Array.from({ length: dim }, (_, j) => (i === j ? 1 : 0)));
  const rules = spectralDensity(op, dim, { vectors: units, steps: dim });
  for (const threshold of [1e-3, 1e-2, 1e-1]) {
    const s = densitySummary(rules, scale, threshold, dim);
    const neg = ev.filter((x) => x < -threshold * scale).length / dim;
    const pos = ev.filter((x) => x > threshold * scale).length / dim;
    assert.ok(Math.abs(s.negativeMass.mean - neg) < 1e-9, `threshold ${threshold}: negative mass ${s.negativeMass.mean} vs dense ${neg}`);
    assert.ok(Math.abs(s.positiveMass.mean - pos) < 1e-9, `threshold ${threshold}: positive mass ${s.positiveMass.mean} vs dense ${pos}`);
    assert.ok(neg > 0 && pos > 0);
  }
  const trace = ev.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(densitySummary(rules, scale, 1e-2, dim).trace.mean / dim - trace / dim) < 1e-9 * scale, "trace");
  // One Rademacher probe, 4 steps: sum_j w_j theta_j^p = q^T H^p q / |q|^2 for p <= 7.
  const rng = Rng.seeded(9, "probe");
  const q = Float64Array.from({ length: dim }, () => (rng.uniform() < 0.5 ? -1 : 1));
  const [rule] = spectralDensity(op, dim, { vectors: [q], steps: 4 });
  let v = Float64Array.from(q, (x) => x / Math.sqrt(dim));
  const u = Float64Array.from(v);
  for (let p = 0; p <= 7; p++) {
    const exact = u.reduce((s, x, i) => s + x * v[i], 0);
    const gauss = rule.nodes.reduce((s, t, j) => s + rule.weights[j] * t ** p, 0);
    assert.ok(Math.abs(gauss - exact) < 1e-9 * scale ** p, `moment ${p}: ${gauss} vs ${exact}`);
    const next = new Float64Array(dim);
    op(v, next);
    v = next;
  }
});

test("SLQ with Rademacher probes recovers a known spectrum (dim 2000: 10% of eigenvalues in [-1, -0.05], the rest in [0.05, 1])", () => {
  const dim = 2000;
  const lam = Float64Array.from({ length: dim }, (_, i) => (i < 200 ? -1 + (0.95 * i) / 199 : 0.05 + (0.95 * (i - 200)) / 1799));
  // H = P^T diag(lam) P with P a product of 3 Householder reflections (symmetric, orthogonal), so that the
  // eigenvectors are not the unit vectors (for which Rademacher probes would be exact).
  const rng = Rng.seeded(4, "householder");
  const us = [0, 1, 2].map(() => {
    const u = Float64Array.from({ length: dim }, () => rng.normal());
    const n = Math.sqrt(u.reduce((a, x) => a + x * x, 0));
    return u.map((x) => x / n);
  });
  const reflect = (v: Float64Array, order: Float64Array[]) => {
    for (const u of order) {
      const d = 2 * u.reduce((a, x, i) => a + x * v[i], 0);
      for (let i = 0; i < dim; i++) v[i] -= d * u[i];
    }
  };
  const op = (v: Float64Array, out: Float64Array) => {
    out.set(v);
    reflect(out, [...us].reverse()); // P v, P = R1 R2 R3 (R3 applied first)
    for (let i = 0; i < dim; i++) out[i] *= lam[i];
    reflect(out, us);
  };
  const ext = extremeEigenvalues(op, dim, { tol: 1e-6, maxIterations: 400 });
  assert.ok(ext.convergedMin && ext.convergedMax && Math.abs(ext.min + 1) < 1e-6 && Math.abs(ext.max - 1) < 1e-6, `extremes ${ext.min}, ${ext.max}`);
  // Cut short, the clustered top end is flagged, and the residual still bounds the distance to an eigenvalue.
  const short = extremeEigenvalues(op, dim, { tol: 1e-6, maxIterations: 100 });
  assert.ok(!short.convergedMax && 1 - short.max > 1e-6 && 1 - short.max <= short.residualMax, `cut short: max ${short.max}, residual ${short.residualMax}`);
  const s = densitySummary(spectralDensity(op, dim, { probes: 8, steps: 30, rng: Rng.seeded(2, "slq") }), 1, 0.01, dim);
  const negWeight = lam.filter((x) => x < 0).reduce((a, x) => a - x, 0) / lam.reduce((a, x) => a + Math.abs(x), 0);
  assert.ok(Math.abs(s.negativeMass.mean - 0.1) < 0.02, `negative mass ${s.negativeMass.mean} ± ${s.negativeMass.sd}`);
  assert.ok(Math.abs(s.positiveMass.mean - 0.9) < 0.02, `positive mass ${s.positiveMass.mean}`);
  assert.ok(Math.abs(s.negativeWeight.mean - negWeight) < 0.02, `negative weight ${s.negativeWeight.mean} vs ${negWeight}`);
  assert.ok(s.negativeMass.sd > 0 && s.negativeMass.sd < 0.05, `spread over probes ${s.negativeMass.sd}`);
});
