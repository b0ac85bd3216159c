import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";
import { OnlineBptt, Rflo, Fed, makeRule } from "../src/rules";
import { cursorRotation } from "../src/perturbation";

function tiny(overrides: Partial<net.NetworkConfig> = {}, N = 6) {
  const n = net.initNetwork({ N, ...overrides }, Rng.seeded(21, "weights"), "float64");
  // x8 makes recurrence matter; through a plant x2, since unbounded rates would overflow the arm's state.
  const scale = overrides.plant ? 2 : 8;
  for (let i = 0; i < n.params.wRec.length; i++) n.params.wRec[i] *= scale;
  const batch = task.rotate(task.centreOut([3], { T: 100, goTime: 50 }), 30);
  const x0 = Float64Array.from({ length: N }, (_, i) => 0.3 * Math.cos(1 + 2 * i));
  return { n, batch, x0 };
}

/** l_{k+1} = mean_d e_{k+1,d}^2 of trial 0. */
const stepLoss = (ro: net.Rollout, k: number) => (ro.e[(k + 1) * ro.B * 2] ** 2 + ro.e[(k + 1) * ro.B * 2 + 1] ** 2) / 2;

for (const [label, overrides, feedback, perturbations] of [
  ["position error, feedback on (detached)", {}, true],
  ["position error, feedback off", {}, false],
  ["velocity error, feedback on", { errorMode: "velocity" }, true],
  ["through a point mass, feedback on (detached)", { e0: "zero", plant: { name: "point_mass" } }, true],
  ["through a two-joint arm, feedback on (detached)", { e0: "zero", plant: { name: "two_joint_arm" } }, true],
  ["through a two-joint arm, velocity error", { e0: "zero", errorMode: "velocity", plant: { name: "two_joint_arm" } }, true],
  ["through a point mass seen through a 120-degree cursor rotation", { e0: "zero", plant: { name: "point_mass" } }, true, [cursorRotation(120)]],
] as const) {
  test(`online BPTT equals float64 finite differences of the step loss: ${label}`, () => {
    const { n, batch, x0 } = tiny(overrides as Partial<net.NetworkConfig>);
    const ro = net.simulate(n, batch, { x0, feedback, perturbations });
    const replay = Float64Array.from(ro.eps); // the fed-back error is a constant for the gradient
    const rule = new OnlineBptt();
    rule.reset(n, ro);
    for (const k of [0, 3, 40, 99]) {
      const dw = Float64Array.from(rule.gradient(k));
      // The arm's velocity is a secant over one step (1/dt times a difference of angles' sines), so
      // round-off dominates central differences below h 1e-5 (measured: error 3e-4 at 1e-7, 3e-5 at 1e-6,
      // 3e-6 at 1e-5, under 1e-6 at 1e-4); its cases take h 1e-4.
      const h = (overrides as Partial<net.NetworkConfig>).plant?.name === "two_joint_arm" ? 1e-4 : 1e-6;
      let en = 0;
      let ed = 0;
      for (let i = 0; i < n.params.wRec.length; i++) {
        const keep = n.params.wRec[i];
        n.params.wRec[i] = keep + h;
        const up = stepLoss(net.simulate(n, batch, { x0, feedback, perturbations, replayFeedback: replay }), k);
        n.params.wRec[i] = keep - h;
        const down = stepLoss(net.simulate(n, batch, { x0, feedback, perturbations, replayFeedback: replay }), k);
        n.params.wRec[i] = keep;
        const fd = -(up - down) / (2 * h);
        en += (dw[i] - fd) ** 2;
        ed += fd ** 2;
      }
      if (k === 0 && ed === 0) continue; // l_1 may not depend on W_rec through inactive units
      assert.ok(ed > 0, `k=${k}: gradient is identically zero; the check would be empty`);
      assert.ok(Math.sqrt(en / ed) < 1e-6, `k=${k}: relative error ${Math.sqrt(en / ed)}`);
    }
  });
}

