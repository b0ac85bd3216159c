import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";
import { TestLossHessian, sharpness } from "../src/analysis/sharpness";
import { denseMatrix, symmetricEigenvalues } from "../src/analysis/dense";

function setup(errorMode: "position" | "velocity") {
  const n = net.initNetwork({ N: 7, errorMode }, Rng.seeded(21), "float64");
  // Larger recurrent weights than at initialisation, so that the recurrence matters to the Hessian.
  for (let i = 0; i < n.params.wRec.length; i++) n.params.wRec[i] *= 3;
  const batch = task.rotate(task.centreOut([0, 3]), 30);
  return { n, batch };
}

const loss = (n: net.Network, batch: task.TrialBatch, feedback = false) => {
  const first = net.simulate(n, batch, { feedback, init: Rng.seeded(1, "eval-init") });
  if (!feedback) return net.taskLoss(first);
  return { first };
};

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i] - b[i]) ** 2; s += b[i] ** 2; }
  return Math.sqrt(d / s);
}

for (const errorMode of ["position", "velocity"] as const) {
  test(`test-loss Hessian (${errorMode} error): loss, gradient and H v against float64 central differences`, () => {
    const { n, batch } = setup(errorMode);
    const H = new TestLossHessian(n, batch);
    assert.equal(H.loss, loss(n, batch) as number, "the loss is network.taskLoss of the test rollout");
    const W = n.params.wRec;
    const lossAt = (d: Float64Array, h: number) => {
      const m = net.cloneNetwork(n);
      for (let i = 0; i < W.length; i++) m.params.wRec[i] = W[i] + h * d[i];
      return loss(m, batch) as number;
    };
    const rng = Rng.seeded(5);
    const v = Float64Array.from({ length: W.length }, () => rng.normal());
    const g = H.gradient();
    const h = 1e-5;
    const fdDirectional = (lossAt(v, h) - lossAt(v, -h)) / (2 * h);
    const gv = g.reduce((s, x, i) => s + x * v[i], 0);
    assert.ok(Math.abs(gv - fdDirectional) <= 1e-7 * Math.abs(fdDirectional), `directional derivative ${gv} vs ${fdDirectional}`);
    // H v against central differences of the gradient along v.
    const gradAt = (hh: number) => {
      const m = net.cloneNetwork(n);
      for (let i = 0; i < W.length; i++) m.params.wRec[i] = W[i] + hh * v[i];
      return new TestLossHessian(m, batch).gradient();
    };
    const gp = gradAt(h), gm = gradAt(-h);
    const fd = gp.map((x, i) => (x - gm[i]) / (2 * h));
    const hv = new Float64Array(W.length);
    H.hvp(v, hv);
    assert.ok(relDiff(hv, fd) < 1e-6, `H v vs differences of the gradient: ${relDiff(hv, fd)}`);
  });
}

test("the Lanczos top eigenvalues of the test loss's Hessian equal a dense Hessian's at N = 7 (feedback off and replayed on)", () => {
  const { n, batch } = setup("position");
  for (const feedback of [false, true]) {
    const H = new TestLossHessian(n, batch, { feedback });
    const dense = denseMatrix((v, out) => H.hvp(v, out), H.dim);
    let asym = 0, size = 0;
    for (let i = 0; i < H.dim; i++) for (let j = 0; j < H.dim; j++) {
      asym = Math.max(asym, Math.abs(dense[i * H.dim + j] - dense[j * H.dim + i]));
      size = Math.max(size, Math.abs(dense[i * H.dim + j]));
    }
    assert.ok(asym <= 1e-10 * size, `the Hessian is symmetric (${asym} of ${size})`);
    const all = symmetricEigenvalues(dense, H.dim).sort((a, b) => b - a);
    const s = sharpness(n, batch, { feedback, count: 3, maxIterations: H.dim, tol: 1e-12 });
    assert.ok(s.converged);
    for (let r = 0; r < 3; r++) assert.ok(Math.abs(s.eigenvalues[r] - all[r]) <= 1e-8 * Math.abs(all[0]), `feedback ${feedback}: eigenvalue ${r}: Lanczos ${s.eigenvalues[r]} vs dense ${all[r]}`);
    assert.ok(s.smallest >= all[all.length - 1] - 1e-8 * Math.abs(all[0]));
    assert.equal(s.loss, H.loss);
  }
  assert.throws(() => sharpness(n, batch, { count: 0 }), /count: must be an integer in \[1, 49\], got 0/);
});
