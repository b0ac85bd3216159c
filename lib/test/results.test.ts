import { test } from "node:test";
import assert from "node:assert/strict";
import { seedBand, RunRecords } from "../src/results";

test("seedBand: per-seed trailing means, then mean and range over seeds", () => {
  const run = (seed: number, ys: number[]): RunRecords => ({
    condition: "c",
    seed,
    trials: ys.map((loss, trial) => ({ trial, loss }) as never),
    tests: [],
  });
  const b = seedBand([run(1, [1, 3, 5]), run(2, [3, 5, 7]), { ...run(3, [0]), condition: "other" }], "c", "trials", "loss", 2);
  assert.deepEqual(b.x, [0, 1, 2]);
  assert.deepEqual(b.lo, [1, 2, 4]);
  assert.deepEqual(b.hi, [3, 4, 6]);
  assert.deepEqual(b.mean, [2, 3, 5]);
  assert.throws(() => seedBand([], "c", "trials", "loss"), /no runs of condition "c"/);
});