test("online BPTT equals TensorFlow.js autodiff of the step loss (float32)", async () => {
  const { initTf } = await import("../src/backend");
  const { tfStepLossGradient } = await import("../src/tfmodel");
  const { tf } = await initTf();
  const { n, batch, x0 } = tiny({ fbDelay: 1 });
  const n32 = net.cloneNetwork(n, "float32");
  const n64 = net.cloneNetwork(n32, "float64");
  const ro = net.simulate(n64, batch, { x0 });
  const rule = new OnlineBptt();
  rule.reset(n64, ro);
  for (const k of [10, 60, 99]) {
    const dw = rule.gradient(k);
    const auto = tfStepLossGradient(tf, n32, batch, x0, k);
    let en = 0;
    let ed = 0;
    for (let i = 0; i < dw.length; i++) {
      en += (dw[i] + auto[i]) ** 2; // dw = -gradient
      ed += dw[i] ** 2;
    }
    assert.ok(ed > 0);
    assert.ok(Math.sqrt(en / ed) < 1e-4, `k=${k}: relative difference ${Math.sqrt(en / ed)}`);
  }
});

test("RFLO matches a hand computation on a two-unit network", () => {
  const { n, batch } = tiny({}, 2);
  const x0 = [0.3, -0.2];
  const ro = net.simulate(n, batch, { x0 });
  const rule = new Rflo();
  rule.reset(n, ro);
  const a = 0.2;
  const x = (k: number, i: number) => ro.x[k * 2 + i];
  const r = (k: number, j: number) => ro.r[k * 2 + j];
  const e = (k: number, o: number) => ro.e[k * 2 + o];
  const W = n.params.wFb; // [2 units, 2 outputs]
  // By hand: P_1 = a relu'(x_1) r_0^T, P_2 = a relu'(x_2) r_1^T + (1 - a) P_1, P_3 likewise; dw_k = diag(W_fb e_{k+1}) P_{k+1}.
  const relu1 = (v: number) => (v > 0 ? 1 : 0);
  let P = [[0, 0], [0, 0]];
  for (let k = 0; k < 3; k++) {
    P = [0, 1].map((i) => [0, 1].map((j) => a * relu1(x(k + 1, i)) * r(k, j) + (1 - a) * P[i][j]));
    rule.advance(k);
    const out = new Float64Array(4);
    const norm = rule.accumulate(k, out, 1);
    const s = [0, 1].map((i) => W[i * 2] * e(k + 1, 0) + W[i * 2 + 1] * e(k + 1, 1));
    const hand = [s[0] * P[0][0], s[0] * P[0][1], s[1] * P[1][0], s[1] * P[1][1]];
    for (let q = 0; q < 4; q++) assert.ok(Math.abs(out[q] - hand[q]) < 1e-15, `k=${k} entry ${q}: ${out[q]} vs ${hand[q]}`);
    assert.ok(Math.abs(norm - Math.hypot(...hand)) < 1e-15);
    // accumulate adds scale * dw into the caller's buffer.
    const twice = Float64Array.from(out);
    rule.accumulate(k, twice, 2);
    for (let q = 0; q < 4; q++) assert.ok(Math.abs(twice[q] - 3 * hand[q]) < 1e-15);
  }
  assert.ok(r(0, 0) > 0 && P.flat().some((v) => v !== 0), "the example exercises a non-zero trace");
});

