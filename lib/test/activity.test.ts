import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";
import { controlAlignment, oneStepGradient, rateAdjoint, withFeedback, acrossTrials } from "../src/analysis/activityGradient";
import { trialGradient } from "../src/analysis/trialGradient";
import { frobenius } from "../src/analysis/alignment";
import { naiveForward, setup } from "./reference-forward";

const halfSquares = (E: Float64Array) => E.reduce((s, e) => s + 0.5 * e * e, 0);

const cases: { label: string; config?: Partial<net.NetworkConfig>; feedback?: boolean; through?: boolean }[] = [
  { label: "position error, feedback on and detached" },
  { label: "feedback off", feedback: false },
  { label: "through the feedback loop", through: true },
  { label: "feedback delay 2, through the loop", config: { fbDelay: 2 }, through: true },
  { label: "velocity error, e0 = 0", config: { errorMode: "velocity", e0: "zero" } },
];

for (const c of cases) {
  test(`the rate adjoint -dL/dr_m equals float64 finite differences: ${c.label}`, () => {
    const { n, batch, x0 } = setup(c.config);
    const feedback = c.feedback ?? true;
    const ro = net.simulate(n, batch, { feedback, x0, detachFeedback: !c.through });
    const naive = naiveForward(n, batch, x0, { feedback });
    for (let i = 0; i < naive.length; i++) assert.ok(Math.abs(naive[i] - ro.e[i]) <= 1e-12 * Math.max(1, Math.abs(ro.e[i])), "the test's forward pass matches simulate");
    const lambda = rateAdjoint(n, ro, { throughFeedback: c.through });
    const replay = c.through ? undefined : Float64Array.from(ro.eps);
    const { N } = n.config;
    const BN = batch.B * N;
    const h = 1e-6;
    let num = 0;
    let den = 0;
    for (const m of [0, 1, 2, 9, batch.T - 1, batch.T]) {
      for (let i = 0; i < BN; i++) {
        const delta = new Float64Array(BN);
        delta[i] = h;
        const up = halfSquares(naiveForward(n, batch, x0, { feedback, replay, perturb: { m, delta } }));
        delta[i] = -h;
        const down = halfSquares(naiveForward(n, batch, x0, { feedback, replay, perturb: { m, delta } }));
        const fd = -(up - down) / (2 * h);
        num += (fd - lambda[m * BN + i]) ** 2;
        den += fd * fd;
      }
    }
    assert.ok(den > 0);
    assert.ok(Math.sqrt(num / den) < 1e-6, `relative error ${Math.sqrt(num / den)}`);
  });
}

test("the one-step gradient is dt W_out^T e_m; the after-next horizon removes exactly it from the adjoint", () => {
  const { n, batch, x0 } = setup();
  const ro = net.simulate(n, batch, { x0, detachFeedback: true });
  const one = oneStepGradient(n, ro);
  const { N, nOut, dt } = n.config;
  const B = batch.B;
  for (const m of [1, 12, batch.T]) {
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < N; i++) {
        let v = 0;
        for (let o = 0; o < nOut; o++) v += dt * n.params.wOut[o * N + i] * ro.e[(m * B + b) * nOut + o];
        assert.ok(Math.abs(one[(m * B + b) * N + i] - v) < 1e-14);
      }
    }
  }
  const from = controlAlignment(n, ro);
  const after = controlAlignment(n, ro, { horizon: "after-next" });
  assert.deepEqual(from.oneStep.cosine, after.oneStep.cosine);
  assert.notDeepEqual(from.adjoint.cosine, after.adjoint.cosine);
  // By hand for one (trial, step): cos(c_k, lambda_{k+1} - one_{k+1}).
  const lambda = rateAdjoint(n, ro);
  const k = 10;
  const b = 1;
  const c = Array.from({ length: N }, (_, i) => ro.c[(k * B + b) * N + i]);
  const g = Array.from({ length: N }, (_, i) => lambda[((k + 1) * B + b) * N + i] - one[((k + 1) * B + b) * N + i]);
  const dotp = c.reduce((s, ci, i) => s + ci * g[i], 0);
  assert.ok(Math.abs(after.adjoint.cosine[b * batch.T + k] - dotp / (frobenius(c) * frobenius(g))) < 1e-12);
  assert.ok(Math.abs(after.adjoint.normRatio[b * batch.T + k] - frobenius(c) / frobenius(g)) < 1e-12);
  // c_0 = 0 (no fed-back error at the first step): no cosine there.
  assert.ok(Number.isNaN(from.oneStep.cosine[0]));
  const s = acrossTrials(from.oneStep.cosine, B, batch.T);
  assert.ok(Number.isNaN(s.mean[0]) && Number.isFinite(s.mean[5]) && s.min[5] <= s.mean[5] && s.mean[5] <= s.max[5]);
  assert.throws(() => controlAlignment(n, ro, { horizon: "later" as never }), /horizon: must be one of/);
});

test("feedback controls: mask to ones, and a random W_fb with the same Frobenius norm", () => {
  const base = net.initNetwork({ N: 9, fbDensity: 0 }, Rng.seeded(2), "float64");
  assert.throws(() => withFeedback(base, { random: Rng.seeded(1) }), /effective feedback weights are zero/);
  const ones = withFeedback(base, { mask: "ones" });
  assert.ok(ones.params.mask.every((v) => v === 1));
  assert.ok(base.params.mask.every((v) => v === 0), "the original is untouched");
  const rnd = withFeedback(ones, { random: Rng.seeded(1) });
  assert.ok(Math.abs(frobenius(rnd.params.wFb) - frobenius(ones.params.wFb)) < 1e-12);
  assert.notDeepEqual(rnd.params.wFb, ones.params.wFb);
  assert.deepEqual(rnd.params.wRec, ones.params.wRec);
});

test("the whole-trial gradient equals float64 finite differences of L_trial (feedback detached)", () => {
  for (const feedback of [true, false]) {
    const { n, batch, x0 } = setup({ N: 5 }, 20);
    const x0s = x0.subarray(0, batch.B * 5);
    const G = trialGradient(n, batch, { x0: x0s, feedback });
    const ro = net.simulate(n, batch, { feedback, x0: x0s });
    const replay = Float64Array.from(ro.eps);
    const h = 1e-6;
    let num = 0;
    let den = 0;
    const w = n.params.wRec;
    for (let i = 0; i < w.length; i++) {
      const keep = w[i];
      w[i] = keep + h;
      const up = halfSquares(naiveForward(n, batch, Float64Array.from(x0s), { feedback, replay }));
      w[i] = keep - h;
      const down = halfSquares(naiveForward(n, batch, Float64Array.from(x0s), { feedback, replay }));
      w[i] = keep;
      const fd = -(up - down) / (2 * h);
      num += (fd - G[i]) ** 2;
      den += fd * fd;
    }
    assert.ok(den > 0 && Math.sqrt(num / den) < 1e-6, `feedback ${feedback}: relative error ${Math.sqrt(num / den)}`);
  }
});
