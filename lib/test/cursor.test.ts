/**
 * Perturbations of the seen hand (cursor.ts): a rotated, mirrored or scaled cursor. The fed-back error,
 * the loss and the learning signals are the cursor's; the tests pin the semantics (v = C (y + p)), the
 * identity with a target rotation, and the gradients through the cursor.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";
import * as cursor from "../src/cursor";
import { cursorGain, cursorMirror, cursorRotation, curlField, makePerturbation } from "../src/perturbation";
import { GRAD_NAMES, loss, lossGradient, zeroGrads } from "../src/loss";
import { Adapter, adaptConfig } from "../src/adapt";
import { Pretrainer, pretrainConfig } from "../src/train";
import { acuteResponses } from "../src/analysis/acute";

function small(overrides: Partial<net.NetworkConfig> = {}) {
  const n = net.initNetwork({ N: 6, ...overrides }, Rng.seeded(11, "weights"), "float64");
  // A larger W_rec than the default init, so that recurrence and the loop matter in the checks (x2 keeps the
  // rates below 10: x8 makes them grow without bound, and absolute comparisons meaningless).
  for (let i = 0; i < n.params.wRec.length; i++) n.params.wRec[i] *= 2;
  const batch = task.addPushes(task.randomReaches(3, Rng.seeded(11, "trials"), { T: 100, goTime: 50 }), Rng.seeded(3), { probability: 0.5 });
  const x0 = Float64Array.from({ length: 3 * 6 }, (_, i) => 0.4 * Math.sin(2 + i));
  return { n, batch, x0 };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test("the cursor maps: rotations and mirrors are exact where they can be, a mirror applied twice is the identity", () => {
  assert.deepEqual(cursor.rotationMatrix(0), [1, -0, 0, 1]);
  assert.ok(cursor.isIdentity(cursor.rotationMatrix(0)) && cursor.isIdentity(cursor.rotationMatrix(360)));
  assert.deepEqual([...cursor.rotationMatrix(90)], [0, -1, 1, 0]);
  assert.deepEqual([...cursor.mirrorMatrix()], [-1, 0, 0, -1].map((v, i) => (i === 3 ? 1 : v)));
  for (const axis of [90, 0, 45]) assert.ok(cursor.isIdentity(cursor.cursorMap([cursorMirror(axis), cursorMirror(axis)])!), `axis ${axis}`);
  for (const axis of [30, 117.5]) {
    const m = cursor.mirrorMatrix(axis);
    const twice = cursor.multiply(m, m);
    assert.ok(maxAbs(twice, cursor.IDENTITY) < 1e-15, `axis ${axis}: M M = ${twice}`);
    assert.ok(Math.abs(m[0] * m[3] - m[1] * m[2] + 1) < 1e-15, "a reflection has determinant -1");
    // The axis itself is left in place.
    const a = [Math.cos((axis * Math.PI) / 180), Math.sin((axis * Math.PI) / 180)];
    assert.ok(Math.abs(m[0] * a[0] + m[1] * a[1] - a[0]) < 1e-15 && Math.abs(m[2] * a[0] + m[3] * a[1] - a[1]) < 1e-15);
  }
  // Composition in order: rotate the hand by 30, then show it through a gain of 2.
  const c = cursor.cursorMap([cursorRotation(30), cursorGain(2)])!;
  const r = cursor.rotationMatrix(30);
  assert.ok(maxAbs(c, r.map((v) => 2 * v)) < 1e-15);
  assert.equal(cursor.cursorMap([makePerturbation({ name: "target_rotation", options: { deg: 30 } })]), null);
  assert.throws(() => cursorGain(0), /g: must not be 0/);
  assert.throws(() => cursor.inverse([1, 2, 2, 4]), /singular/);
});

test("a cursor rotation by 0 (and a mirror applied twice) is bit-identical to no perturbation, in simulation and in learning", () => {
  const p = Pretrainer.create(pretrainConfig({ seed: 3, batches: 20, batchSize: 16, evalEvery: 20, network: { N: 30 } }));
  while (p.done < 20) p.step();
  const pre = p.net; // float32: the native path
  const batch = task.centreOutAll();
  const plain = net.simulate(pre, batch, { init: Rng.seeded(1, "eval-init") });
  for (const perturbations of [[cursorRotation(0)], [cursorMirror(), cursorMirror()]]) {
    const ro = net.simulate(pre, batch, { init: Rng.seeded(1, "eval-init"), perturbations });
    assert.equal(ro.cursor, null);
    assert.deepEqual(ro.e, plain.e);
    assert.deepEqual(ro.r, plain.r);
  }
  const run = (extra: object) => {
    const a = new Adapter(pre, adaptConfig({ rule: "rflo", control: true, lr: 5e-5, trials: 6, testEvery: 3, seed: 2, ...extra }));
    a.run();
    return a;
  };
  const none = run({});
  const zero = run({ perturbations: [{ name: "cursor_rotation", options: { deg: 0 } }] });
  assert.deepEqual(zero.net.params.wRec, none.net.params.wRec);
  assert.deepEqual(zero.testLog, none.testLog);
  assert.notDeepEqual(none.net.params.wRec, pre.params.wRec, "the runs learned something");
});

test("a cursor rotation by θ is the target rotation by -θ with W_fb replaced by W_fb R(θ), in float64", () => {
  for (const [deg, fbDelay] of [[37, 0], [135, 2], [-80, 1]]) {
    const { n, batch, x0 } = small({ fbDelay });
    const noPush = { ...batch, pushes: new Float64Array(batch.pushes.length) };
    const R = cursor.rotationMatrix(deg);
    const seenRo = net.simulate(n, noPush, { x0, perturbations: [cursorRotation(deg)] });
    // W_fb R: row i of W_fb (1 x 2) times R.
    const m = net.cloneNetwork(n);
    const N = n.config.N;
    for (let i = 0; i < N; i++) {
      const a = n.params.wFb[2 * i];
      const b = n.params.wFb[2 * i + 1];
      m.params.wFb[2 * i] = a * R[0] + b * R[2];
      m.params.wFb[2 * i + 1] = a * R[1] + b * R[3];
    }
    const targetRo = net.simulate(m, task.rotate(noPush, -deg), { x0 });
    assert.ok(maxAbs(seenRo.r, targetRo.r) < 1e-12, `rates differ by ${maxAbs(seenRo.r, targetRo.r)}`);
    // The cursor's error is the target-rotated run's error turned by R.
    const turned = Float64Array.from(targetRo.e);
    cursor.applyInPlace(R, turned);
    assert.ok(maxAbs(seenRo.e, turned) < 1e-12, `errors differ by ${maxAbs(seenRo.e, turned)}`);
    assert.ok(Math.abs(net.taskLoss(seenRo) - net.taskLoss(targetRo)) < 1e-12 * net.taskLoss(seenRo));
    // And the rotation matters: without W_fb R the two differ.
    const plainTarget = net.simulate(n, task.rotate(noPush, -deg), { x0 });
    assert.ok(maxAbs(seenRo.r, plainTarget.r) > 1e-6);
  }
});

test("the cursor's velocity is C (W_out r + b_out + p), by hand, for a mirror and a gain; the hand comes back through C^-1", () => {
  for (const pert of [cursorMirror(), cursorMirror(30), cursorGain(1.7), cursorRotation(150)]) {
    const { n, batch, x0 } = small();
    const ro = net.simulate(n, batch, { x0, perturbations: [pert] });
    const C = pert.cursor!;
    const { T, B } = batch;
    const N = n.config.N;
    let worst = 0;
    for (let k = 0; k <= T; k++) {
      for (let b = 0; b < B; b++) {
        const y = [0, 1].map((o) => {
          let s = n.params.bOut[o];
          for (let i = 0; i < N; i++) s += n.params.wOut[o * N + i] * ro.r[(k * B + b) * N + i];
          return s + (k > 0 ? batch.pushes[((k - 1) * B + b) * 2 + o] : 0);
        });
        const v = [C[0] * y[0] + C[1] * y[1], C[2] * y[0] + C[3] * y[1]];
        worst = Math.max(worst, Math.abs(v[0] - ro.v[(k * B + b) * 2]), Math.abs(v[1] - ro.v[(k * B + b) * 2 + 1]));
      }
    }
    assert.ok(worst < 1e-12, `${pert.name}: ${worst}`);
    // e_0 starts at the cursor's readout, and e integrates the cursor's velocity error.
    for (let i = 0; i < 2 * B; i++) assert.ok(Math.abs(ro.e0[i] - ro.v[i]) < 1e-15);
    // The hand path: start + dt sum of the hand's own velocity W_out r + b_out + p.
    const cursorPath = net.handPositions(ro, batch);
    const hand = cursor.handFromCursor(cursorPath, batch.start, C);
    const plainHand = net.handPositions(net.simulate(n, batch, { x0, perturbations: [] , replayFeedback: Float64Array.from(ro.eps) }), batch);
    assert.ok(maxAbs(hand, plainHand) < 1e-10, `${pert.name}: hand path ${maxAbs(hand, plainHand)}`);
  }
});

test("gradients through the cursor match float64 central finite differences (W_out and b_out by the chain rule through C)", () => {
  const h = 1e-6;
  const lc = { paramWeight: 0 };
  for (const pert of [cursorRotation(110), cursorMirror(), cursorGain(1.6)]) {
    for (const sim of [{}, { detachFeedback: true }] as net.SimulateOptions[]) {
      const { n, batch, x0 } = small({ fbDelay: 1 });
      const C = pert.cursor!;
      const seen = cursor.seenThrough(n, C);
      const ro = net.simulate(seen, batch, { ...sim, x0 });
      const grads = zeroGrads(seen);
      lossGradient(seen, ro, grads, lc);
      // d/dW_out = C^T d/d(C W_out); likewise for b_out.
      const N = n.config.N;
      const gOut = new Float64Array(2 * N);
      for (let i = 0; i < N; i++) {
        gOut[i] = C[0] * grads.wOut[i] + C[2] * grads.wOut[N + i];
        gOut[N + i] = C[1] * grads.wOut[i] + C[3] * grads.wOut[N + i];
      }
      const gB = [C[0] * grads.bOut[0] + C[2] * grads.bOut[1], C[1] * grads.bOut[0] + C[3] * grads.bOut[1]];
      const analytic: Record<string, ArrayLike<number>> = { ...grads, wOut: gOut, bOut: gB };
      const replay = sim.detachFeedback ? { replayFeedback: Float64Array.from(ro.eps) } : {};
      const f = () => loss(cursor.seenThrough(n, C), net.simulate(n, batch, { ...sim, ...replay, x0, perturbations: [pert] }), lc).total;
      for (const name of GRAD_NAMES) {
        const p = n.params[name];
        let en = 0;
        let ed = 0;
        for (let i = 0; i < p.length; i++) {
          const keep = p[i];
          p[i] = keep + h;
          const up = f();
          p[i] = keep - h;
          const down = f();
          p[i] = keep;
          const fd = (up - down) / (2 * h);
          en += (analytic[name][i] - fd) ** 2;
          ed += fd * fd;
        }
        if (ed > 1e-20) assert.ok(Math.sqrt(en / ed) < 1e-6, `${pert.name} ${JSON.stringify(sim)} ${name}: relative error ${Math.sqrt(en / ed)}`);
      }
    }
  }
});

test("gradients through the cursor match TensorFlow.js autodiff through an explicit C (float32)", async () => {
  const { initTf } = await import("../src/backend");
  const { tfLossGradient } = await import("../src/tfmodel");
  const { tf } = await initTf();
  const lc = { paramWeight: 0 };
  for (const pert of [cursorRotation(60), cursorMirror(20)]) {
    const { n, batch, x0 } = small({ fbDelay: 1 });
    const n32 = net.cloneNetwork(n, "float32");
    const n64 = net.cloneNetwork(n32, "float64");
    const C = pert.cursor!;
    const seen = cursor.seenThrough(n64, C);
    const grads = zeroGrads(seen);
    const { value } = lossGradient(seen, net.simulate(seen, batch, { x0 }), grads, lc);
    const auto = tfLossGradient(tf, n32, batch, x0, { cursor: C }, lc);
    assert.ok(Math.abs(auto.value - value.total) < 1e-5 * value.total, `${pert.name}: loss ${auto.value} vs ${value.total}`);
    for (const name of ["wRec", "wIn", "wFb", "b"] as const) {
      const g = Array.from(grads[name]);
      const en = g.reduce((s, v, i) => s + (v - auto.grads[name][i]) ** 2, 0);
      const ed = g.reduce((s, v) => s + v * v, 0);
      assert.ok(Math.sqrt(en / ed) < 1e-4, `${pert.name} ${name}: relative difference ${Math.sqrt(en / ed)}`);
    }
  }
});

test("a cursor map refuses what it cannot do: online pushes, and a rollout stepped with the network not seen through it", () => {
  const { n, batch, x0 } = small();
  assert.throws(() => net.simulate(n, batch, { x0, perturbations: [cursorRotation(30), curlField(0.3)] }), /cannot be combined with pushes computed online/);
  assert.throws(() => net.beginRollout(n, batch, { x0, perturbations: [cursorRotation(30)] }), /give beginRollout the network seen through it/);
  const seen = cursor.seenThrough(n, cursor.rotationMatrix(30));
  const ro = net.beginRollout(seen, batch, { x0, perturbations: [cursorRotation(30)] });
  assert.throws(() => net.stepRollout(n, ro, 0), /step it with the network seen through it/);
  net.stepRollout(seen, ro, 0);
});

test("acute responses under a cursor rotation report the cursor and the hand", () => {
  const p = Pretrainer.create(pretrainConfig({ seed: 3, batches: 40, batchSize: 32, evalEvery: 40, network: { N: 30 } }));
  while (p.done < 40) p.step();
  const conditions = [{ label: "on", network: p.net, feedback: true }, { label: "off", network: p.net, feedback: false }];
  const [on, off] = acuteResponses(conditions, [0], { perturbations: [{ name: "cursor_rotation", options: { deg: 90 } }] });
  const R = cursor.rotationMatrix(90);
  const B = on.batch.B;
  for (let i = 0; i < on.hand.length; i += 2) {
    const b = (i / 2) % B;
    const dx = on.hand[i] - on.batch.start[2 * b];
    const dy = on.hand[i + 1] - on.batch.start[2 * b + 1];
    assert.ok(Math.abs(on.batch.start[2 * b] + R[0] * dx + R[1] * dy - on.cursor[i]) < 1e-4);
  }
  // Feedback off, the network does not see the cursor: its hand path is the unperturbed one.
  const [plainOff] = acuteResponses([conditions[1]], [0]);
  assert.ok(maxAbs(off.hand, plainOff.hand) < 1e-4);
  assert.ok(maxAbs(off.cursor, plainOff.hand) > 0.1);
});
