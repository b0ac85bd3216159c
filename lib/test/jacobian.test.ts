import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "../src/network";
import { JACOBIAN_KINDS, JacobianKind, StepJacobian, jacobianNorms } from "../src/analysis/jacobian";
import { largestEigenvalue, relDiff, setup } from "./reference-forward";

/**
 * One step of the dynamics written out in the test, from a state (x_k, e_k) to (x_{k+1}, e_{k+1}), with the
 * fed-back error eps_k either given (open loop) or equal to e_k (closed loop, k >= 1).
 */
function step(n: net.Network, ro: net.Rollout, b: number, k: number, x: Float64Array, e: Float64Array, eps: ArrayLike<number>): { x: Float64Array; e: Float64Array } {
  const { N, nIn, nOut, dt, tau, errorMode } = n.config;
  const { wIn, wRec, wOut, bOut, wFb, mask } = n.params;
  const B = ro.B;
  const a = dt / tau;
  const r = x.map((v) => (v > 0 ? v : 0));
  const xn = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let drive = n.params.b[i];
    for (let m = 0; m < nIn; m++) drive += wIn[i * nIn + m] * ro.u[(k * B + b) * nIn + m];
    for (let j = 0; j < N; j++) drive += wRec[i * N + j] * r[j];
    if (ro.feedback) for (let o = 0; o < nOut; o++) drive += mask[i * nOut + o] * wFb[i * nOut + o] * eps[o];
    xn[i] = (1 - a) * x[i] + a * drive;
  }
  const rn = xn.map((v) => (v > 0 ? v : 0));
  const en = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) {
    let y = bOut[o];
    for (let i = 0; i < N; i++) y += wOut[o * N + i] * rn[i];
    const v = y + ro.push[(k * B + b) * nOut + o];
    const ref = ro.ref[(k * B + b) * nOut + o];
    en[o] = errorMode === "position" ? e[o] + dt * (ref - v) : ref - v;
  }
  return { x: xn, e: en };
}

/** The Jacobian of kind `kind` at (trial b, step k) by central differences of `step`. */
function fdJacobian(n: net.Network, ro: net.Rollout, b: number, k: number, kind: JacobianKind, h = 1e-6): Float64Array {
  const { N, nOut, dt, errorMode } = n.config;
  const B = ro.B;
  const dim = kind === "closed" ? N + nOut : N;
  const x0 = Float64Array.from({ length: N }, (_, i) => ro.x[(k * B + b) * N + i]);
  const e0 = Float64Array.from({ length: nOut }, (_, o) => (k === 0 ? ro.e0[b * nOut + o] : ro.e[(k * B + b) * nOut + o]));
  const epsFixed = Array.from({ length: nOut }, (_, o) => ro.eps[(k * B + b) * nOut + o]);
  const map = (z: Float64Array): Float64Array => {
    const x = z.subarray(0, N);
    let e = kind === "closed" ? z.subarray(N) : e0;
    if (kind === "reduced" && k >= 1) {
      // e_k recomputed from the perturbed r_k through its last increment.
      const r = x.map((v) => (v > 0 ? v : 0));
      const ePrev = k === 1 ? Array.from(ro.e0.subarray(b * nOut, (b + 1) * nOut)) : Array.from(ro.e.subarray(((k - 1) * B + b) * nOut, ((k - 1) * B + b + 1) * nOut));
      e = Float64Array.from({ length: nOut }, (_, o) => {
        let y = n.params.bOut[o];
        for (let i = 0; i < N; i++) y += n.params.wOut[o * N + i] * r[i];
        const v = y + ro.push[((k - 1) * B + b) * nOut + o];
        const ref = ro.ref[((k - 1) * B + b) * nOut + o];
        return errorMode === "position" ? ePrev[o] + dt * (ref - v) : ref - v;
      });
    }
    const eps = kind === "open" || k === 0 ? epsFixed : e;
    const next = step(n, ro, b, k, Float64Array.from(x), Float64Array.from(e), eps);
    return kind === "closed" ? Float64Array.from([...next.x, ...next.e]) : next.x;
  };
  const z = kind === "closed" ? Float64Array.from([...x0, ...e0]) : x0;
  const J = new Float64Array(dim * dim);
  for (let j = 0; j < dim; j++) {
    const hj = h * Math.max(1, Math.abs(z[j])); // the velocity-error case runs into large states
    const up = Float64Array.from(z);
    up[j] += hj;
    const down = Float64Array.from(z);
    down[j] -= hj;
    const fu = map(up);
    const fd = map(down);
    for (let i = 0; i < dim; i++) J[i * dim + j] = (fu[i] - fd[i]) / (2 * hj);
  }
  return J;
}

function matmul(A: Float64Array, B: Float64Array, n: number): Float64Array {
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let p = 0; p < n; p++) for (let j = 0; j < n; j++) C[i * n + j] += A[i * n + p] * B[p * n + j];
  return C;
}

function spectralNorm(A: Float64Array, n: number): number {
  const AtA = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let p = 0; p < n; p++) AtA[i * n + j] += A[p * n + i] * A[p * n + j];
  return Math.sqrt(largestEigenvalue(AtA, n));
}


