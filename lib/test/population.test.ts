import { test } from "node:test";
import assert from "node:assert/strict";
import { acrossTrialVariance } from "../src/analysis/population";

test("acrossTrialVariance: per step, the rates' variance over trials summed over units, by hand", () => {
  const T = 1;
  const B = 3;
  const N = 2;
  // step 0: all trials equal; step 1: unit 0 = 0, 1, 2 (variance 1), unit 1 = 0, 0, 3 (variance 3).
  const r = new Float64Array((T + 1) * B * N);
  r.fill(0.5, 0, B * N);
  r.set([0, 0, 1, 0, 2, 3], B * N);
  const v = acrossTrialVariance({ T, B, N, r } as never);
  assert.deepEqual([...v], [0, 4]);
  assert.deepEqual([...acrossTrialVariance({ T, B: 1, N, r } as never)], [0, 0]);
});
