/**
 * The network driving a plant (NetworkConfig.plant, issue 24): the massless plant is today's hand bit for bit;
 * the plant's state runs in the rollout; what does not handle a plant yet refuses it in one line; pre-training
 * and RFLO run through a point mass. (The loss gradient through the plants: lib/test/loss.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";
import { lossGradient, zeroGrads } from "../src/loss";
import { makePlant } from "../src/plant";
import { Adapter, adaptConfig } from "../src/adapt";
import { Pretrainer, pretrainConfig } from "../src/train";
import { cursorRotation } from "../src/perturbation";
import { OnlineBptt } from "../src/rules";
import { StepJacobian } from "../src/analysis/jacobian";

const batch = () => task.addPushes(task.randomReaches(3, Rng.seeded(5, "trials"), { T: 100, goTime: 50 }), Rng.seeded(3), { probability: 0.5 });

test("the massless plant, named, is today's hand bit for bit (forward and gradient, float64 and float32)", () => {
  for (const dtype of ["float64", "float32"] as const) {
    const plain = net.initNetwork({ N: 8, e0: "zero" }, Rng.seeded(2, "weights"), dtype);
    const named: net.Network = { config: net.networkConfig({ ...plain.config, plant: { name: "massless" } }), params: plain.params };
    const b = batch();
    const a = net.simulate(plain, b, { init: Rng.seeded(1) });
    const m = net.simulate(named, b, { init: Rng.seeded(1) });
    assert.equal(a.plant, null);
    assert.equal(m.plant?.name, "massless");
    if (dtype === "float64") {
      // The TypeScript path on both sides: the same numbers exactly.
      assert.deepEqual(m.v, a.v);
      assert.deepEqual(m.e, a.e);
      const ga = zeroGrads(plain);
      const gm = zeroGrads(named);
      lossGradient(plain, a, ga);
      lossGradient(named, m, gm);
      assert.deepEqual(gm, ga);
    } else {
      // float32: the plain network runs the native kernels (when built), the plant the TypeScript path.
      for (let i = 0; i < a.e.length; i++) assert.ok(Math.abs(m.e[i] - a.e[i]) <= 1e-4 * (1 + Math.abs(a.e[i])), `e[${i}]: ${m.e[i]} vs ${a.e[i]}`);
    }
    // The hand's path from the plant's state is the integrated velocity.
    const hand = net.handPositions(m, b);
    const S = m.plant!.nState;
    const B = b.B;
    const last = new Float64Array(B * 2);
    m.plant!.hand(B, m.ps.subarray(b.T * B * S, (b.T + 1) * B * S), last);
    for (let i = 0; i < B * 2; i++) assert.ok(Math.abs(last[i] - hand[(b.T * B) * 2 + i]) < 1e-3, `hand ${i}: ${last[i]} vs ${hand[b.T * B * 2 + i]}`);
  }
});

test("a point mass in the rollout: at rest at the start, v from its dynamics, pushes as forces", () => {
  const n = net.initNetwork({ N: 8, e0: "zero", plant: { name: "point_mass" } }, Rng.seeded(2, "weights"), "float64");
  const b = batch();
  const ro = net.simulate(n, b, { init: Rng.seeded(1) });
  const pm = makePlant({ name: "point_mass" });
  const B = b.B;
  const s = new Float64Array(B * 4);
  pm.init(B, b.start, s);
  assert.deepEqual(ro.ps.subarray(0, B * 4), s);
  for (let i = 0; i < B * 2; i++) assert.equal(ro.v[i], 0, "v_0 = 0: the mass starts at rest");
  // Step 0 by hand: s_1 = F(s_0, y_1, 0.1 p_0).
  const next = new Float64Array(B * 4);
  const v = new Float64Array(B * 2);
  pm.step(B, s, ro.y.subarray(B * 2, B * 4), Float64Array.from(ro.push.subarray(0, B * 2), (p) => 0.1 * p), next, v);
  assert.deepEqual(ro.ps.subarray(B * 4, B * 8), next);
  assert.deepEqual(ro.v.subarray(B * 2, B * 4), v);
});

test("what does not handle a plant yet refuses it in one line; a plant needs e0 zero and its dt", () => {
  assert.throws(() => net.networkConfig({ plant: { name: "point_mass" } }), /e0: must be "zero" with a plant \(point_mass\)/);
  assert.throws(() => net.networkConfig({ e0: "zero", plant: { name: "pointmass" } }), /pointmass/);
  const n = net.initNetwork({ N: 8, e0: "zero", plant: { name: "point_mass", options: { dt: 0.02 } } }, Rng.seeded(2, "weights"), "float64");
  assert.throws(() => net.simulate(n, batch(), { init: Rng.seeded(1) }), /plant\.options\.dt: must equal the network's dt \(0\.01\)/);
  const pm = net.initNetwork({ N: 8, e0: "zero", plant: { name: "point_mass" } }, Rng.seeded(2, "weights"), "float64");
  const ro = net.simulate(pm, batch(), { init: Rng.seeded(1) });
  assert.throws(() => new StepJacobian(pm, ro, "open"), /analysis\.StepJacobian has the massless hand built in and does not handle a plant \(point_mass\) yet/);
  // Velocity feedback (NetworkConfig.fbVelocityGain) is refused the same way by the linearisations of the paper's loop.
  const pd = net.initNetwork({ N: 8, fbVelocityGain: 0.05 }, Rng.seeded(2, "weights"), "float64");
  assert.throws(() => new StepJacobian(pd, net.simulate(pd, batch(), { init: Rng.seeded(1) }), "open"), /analysis\.StepJacobian has the position-error feedback built in and does not handle velocity feedback \(fbVelocityGain 0\.05\) yet/);
});

test("pre-training and RFLO run through a point mass: the pre-training loss falls, and adaptation runs", () => {
  const p = Pretrainer.create(pretrainConfig({ seed: 3, batches: 40, batchSize: 16, evalEvery: 40, network: { N: 30, e0: "zero", plant: { name: "point_mass" } } }));
  const losses: number[] = [];
  while (p.done < 40) losses.push(p.step().value.task);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [first, last] = [mean(losses.slice(0, 5)), mean(losses.slice(-5))];
  assert.ok(last < 0.85 * first, `pre-training task loss, first 5 batches ${first} -> last 5 ${last}`);
  assert.equal(p.net.config.plant?.name, "point_mass");
  const a = new Adapter(p.net, adaptConfig({ rule: "rflo", lr: 1e-5, trials: 20, testEvery: 10, rotationDeg: 30 }));
  a.run();
  assert.ok(a.testLog.every((t) => Number.isFinite(t.testError)));
});

test("through a plant the float32 engine (native kernels with the plant's steps in between) agrees with float64 TypeScript", () => {
  for (const name of ["point_mass", "two_joint_arm", "muscle"]) {
    const n32 = net.initNetwork({ N: 16, e0: "zero", plant: { name } }, Rng.seeded(4, "weights"), "float32");
    const n64 = net.cloneNetwork(n32, "float64");
    const b = batch();
    const x0 = Float64Array.from({ length: b.B * 16 }, (_, i) => 0.3 * Math.sin(1 + i));
    const r32 = net.simulate(n32, b, { x0 });
    const r64 = net.simulate(n64, b, { x0 });
    const g32 = zeroGrads(n32);
    const g64 = zeroGrads(n64);
    lossGradient(n32, r32, g32);
    lossGradient(n64, r64, g64);
    for (const k of ["wRec", "wOut", "wFb", "wIn", "b", "bOut"] as const) {
      let num = 0, den = 0;
      for (let i = 0; i < g64[k].length; i++) {
        num += (g32[k][i] - g64[k][i]) ** 2;
        den += g64[k][i] ** 2;
      }
      assert.ok(Math.sqrt(num / den) < 1e-4, `${name} ${k}: relative difference ${Math.sqrt(num / den)}`);
    }
  }
});

test("online BPTT through a plant: float32 (native) agrees with float64 TypeScript, and an adaptation run learns", () => {
  for (const name of ["point_mass", "two_joint_arm", "muscle"]) {
    const n32 = net.initNetwork({ N: 16, e0: "zero", plant: { name } }, Rng.seeded(4, "weights"), "float32");
    const n64 = net.cloneNetwork(n32, "float64");
    const b = batch();
    const x0 = Float64Array.from({ length: b.B * 16 }, (_, i) => 0.3 * Math.sin(1 + i));
    const [r32, r64] = [net.simulate(n32, b, { x0 }), net.simulate(n64, b, { x0 })];
    const [b32, b64] = [new OnlineBptt(), new OnlineBptt()];
    b32.reset(n32, r32);
    b64.reset(n64, r64);
    for (const k of [5, 60, 99]) {
      const g32 = b32.gradient(k);
      const g64 = b64.gradient(k);
      let num = 0, den = 0;
      for (let i = 0; i < g64.length; i++) {
        num += (g32[i] - g64[i]) ** 2;
        den += g64[i] ** 2;
      }
      assert.ok(den > 0 && Math.sqrt(num / den) < 1e-4, `${name} k=${k}: relative difference ${Math.sqrt(num / den)}`);
    }
  }
  const p = Pretrainer.create(pretrainConfig({ seed: 3, batches: 30, batchSize: 16, evalEvery: 30, network: { N: 30, e0: "zero", plant: { name: "point_mass" } } }));
  while (p.done < 30) p.step();
  const a = new Adapter(p.net, adaptConfig({ rule: "bptt", control: false, lr: 1e-5, trials: 30, testEvery: 30, rotationDeg: 30 }));
  a.run();
  assert.ok(a.testLog[1].testError < a.testLog[0].testError, `test error ${a.testLog[0].testError} -> ${a.testLog[1].testError}`);
});

test("a cursor map on a plant turns the hand's velocity the plant produces, not its command; by 0 it is bit-identical", () => {
  const pm = net.initNetwork({ N: 8, e0: "zero", plant: { name: "point_mass" } }, Rng.seeded(2, "weights"), "float64");
  const b = batch();
  const plain = net.simulate(pm, b, { init: Rng.seeded(1) });
  assert.deepEqual(net.simulate(pm, b, { init: Rng.seeded(1), perturbations: [cursorRotation(0)] }).v, plain.v);
  const ro = net.simulate(pm, b, { init: Rng.seeded(1), perturbations: [cursorRotation(90)] });
  assert.deepEqual(ro.cursor, [0, -1, 1, 0]);
  assert.deepEqual(ro.push, Float64Array.from(b.pushes), "pushes are forces on the hand, not turned");
  // The hand's velocity from the plant's own states, turned by 90 degrees, is what the rollout holds.
  const B = b.B;
  const S = B * 4;
  const h0 = new Float64Array(B * 2);
  const h1 = new Float64Array(B * 2);
  for (const k of [0, 30, 99]) {
    ro.plant!.hand(B, ro.ps.subarray(k * S, (k + 1) * S), h0);
    ro.plant!.hand(B, ro.ps.subarray((k + 1) * S, (k + 2) * S), h1);
    for (let t = 0; t < B; t++) {
      const vx = (h1[2 * t] - h0[2 * t]) / 0.01;
      const vy = (h1[2 * t + 1] - h0[2 * t + 1]) / 0.01;
      assert.ok(Math.abs(ro.v[((k + 1) * B + t) * 2] - -vy) < 1e-9 && Math.abs(ro.v[((k + 1) * B + t) * 2 + 1] - vx) < 1e-9, `step ${k} trial ${t}`);
    }
  }
  // The command is not turned: the same weights give the same first readout.
  assert.deepEqual(ro.y.subarray(0, B * 2), plain.y.subarray(0, B * 2));
});

test("adapting through a plant under a rotated cursor: the rules, the tests and the whole-trial gradient all see the cursor", () => {
  const p = Pretrainer.create(pretrainConfig({ seed: 3, batches: 20, batchSize: 16, evalEvery: 20, network: { N: 20, e0: "zero", plant: { name: "point_mass" } } }));
  while (p.done < 20) p.step();
  const cfg = (deg: number, rule: string) => adaptConfig({ rule, control: false, lr: 1e-6, trials: 4, testEvery: 2, rotationDeg: 0, perturbations: [{ name: "cursor_rotation", options: { deg } }], trialGradient: true, testGradient: true });
  const turned = new Adapter(p.net, cfg(90, "bptt"));
  turned.run();
  assert.equal(turned.seen, turned.net, "a plant network is not seen through the map: the rollout applies it");
  assert.ok(turned.trialLog.every((r) => Number.isFinite(r.globalAlignmentTrial) && r.globalAlignmentTrial > 0.5), `online BPTT against the whole-trial gradient: ${turned.trialLog.map((r) => r.globalAlignmentTrial)}`);
  // The tests see the cursor: at 90 degrees the test error is not the unperturbed one.
  const straight = new Adapter(p.net, cfg(0, "rflo"));
  straight.run();
  assert.ok(Math.abs(turned.testLog[0].testError - straight.testLog[0].testError) > 0.1 * straight.testLog[0].testError);
});
