import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, makeStreams } from "../src/rng";

test("same seed and stream give identical numbers; other seeds and streams differ", () => {
  const a = Rng.seeded(7, "trials");
  const b = Rng.seeded(7, "trials");
  const xs = Array.from({ length: 100 }, () => a.nextU32());
  assert.deepEqual(Array.from({ length: 100 }, () => b.nextU32()), xs);
  const c = Rng.seeded(8, "trials");
  const d = Rng.seeded(7, "weights");
  assert.notDeepEqual(Array.from({ length: 100 }, () => c.nextU32()), xs);
  assert.notDeepEqual(Array.from({ length: 100 }, () => d.nextU32()), xs);
});

test("xoshiro128** matches an independent implementation, and seeding is pinned", () => {
  // Reference values from a separate Python implementation of xoshiro128** started at s = [1, 2, 3, 4].
  const r = Rng.fromState({ algorithm: "xoshiro128**", seed: 0, stream: "test", s: [1, 2, 3, 4] });
  assert.deepEqual(Array.from({ length: 6 }, () => r.nextU32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  // Seed derivation is ours; pinning it guards checkpoints' reproducibility against silent changes.
  const s = Rng.seeded(0, "default");
  assert.deepEqual(Array.from({ length: 4 }, () => s.nextU32()), [2901303776, 990198062, 2199454489, 2137763411]);
});

test("state round-trips through JSON and continues the same sequence", () => {
  const a = Rng.seeded(123, "init");
  for (let i = 0; i < 10; i++) a.uniform();
  const saved = JSON.parse(JSON.stringify(a.state()));
  const b = Rng.fromState(saved);
  for (let i = 0; i < 50; i++) assert.equal(b.uniform(), a.uniform());
  assert.equal(b.seed, 123);
  assert.equal(b.stream, "init");
});

test("the standard streams are independent of each other", () => {
  const s = makeStreams(3);
  const w = s.weights.nextU32();
  const t = s.trials.nextU32();
  const i = s.init.nextU32();
  assert.ok(w !== t && t !== i && w !== i);
  // Drawing from one stream does not move another.
  const fresh = makeStreams(3);
  for (let k = 0; k < 1000; k++) fresh.trials.uniform();
  fresh.weights.nextU32();
  assert.equal(fresh.init.nextU32(), i);
});

test("uniform, int and normal have the right ranges and moments", () => {
  const r = Rng.seeded(11);
  const n = 200000;
  let sum = 0;
  let min = 1;
  let max = 0;
  for (let k = 0; k < n; k++) {
    const u = r.uniform();
    sum += u;
    min = Math.min(min, u);
    max = Math.max(max, u);
  }
  assert.ok(min >= 0 && max < 1);
  assert.ok(Math.abs(sum / n - 0.5) < 0.005);
  const counts = new Array(8).fill(0);
  for (let k = 0; k < 80000; k++) counts[r.int(8)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, `int(8) bucket ${c}`);
  let m1 = 0;
  let m2 = 0;
  for (let k = 0; k < n; k++) {
    const z = r.normal();
    m1 += z;
    m2 += z * z;
  }
  assert.ok(Math.abs(m1 / n) < 0.01);
  assert.ok(Math.abs(m2 / n - 1) < 0.02);
});

test("bad seeds and states are rejected with the parameter's name", () => {
  assert.throws(() => Rng.seeded(-1), /seed: must be an integer >= 0/);
  assert.throws(() => Rng.seeded(1.5), /seed/);
  assert.throws(() => Rng.seeded(NaN), /seed/);
  assert.throws(() => Rng.fromState({ algorithm: "mt19937" } as never), /state.algorithm/);
  assert.throws(() => Rng.fromState({ algorithm: "xoshiro128**", seed: 0, stream: "x", s: [0, 0, 0, 0] }), /state.s/);
  assert.throws(() => Rng.seeded(1).int(0), /n: must be an integer/);
});