test("RFLO is exact where theory says so: no recurrence, all units active, W_fb = W_out^T, instantaneous error", () => {
  // With W_rec = 0 the only path from W_rec to e_{k+1} = v*_k - W_out r_{k+1} is the leaky integration of
  // each unit's own drive; with every unit active relu' = 1 at all steps, and then RFLO's trace is the
  // exact sensitivity dx_{k+1}/dW_rec. With W_fb = W_out^T its update equals -dl_{k+1}/dW_rec.
  const { n, batch } = tiny({ errorMode: "velocity" }, 5);
  n.params.wRec.fill(0);
  n.params.b.fill(3); // keeps every x > 0
  for (let i = 0; i < 5; i++) for (let o = 0; o < 2; o++) n.params.wFb[i * 2 + o] = n.params.wOut[o * 5 + i];
  const x0 = new Float64Array(5).fill(0.5);
  const ro = net.simulate(n, batch, { x0, feedback: false });
  assert.ok(ro.x.every((v) => v > 0));
  const rflo = new Rflo();
  const bptt = new OnlineBptt();
  rflo.reset(n, ro);
  bptt.reset(n, ro);
  for (let k = 0; k < batch.T; k++) {
    rflo.advance(k);
    const a = new Float64Array(25);
    rflo.accumulate(k, a, 1);
    const b = bptt.gradient(k);
    for (let i = 0; i < 25; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-12 * (1 + Math.abs(b[i])), `k=${k}: ${a[i]} vs ${b[i]}`);
  }
  // Counter-check: with recurrence RFLO is only an approximation.
  const { n: rec, batch: b2, x0: x2 } = tiny({ errorMode: "velocity" }, 5);
  const ro2 = net.simulate(rec, b2, { x0: x2 });
  rflo.reset(rec, ro2);
  bptt.reset(rec, ro2);
  let maxRel = 0;
  for (let k = 0; k < 60; k++) {
    rflo.advance(k);
    const a = new Float64Array(25);
    rflo.accumulate(k, a, 1);
    const b = bptt.gradient(k);
    let d = 0, s = 0;
    for (let i = 0; i < 25; i++) { d += (a[i] - b[i]) ** 2; s += b[i] ** 2; }
    if (s > 0) maxRel = Math.max(maxRel, Math.sqrt(d / s));
  }
  assert.ok(maxRel > 1e-3, "with recurrence and W_fb != W_out^T, RFLO differs from the true gradient");
});

test("FED: presynaptic trace p = a r_0, then a r_{k+1} + (1-a) p; dw = (W_fb e) p^T", () => {
  const { n, batch, x0 } = tiny({}, 3);
  const ro = net.simulate(n, batch, { x0 });
  const rule = new Fed();
  rule.reset(n, ro);
  let p = [0, 1, 2].map((j) => 0.2 * ro.r[j]);
  for (let k = 0; k < 5; k++) {
    p = p.map((pj, j) => 0.2 * ro.r[(k + 1) * 3 + j] + 0.8 * pj);
    rule.advance(k);
    const out = new Float64Array(9);
    rule.accumulate(k, out, 1);
    const s = [0, 1, 2].map((i) => n.params.wFb[i * 2] * ro.e[(k + 1) * 2] + n.params.wFb[i * 2 + 1] * ro.e[(k + 1) * 2 + 1]);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(out[i * 3 + j] - s[i] * p[j]) < 1e-15);
  }
});

test("rule options: transpose projection, the legacy row-0 bug only as a named option", () => {
  const { n, batch, x0 } = tiny({}, 4);
  const ro = net.simulate(n, batch, { x0 });
  const t = new Rflo({ projection: "transpose" });
  const legacy = new Rflo({ projection: "transpose", legacyRow0: true });
  t.reset(n, ro);
  legacy.reset(n, ro);
  for (let k = 0; k < 30; k++) {
    t.advance(k);
    legacy.advance(k);
  }
  const a = new Float64Array(16);
  const b = new Float64Array(16);
  t.accumulate(29, a, 1);
  legacy.accumulate(29, b, 1);
  // Legacy: every row i uses P[0, :], so rows are proportional to the same vector.
  for (let i = 1; i < 4; i++) for (let j = 0; j < 4; j++) assert.ok(Math.abs(b[i * 4 + j] * b[0] - b[j] * b[i * 4]) <= 1e-12 * (Math.abs(b[i * 4 + j] * b[0]) + 1e-300), `${i},${j}: ${b[i * 4 + j] * b[0]} vs ${b[j] * b[i * 4]}`);
  assert.notDeepEqual(a, b);
  assert.throws(() => new Rflo({ legacyRow0: true }), /legacyRow0/);
  assert.throws(() => makeRule("rflo2" as never), /rule: must be one of "rflo", "bptt", "fed"/);
  assert.equal(makeRule("bptt").name, "bptt");
});
