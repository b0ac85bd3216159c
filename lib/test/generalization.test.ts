import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";
import { Adapter, adaptConfig } from "../src/adapt";
import { generalizationErrors, generalizationSets } from "../src/analysis/generalization";

test("generalization sets: the 8 trained targets, the 8 half-way between them, random reaches; all rotated", () => {
  const s = generalizationSets(40, { randomReaches: 12, seed: 3 });
  assert.deepEqual([s.trained.B, s.between.B, s.random.B], [8, 8, 12]);
  assert.deepEqual([s.trained.rotationDeg, s.between.rotationDeg, s.random.rotationDeg], [40, 40, 40]);
  const r = s.trained.config.radius;
  for (let i = 0; i < 8; i++) {
    const a = ((2 * i + 1) * Math.PI) / 8; // 22.5°, 67.5°, ...
    assert.ok(Math.abs(s.between.end[2 * i] - r * Math.cos(a)) < 1e-12 && Math.abs(s.between.end[2 * i + 1] - r * Math.sin(a)) < 1e-12, `target ${i} half-way`);
  }
  assert.deepEqual(Array.from(s.trained.reference), Array.from(task.rotate(task.centreOutAll(), 40).reference), "the adapter's own test set");
  const again = generalizationSets(40, { randomReaches: 12, seed: 3 });
  assert.deepEqual(Array.from(again.random.end), Array.from(s.random.end), "random reaches are a function of the seed");
  assert.notDeepEqual(Array.from(generalizationSets(40, { randomReaches: 12, seed: 4 }).random.end), Array.from(s.random.end));
});

test("generalization errors: the trained-set error is the adapter's test error; gaps are differences", () => {
  const n = net.initNetwork({ N: 20 }, Rng.seeded(2));
  const a = new Adapter(n, adaptConfig({ rule: "rflo", trials: 3, rotationDeg: 30 }));
  a.run();
  const sets = generalizationSets(30, { randomReaches: 10 });
  const e = generalizationErrors(a.net, sets);
  assert.equal(e.trained, a.testLog[a.testLog.length - 1].testError);
  assert.equal(e.gapBetween, e.between - e.trained);
  assert.equal(e.gapRandom, e.random - e.trained);
  assert.ok([e.trained, e.between, e.random].every((x) => Number.isFinite(x) && x > 0));
});