for (const config of [{}, { errorMode: "velocity" as const }]) {
  for (const feedback of [true, false]) {
    test(`step Jacobians equal float64 central differences (${config.errorMode ?? "position"} error, feedback ${feedback ? "on" : "off"})`, () => {
      const { n, batch, x0 } = setup(config);
      const ro = net.simulate(n, batch, { x0, feedback });
      for (const kind of JACOBIAN_KINDS) {
        const J = new StepJacobian(n, ro, kind);
        for (const k of [0, 1, 6, batch.T - 1]) {
          for (let b = 0; b < batch.B; b++) {
            const dense = J.matrix(k, b);
            const fd = fdJacobian(n, ro, b, k, kind);
            assert.ok(relDiff(dense, fd) < 1e-6, `${kind} k=${k} b=${b}: relative difference ${relDiff(dense, fd)}`);
            // The transposed operator is the transpose, and the closed-form Frobenius norm is that of the matrix.
            const dim = J.dim;
            const V = new Float64Array(batch.B * dim);
            const W = new Float64Array(batch.B * dim);
            for (let j = 0; j < dim; j++) {
              V.fill(0);
              V[b * dim + j] = 1;
              J.applyT(k, V, W);
              for (let i = 0; i < dim; i++) assert.ok(Math.abs(W[b * dim + i] - dense[j * dim + i]) < 1e-12, `${kind} transpose`);
            }
            const fro = Math.sqrt(dense.reduce((s, v) => s + v * v, 0));
            assert.ok(Math.abs(J.frobenius(k)[b] - fro) < 1e-10 * fro, `${kind} Frobenius ${J.frobenius(k)[b]} vs ${fro}`);
          }
        }
      }
      if (feedback) {
        // With feedback on, the closed loop differs from the open one (and the reduced form from both).
        const open = new StepJacobian(n, ro, "open").matrix(5, 0);
        const red = new StepJacobian(n, ro, "reduced").matrix(5, 0);
        assert.ok(relDiff(red, open) > 1e-3);
      }
    });
  }
}

test("spectral norms of Jacobians and of their products match dense computations", () => {
  const { n, batch, x0 } = setup();
  const ro = net.simulate(n, batch, { x0 });
  for (const kind of JACOBIAN_KINDS) {
    const J = new StepJacobian(n, ro, kind);
    const steps = [0, 3, 4, 12, batch.T - 1];
    const res = jacobianNorms(n, ro, { kind, products: [1, 3], steps, tolerance: 1e-13 });
    assert.ok(res.converged, `${kind}: Lanczos converged`);
    steps.forEach((k, si) => {
      for (let b = 0; b < batch.B; b++) {
        const dense = J.matrix(k, b);
        const s1 = spectralNorm(dense, J.dim);
        assert.ok(Math.abs(res.spectral.get(1)![b * steps.length + si] - s1) < 1e-6 * s1, `${kind} k=${k}: ${res.spectral.get(1)![b * steps.length + si]} vs ${s1}`);
        assert.ok(Math.abs(res.frobenius[b * steps.length + si] - Math.sqrt(dense.reduce((s, v) => s + v * v, 0))) < 1e-9);
        const p3 = res.spectral.get(3)![b * steps.length + si];
        if (k < 2) {
          assert.ok(Number.isNaN(p3), "a product reaching before step 0 is undefined");
          continue;
        }
        const prod = matmul(matmul(dense, J.matrix(k - 1, b), J.dim), J.matrix(k - 2, b), J.dim);
        const s3 = spectralNorm(prod, J.dim);
        assert.ok(Math.abs(p3 - s3) < 1e-6 * s3, `${kind} product k=${k}: ${p3} vs ${s3}`);
      }
    });
  }
  assert.throws(() => jacobianNorms(n, ro, { products: [0] }), /products\[0\]/);
  assert.throws(() => jacobianNorms(n, ro, { kind: "full" as never }), /kind: must be one of/);
  const delayed = { ...n, config: { ...n.config, fbDelay: 1 } };
  assert.throws(() => new StepJacobian(delayed, net.simulate(delayed, batch, { x0 }), "closed"), /fbDelay 0/);
});

test("Lanczos finds the top singular value well before the full dimension (N = 60)", () => {
  const { n, batch, x0 } = setup({ N: 60 });
  for (let i = 0; i < n.params.wRec.length; i++) n.params.wRec[i] /= 3;
  const ro = net.simulate(n, batch, { x0 });
  for (const kind of ["open", "closed"] as const) {
    const J = new StepJacobian(n, ro, kind);
    const res = jacobianNorms(n, ro, { kind, products: [1, 4], steps: [10, 20], maxIterations: 40 });
    assert.ok(res.converged && res.iterations < 40, `${kind}: ${res.iterations} iterations`);
    [10, 20].forEach((k, si) => {
      for (let b = 0; b < batch.B; b++) {
        const s1 = spectralNorm(J.matrix(k, b), J.dim);
        const got = res.spectral.get(1)![b * 2 + si];
        assert.ok(Math.abs(got - s1) < 1e-6 * s1, `${kind} k=${k}: ${got} vs ${s1}`);
        let P = J.matrix(k, b);
        for (let j = k - 1; j >= k - 3; j--) P = matmul(P, J.matrix(j, b), J.dim);
        const s4 = spectralNorm(P, J.dim);
        assert.ok(Math.abs(res.spectral.get(4)![b * 2 + si] - s4) < 1e-6 * s4, `${kind} product: ${res.spectral.get(4)![b * 2 + si]} vs ${s4}`);
      }
    });
  }
});
