import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";

const speed = (b: task.TrialBatch, t: number, i: number) =>
  Math.hypot(b.velocity[(t * b.B + i) * 2], b.velocity[(t * b.B + i) * 2 + 1]);

test("centre-out: 8 targets at radius 5, peak speed 24.917 at t = 70", () => {
  const b = task.centreOutAll();
  assert.equal(b.B, 8);
  for (let i = 0; i < 8; i++) {
    assert.ok(Math.abs(Math.hypot(b.end[2 * i], b.end[2 * i + 1]) - 5) < 1e-12);
    assert.equal(Math.atan2(b.end[2 * i + 1], b.end[2 * i]).toFixed(12), Math.atan2(Math.sin((i * Math.PI) / 4), Math.cos((i * Math.PI) / 4)).toFixed(12));
    let best = 0;
    for (let t = 1; t < b.T; t++) if (speed(b, t, i) > speed(b, best, i)) best = t;
    assert.equal(best, 70);
    assert.ok(Math.abs(speed(b, 70, i) - 24.917) < 5e-4, `peak speed ${speed(b, 70, i)}`);
  }
});

test("the sigmoid ramp: position at t=20 is s + 4.54e-5 (g - s), and the movement ends by t=120", () => {
  const b = task.centreOut([0]);
  const px = (t: number) => b.position[t * 2];
  assert.equal(px(19), 0);
  assert.ok(Math.abs(px(20) / 5 - 1 / (1 + Math.exp(10))) < 1e-15);
  assert.equal(px(120), 5);
  assert.equal(px(124), 5);
});

test("the sum of velocity times dt equals target minus start", () => {
  for (const b of [task.randomReaches(50, Rng.seeded(1)), task.centreOutAll()]) {
    for (let i = 0; i < b.B; i++) {
      for (let d = 0; d < 2; d++) {
        let s = 0;
        for (let t = 0; t < b.T; t++) s += b.velocity[(t * b.B + i) * 2 + d] * b.config.dt;
        assert.ok(Math.abs(s - (b.end[2 * i + d] - b.start[2 * i + d])) < 1e-12, `trial ${i} dim ${d}: ${s}`);
      }
    }
  }
});

test("random reaches: start and end in the workspace, hold signal 6; centre-out hold signal 5", () => {
  const b = task.randomReaches(500, Rng.seeded(2));
  for (const v of [...b.start, ...b.end]) assert.ok(v >= -6 && v < 6);
  assert.ok(Math.min(...b.start) < -5.9 && Math.max(...b.end) > 5.9);
  assert.equal(task.at(b.inputs, b.B, 3, 0, 0, 2), 6);
  assert.equal(task.at(task.centreOutAll().inputs, 8, 3, 0, 0, 2), 5);
});

test("inputs: displacement from stimOn (t=20) on, hold signal until goTime - 50, nothing else", () => {
  const b = task.randomReaches(4, Rng.seeded(3));
  for (let i = 0; i < b.B; i++) {
    for (let t = 0; t < b.T; t++) {
      for (let d = 0; d < 2; d++) {
        const expected = t >= 20 ? b.end[2 * i + d] - b.start[2 * i + d] : 0;
        assert.equal(task.at(b.inputs, b.B, 3, t, i, d), expected);
      }
      assert.equal(task.at(b.inputs, b.B, 3, t, i, 2), t < 20 ? 6 : 0);
    }
  }
});

test("the reference velocity lags the target velocity by referenceShift steps", () => {
  const b1 = task.centreOutAll();
  const b0 = task.centreOutAll({ referenceShift: 0 });
  const B = 8;
  for (let i = 0; i < B * 2; i++) assert.equal(b1.reference[i], 0);
  for (let t = 1; t < b1.T; t++) {
    for (let i = 0; i < B * 2; i++) {
      assert.equal(b1.reference[t * B * 2 + i], b1.velocity[(t - 1) * B * 2 + i]);
      assert.equal(b0.reference[t * B * 2 + i], b0.velocity[t * B * 2 + i]);
    }
  }
});

test("rotation turns every target velocity and the reference by the angle, counter-clockwise; inputs stay", () => {
  const base = task.randomReaches(16, Rng.seeded(4));
  for (const angle of [30, -45, 60, 180]) {
    const r = task.rotate(base, angle);
    assert.equal(r.rotationDeg, angle);
    assert.deepEqual(r.inputs, base.inputs);
    for (let i = 0; i < base.velocity.length; i += 2) {
      const [x0, y0, x1, y1] = [base.velocity[i], base.velocity[i + 1], r.velocity[i], r.velocity[i + 1]];
      const m = Math.hypot(x0, y0);
      assert.ok(Math.abs(Math.hypot(x1, y1) - m) < 1e-9);
      if (m > 1e-6) {
        const turned = Math.atan2(x0 * y1 - y0 * x1, x0 * x1 + y0 * y1) * (180 / Math.PI);
        assert.ok(Math.abs(((turned - angle + 540) % 360) - 180) < 1e-6, `turned ${turned}, want ${angle}`);
      }
      const [rx0, ry0, rx1, ry1] = [base.reference[i], base.reference[i + 1], r.reference[i], r.reference[i + 1]];
      const rad = (angle * Math.PI) / 180;
      assert.ok(Math.abs(rx1 - (Math.cos(rad) * rx0 - Math.sin(rad) * ry0)) < 1e-9);
      assert.ok(Math.abs(ry1 - (Math.sin(rad) * rx0 + Math.cos(rad) * ry0)) < 1e-9);
    }
  }
  // The rotated centre-out reach to target 0 (east) heads 30 degrees north of east.
  const c = task.rotate(task.centreOut([0]), 30);
  const last = (c.T - 1) * 2;
  assert.ok(Math.abs(Math.atan2(c.position[last + 1], c.position[last]) - Math.PI / 6) < 1e-12);
});

