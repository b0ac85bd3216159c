import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";
import { acuteResponses, errorsByAngle, responseAt } from "../src/analysis/acute";

const tiny = (fbDensity: number) => net.initNetwork({ N: 6, fbDensity }, Rng.seeded(3, "weights"));

test("acute responses: one forward pass per angle and condition, summarised as by hand", () => {
  const fb = tiny(1);
  const nofb = tiny(0);
  const conditions = [
    { label: "fb on", network: fb, feedback: true },
    { label: "fb off", network: fb, feedback: false },
    { label: "no fb", network: nofb, feedback: true },
  ];
  const angles = [0, 45];
  const res = acuteResponses(conditions, angles, { seed: 2 });
  assert.equal(res.length, 6);
  assert.deepEqual(res.map((r) => [r.angle, r.label]), [[0, "fb on"], [0, "fb off"], [0, "no fb"], [45, "fb on"], [45, "fb off"], [45, "no fb"]]);

  const co = task.centreOutAll();
  for (const r of res) {
    const batch = task.rotate(co, r.angle);
    assert.deepEqual(r.batch.reference, batch.reference);
    const cond = conditions.find((c) => c.label === r.label)!;
    const ro = net.simulate(cond.network, batch, { feedback: cond.feedback, init: Rng.seeded(2, "eval-init") });
    assert.deepEqual(r.rollout.e, ro.e, "same initial state and dynamics as a direct simulation");
    assert.ok(Math.abs(r.error - net.taskLoss(ro)) < 1e-12, "mean of per-trial errors = task loss (equal trial lengths)");
    const { T, B, N } = ro;
    assert.equal(r.errorNorm.length, T + 1);
    assert.equal(r.controlSize.length, T);
    assert.equal(r.hand.length, (T + 1) * B * 2);
    assert.equal(r.errorNorm[0], 0);
    const k = 90;
    let eSum = 0;
    for (let b = 0; b < B; b++) eSum += Math.hypot(ro.e[(k * B + b) * 2], ro.e[(k * B + b) * 2 + 1]);
    assert.ok(Math.abs(r.errorNorm[k] - eSum / B) < 1e-12);
    let cSum = 0;
    for (let i = 0; i < B * N; i++) cSum += Math.abs(ro.c[k * B * N + i]);
    const expected = cond.feedback ? cSum / (B * N) : 0;
    assert.ok(Math.abs(r.controlSize[k] - expected) < 1e-12, `${r.label}: control size`);
  }
  // Control is applied only with feedback on and a non-zero mask.
  assert.ok(responseAt(res, 45, "fb on").controlSize.some((v) => v > 0));
  assert.ok(responseAt(res, 45, "fb off").controlSize.every((v) => v === 0));
  assert.ok(responseAt(res, 45, "no fb").controlSize.every((v) => v === 0));
  // Feedback off is the same network run open loop: without a mask, on and off coincide.
  assert.deepEqual(acuteResponses([{ label: "x", network: nofb, feedback: false }], [45], { seed: 2 })[0].rollout.e, responseAt(res, 45, "no fb").rollout.e);

  const rows = errorsByAngle(res);
  assert.deepEqual(rows.map((r) => r.angle), angles);
  assert.equal(rows[1]["fb off"], responseAt(res, 45, "fb off").error);
  assert.deepEqual(Object.keys(rows[0]), ["angle", "fb on", "fb off", "no fb"]);
});

test("acute responses: bad arguments are rejected by name", () => {
  const fb = tiny(1);
  const ok = [{ label: "a", network: fb, feedback: true }];
  assert.throws(() => acuteResponses([], [0]), /conditions: must be a non-empty array/);
  assert.throws(() => acuteResponses(ok, []), /angles: must be a non-empty array/);
  assert.throws(() => acuteResponses(ok, [0, NaN]), /angles\[1\]: must be a finite number/);
  assert.throws(() => acuteResponses(ok, [30, 30]), /angles\[1\]: must be unique/);
  assert.throws(() => acuteResponses([...ok, { label: "a", network: fb, feedback: false }], [0]), /conditions\[1\]\.label: must be unique/);
  assert.throws(() => acuteResponses([{ label: "", network: fb, feedback: true }], [0]), /conditions\[0\]\.label/);
  assert.throws(() => acuteResponses([{ label: "a", network: fb, feedback: 1 as unknown as boolean }], [0]), /conditions\[0\]\.feedback: must be a boolean/);
  assert.throws(() => acuteResponses(ok, [0], { seed: -1 }), /seed: must be an integer/);
  assert.throws(() => responseAt(acuteResponses(ok, [0]), 30, "a"), /no response for angle 30/);
});
