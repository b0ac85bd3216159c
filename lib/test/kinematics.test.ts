import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";
import { acuteResponses } from "../src/analysis/acute";
import { endpoints, errorShareBefore, lateralDeviation, meanSpeed, pathCurvature } from "../src/analysis/kinematics";

test("lateral deviation: signed distance from the start-target line, + to the left, by hand", () => {
  // One reach from (1, 1) to (1, 5) (straight up, T = 3 steps) and one from (0, 0) to (-2, 0).
  const b = task.randomReaches(2, Rng.seeded(1), { T: 125 });
  const T = b.T;
  const B = 2;
  const batch: task.TrialBatch = { ...b, start: Float64Array.from([1, 1, 0, 0]), position: new Float64Array(T * B * 2) };
  batch.position.set([1, 5, -2, 0], (T - 1) * B * 2);
  const hand = new Float64Array((T + 1) * B * 2);
  for (let k = 0; k <= T; k++) {
    hand.set([1, 1, 0, 0], k * B * 2);
  }
  hand.set([0.5, 3, -1, -0.25], 10 * B * 2); // trial 0: 0.5 to the left of "up"; trial 1: 0.25 to the left of "west" (south is left)
  hand.set([1.2, 4, -1.5, 0.75], 20 * B * 2); // trial 0: 0.2 to the right; trial 1: 0.75 to the right
  const d = lateralDeviation(hand, batch);
  assert.ok(Math.abs(d.peak[0] - 0.5) < 1e-12);
  assert.ok(Math.abs(d.peak[1] + 0.75) < 1e-12);
  assert.ok(Math.abs(d.mean - (0.5 - 0.75) / 2) < 1e-12);
  assert.ok(Math.abs(d.overTime[10] - (0.5 + 0.25) / 2) < 1e-12);
  assert.ok(Math.abs(d.overTime[20] - (-0.2 - 0.75) / 2) < 1e-12);
  assert.equal(d.overTime[0], 0);
  assert.throws(() => lateralDeviation(hand.subarray(2), batch), /hand.length/);
});

test("path curvature by hand: the signed distance from each path's own start-end chord, + to the left; a straight turned path has none", () => {
  const T = 4;
  const B = 3;
  const hand = new Float64Array((T + 1) * B * 2);
  // Trial 0 bows out to the north on its way east: (0,0) (1,0.5) (2,1) (3,-0.25) (4,0). Trial 1 runs straight
  // along a turned line: (1,1) + k (0.6,0.8). Trial 2 ends where it started.
  const paths = [
    [[0, 0], [1, 0.5], [2, 1], [3, -0.25], [4, 0]],
    [0, 1, 2, 3, 4].map((k) => [1 + 0.6 * k, 1 + 0.8 * k]),
    [[2, 2], [3, 2], [3, 3], [2, 3], [2, 2]],
  ];
  for (let k = 0; k <= T; k++) for (let b = 0; b < B; b++) hand.set(paths[b][k], (k * B + b) * 2);
  const c = pathCurvature(hand, T, B);
  assert.equal(c.peak[0], 1);
  assert.ok(Math.abs(c.peak[1]) < 1e-12);
  assert.ok(Number.isNaN(c.peak[2]));
  assert.deepEqual(Array.from(c.chord).map((x) => +x.toFixed(12)), [4, 4, 0]);
  assert.ok(Math.abs(c.meanAbs - 0.5) < 1e-12);
  assert.throws(() => pathCurvature(hand.subarray(2), T, B), /hand.length/);
});

test("the acute analysis runs every pass in the curl field it is given, as a direct simulation does", () => {
  const n = net.initNetwork({ N: 12 }, Rng.seeded(4, "weights"));
  const co = task.centreOutAll();
  const [plain, curled] = [0, 0.5].map((g) => acuteResponses([{ label: "fb off", network: n, feedback: false }], [0], { seed: 2, curlGain: g })[0]);
  const direct = net.simulate(n, co, { feedback: false, init: Rng.seeded(2, "eval-init"), curlGain: 0.5 });
  assert.deepEqual(curled.rollout.v, direct.v);
  assert.notDeepEqual(curled.rollout.v, plain.rollout.v);
  assert.deepEqual(curled.hand, net.handPositions(direct, co));
  assert.throws(() => acuteResponses([{ label: "x", network: n, feedback: false }], [0], { curlGain: NaN }), /curlGain/);
});

test("mean speed: per step over trials, and over the steps before each trial's own go step", () => {
  const T = 2;
  const B = 2;
  // v[k, b] = (3, 4) * (k + 1) for trial 0, (0, 1) for trial 1.
  const v = new Float64Array((T + 1) * B * 2);
  for (let k = 0; k <= T; k++) v.set([3 * (k + 1), 4 * (k + 1), 0, 1], k * B * 2);
  const s = meanSpeed(v, T, B, [2, 1]);
  assert.deepEqual([...s.overTime], [3, 5.5, 8]);
  assert.equal(s.beforeMean, (5 + 10 + 1) / 3);
  assert.ok(Number.isNaN(meanSpeed(v, T, B).beforeMean));
  assert.throws(() => meanSpeed(v, T, B, [1]), /before.length/);
});

test("endpoints: the angle (+ counter-clockwise) and relative length of each reach's end, by hand", () => {
  const co = task.centreOut([0, 2]); // targets (5, 0) and (0, 5) from (0, 0)
  const T = co.T;
  const hand = new Float64Array((T + 1) * 2 * 2);
  hand.set([0, 4, -2.5, 2.5 * Math.sqrt(3)], T * 2 * 2); // trial 0: 90° ccw, length 4/5; trial 1: 30° ccw, length 1
  const e = endpoints(hand, co);
  assert.ok(Math.abs(e.angleDeg[0] - 90) < 1e-12 && Math.abs(e.lengthRatio[0] - 0.8) < 1e-12);
  assert.ok(Math.abs(e.angleDeg[1] - 30) < 1e-12 && Math.abs(e.lengthRatio[1] - 1) < 1e-12);
  assert.ok(Math.abs(e.meanAngleDeg - 60) < 1e-12 && Math.abs(e.meanLengthRatio - 0.9) < 1e-12);
  const rot = task.rotate(co, 30);
  assert.ok(Math.abs(endpoints(hand, rot).angleDeg[0] - 60) < 1e-9, "measured from the rotated target");
  hand.set([0, -4], T * 2 * 2);
  assert.ok(Math.abs(endpoints(hand, co).angleDeg[0] + 90) < 1e-12, "clockwise is negative");
});

test("errorShareBefore: the share of the squared error on the steps before each trial's own bound", () => {
  // T = 2 (3 steps), B = 2; trial 0 errors (1,0),(0,2),(0,0): squares 1, 4, 0; trial 1 errors (0,0),(3,0),(0,1): 0, 9, 1.
  const e = [1, 0, 0, 0, /* k=1 */ 0, 2, 3, 0, /* k=2 */ 0, 0, 0, 1];
  // before = [1, 2]: trial 0 counts k = 0 (1), trial 1 counts k = 0, 1 (0 + 9); total 15.
  assert.equal(errorShareBefore(e, 2, 2, [1, 2]), 10 / 15);
  assert.equal(errorShareBefore(e, 2, 2, [0, 0]), 0);
  assert.throws(() => errorShareBefore(e, 2, 2, [1]), /before.length/);
  assert.throws(() => errorShareBefore(new Array(12).fill(0), 2, 2, [1, 1]), /e: has no error at all/);
});