test("shapes are time-major [T, B, C]", () => {
  const b = task.makeTrials({ task: "random_pushed", rotationDeg: 40 }, 3, Rng.seeded(5));
  assert.equal(b.inputs.length, 125 * 3 * 3);
  for (const a of [b.velocity, b.position, b.reference, b.pushes]) assert.equal(a.length, 125 * 3 * 2);
  assert.equal(b.start.length, 6);
  assert.equal(b.targetId.length, 3);
  assert.equal(b.task, "random_pushed");
  const short = task.centreOutAll({ T: 110, goTime: 55 });
  assert.equal(short.inputs.length, 110 * 8 * 3);
});

test("same seed gives identical trials; different seeds differ", () => {
  for (const name of task.TASK_NAMES) {
    const a = task.makeTrials({ task: name }, 32, Rng.seeded(9, "trials"));
    const b = task.makeTrials({ task: name }, 32, Rng.seeded(9, "trials"));
    const c = task.makeTrials({ task: name }, 32, Rng.seeded(10, "trials"));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.velocity, c.velocity);
  }
});

test("pushes: width 10 steps of amplitude 10, cut off at T, with the configured probability", () => {
  const base = task.randomReaches(2000, Rng.seeded(6));
  const p = task.addPushes(base, Rng.seeded(7));
  let pushed = 0;
  for (let i = 0; i < base.B; i++) {
    for (let d = 0; d < 2; d++) {
      const steps: number[] = [];
      for (let t = 0; t < base.T; t++) {
        const v = p.pushes[(t * base.B + i) * 2 + d];
        if (v !== 0) {
          assert.equal(v, 10);
          steps.push(t);
        }
      }
      if (steps.length) {
        pushed++;
        assert.equal(steps[steps.length - 1] - steps[0] + 1, steps.length, "one contiguous push");
        assert.ok(steps.length === 10 || steps[steps.length - 1] === base.T - 1, "10 steps unless cut off at T");
        assert.ok(steps[0] >= 15);
      }
    }
  }
  // A push centred at c covers [c-5, c+5); it is visible iff c <= 129: 110 of the 170 possible centres.
  const expected = (2 * base.B * 0.25 * 110) / 170;
  assert.ok(Math.abs(pushed - expected) < 0.1 * expected, `pushed ${pushed}, expected about ${expected}`);
  assert.equal(task.addPushes(base, Rng.seeded(7), { probability: 0 }).pushes.every((v) => v === 0), true);
});

test("bad parameters are rejected with a message naming the parameter", () => {
  const rng = Rng.seeded(1);
  assert.throws(() => task.randomReaches(4, rng, { dt: 0 }), /dt: must be a finite number > 0/);
  assert.throws(() => task.randomReaches(4, rng, { dt: -0.01 }), /dt/);
  assert.throws(() => task.randomReaches(0, rng), /B: must be an integer >= 1/);
  assert.throws(() => task.makeTrials({ task: "pushed" as never }, 4, rng), /task: must be one of "random", "random_pushed", "centre_out", got "pushed"/);
  assert.throws(() => task.rotate(task.centreOutAll(), NaN), /angleDeg: must be a finite number/);
  assert.throws(() => task.makeTrials({ task: "centre_out", rotationDeg: NaN }, 4, rng), /rotationDeg/);
  assert.throws(() => task.centreOut([8]), /targetIds\[0\]: must be an integer in \[0, 7\]/);
  assert.throws(() => task.centreOutAll({ goTime: 100 }), /goTime: must be an integer in \[50, 75\]/);
  assert.throws(() => task.addPushes(task.centreOutAll(), rng, { probability: 2 }), /push.probability/);
});

test("selectTrials picks trials in the given order, every per-trial array with them", () => {
  const b = task.rotate(task.centreOutAll(), 30);
  const s = task.selectTrials(b, [5, 2]);
  assert.equal(s.B, 2);
  assert.deepEqual(Array.from(s.targetId), [5, 2]);
  for (const t of [0, 60, b.T - 1]) {
    for (const [j, id] of [[0, 5], [1, 2]]) {
      for (let c = 0; c < 3; c++) assert.equal(s.inputs[(t * 2 + j) * 3 + c], b.inputs[(t * b.B + id) * 3 + c]);
      for (let c = 0; c < 2; c++) assert.equal(s.reference[(t * 2 + j) * 2 + c], b.reference[(t * b.B + id) * 2 + c]);
    }
  }
  assert.deepEqual(Array.from(s.end), [b.end[10], b.end[11], b.end[4], b.end[5]]);
  assert.throws(() => task.selectTrials(b, [8]), /ids\[0\]/);
});
