import { test } from "node:test";
import assert from "node:assert/strict";
import { Adapter } from "../src/adapt";
import { Pretrainer, pretrainConfig } from "../src/train";
import {
  CellRun, SweepGrid, bestRates, heatCells, cellConfig, checkGrid, formatLr, gridCells, parseShard, runCellFrom, shardCells, shardFromEnv, summarise, sweepRow,
} from "../src/sweep";

const GRID = {
  name: "t",
  pretrained: "pretrained/x.safetensors",
  conditions: ["rflo+c", "bptt"],
  rotations: [30, 60],
  learningRates: { "rflo+c": [5e-5, 5e-4, 1.5e-5], bptt: [5e-6] },
  seeds: [1, 2],
  trials: 10,
  testEvery: 5,
  divergeFactor: 10,
};

test("a grid is checked field by field, with errors that name the field and what it allows", () => {
  const g = checkGrid(GRID);
  assert.equal(g.trials, 10);
  const bad = (patch: Record<string, unknown>, re: RegExp) => assert.throws(() => checkGrid({ ...GRID, ...patch }), re);
  bad({ conditions: ["rflo+c", "sgd"] }, /conditions: each must be one of .*rflo\+c.*got "sgd"/);
  bad({ conditions: [] }, /conditions: must be a list of at least 1/);
  bad({ rotations: [30, 200] }, /rotations: must be in \[-180, 180\] degrees, got 200/);
  bad({ learningRates: { "rflo+c": [1e-5] } }, /learningRates\.bptt: must be a non-empty list/);
  bad({ learningRates: { "rflo+c": [0], bptt: [1e-5] } }, /learningRates\.rflo\+c: must be a finite number > 0/);
  bad({ learningRates: { "rflo+c": [1e-5], bptt: [1e-5], rflo: [1e-5] } }, /learningRates\.rflo: names a condition not in conditions/);
  bad({ seeds: [1, 1] }, /seeds: must not repeat/);
  bad({ trials: 0 }, /trials: must be an integer >= 1/);
  bad({ divergeFactor: 1 }, /divergeFactor: must be a finite number > 1/);
  bad({ name: "a/b" }, /name: must be a file-safe name/);
  bad({ lr: 1 }, /lr: is not a grid field/);
  assert.throws(() => checkGrid([]), /grid: must be a JSON object/);
});

test("cells come in a fixed order with file-safe ids, and shards partition them", () => {
  const g = checkGrid(GRID);
  const cells = gridCells(g);
  assert.equal(cells.length, 2 * 2 * (3 + 1));
  assert.deepEqual(cells.map((c) => c.index), cells.map((_, i) => i));
  assert.equal(cells[0].id, "rflo+c-rot30-lr5e-5-seed1");
  assert.equal(cells[2].id, "rflo+c-rot30-lr1.5e-5-seed1");
  assert.equal(cells[3].id, "bptt-rot30-lr5e-6-seed1");
  assert.equal(new Set(cells.map((c) => c.id)).size, cells.length);
  assert.deepEqual([cells[3].rule, cells[3].control, cells[0].control], ["bptt", false, true]);
  assert.equal(formatLr(0.00015), "1.5e-4");
  assert.equal(formatLr(1e-3), "1e-3");
  for (const n of [1, 3, 5, 16, 40]) {
    const seen = new Map<number, number>();
    for (let i = 0; i < n; i++) for (const c of shardCells(cells, { index: i, count: n })) seen.set(c.index, (seen.get(c.index) ?? 0) + 1);
    assert.equal(seen.size, cells.length, `${n} shards cover every cell`);
    assert.ok([...seen.values()].every((k) => k === 1), `${n} shards: each cell exactly once`);
  }
  assert.deepEqual(parseShard("3/8"), { index: 3, count: 8 });
  assert.throws(() => parseShard("8/8"), /shard: must be i\/n with 0 <= i < n, got 8\/8/);
  assert.throws(() => parseShard("1-4"), /shard: must be i\/n/);
});

test("the shard comes from Slurm's or Kubernetes' environment when not given", () => {
  assert.equal(shardFromEnv({}), null);
  assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_COUNT: "8", SLURM_ARRAY_TASK_MIN: "0" }), { index: 5, count: 8, source: "Slurm array task 5 of 8" });
  assert.equal(shardFromEnv({ SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_COUNT: "8", SLURM_ARRAY_TASK_MIN: "1" })!.index, 4, "arrays counted from 1");
  assert.throws(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: "9", SLURM_ARRAY_TASK_COUNT: "8" }), /shard: must be i\/n/);
  assert.throws(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: "x", SLURM_ARRAY_TASK_COUNT: "8" }), /SLURM_ARRAY_TASK_ID: must be a non-negative integer/);
  assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: "2", SHARD_COUNT: "4" }), { index: 2, count: 4, source: "Kubernetes completion index 2 of 4" });
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: "2" }), /SHARD_COUNT: must be set/);
});

function pretrainedSmall() {
  const p = Pretrainer.create(pretrainConfig({ seed: 5, batches: 40, batchSize: 32, evalEvery: 40, network: { N: 24 } }));
  while (p.done < 40) p.step();
  return p.net;
}

test("a cell runs to its end, or stops as diverged with the trial and the reason; a resumed cell ends identical", () => {
  const pre = pretrainedSmall();
  const grid: SweepGrid = checkGrid({ ...GRID, conditions: ["rflo+c"], learningRates: { "rflo+c": [5e-5, 3] }, rotations: [40], seeds: [1], trials: 12, testEvery: 4 });
  const [calm, wild] = gridCells(grid);
  const ok = runCellFrom(pre, grid, calm);
  assert.equal(ok.status, "done");
  assert.equal(ok.trialsDone, 12);
  assert.equal(ok.divergedAt, null);
  assert.deepEqual(ok.tests.map((t) => t.trial), [0, 4, 8, 12]);
  assert.equal(ok.finalTestError, ok.tests[3].testError);
  const bad = runCellFrom(pre, grid, wild);
  assert.equal(bad.status, "diverged");
  assert.ok(bad.divergedAt !== null && bad.divergedAt <= 12 && bad.trialsDone === bad.divergedAt, `diverged at ${bad.divergedAt}`);
  assert.match(bad.divergedBecause!, /not finite|> 10 x initial/);
  assert.ok(Number.isFinite(bad.finalTestError), "a diverged cell still reports a finite error (the last finite one)");

  // Interrupt after 5 trials, save, resume: the same result.
  const first = new Adapter(pre, cellConfig(grid, calm));
  const run1 = new CellRun(first, grid);
  for (let i = 0; i < 5; i++) run1.step();
  const file = require("path").join(require("fs").mkdtempSync(require("path").join(require("os").tmpdir(), "fbc-sweep-")), "cell.safetensors");
  first.save(file);
  const run2 = new CellRun(Adapter.resume(pre, cellConfig(grid, calm), file), grid);
  while (run2.step());
  assert.deepEqual(run2.result(), ok);
  assert.throws(() => new CellRun(new Adapter(pre, cellConfig(grid, calm)), grid).result(), /has not finished/);
});

test("summaries: mean and sd over seeds that did not diverge, and the best rate among rates where none diverged", () => {
  const g = checkGrid({ ...GRID, conditions: ["rflo+c"], learningRates: { "rflo+c": [1e-5, 1e-4] }, rotations: [30], seeds: [1, 2] });
  const cells = gridCells(g);
  const res = (status: "done" | "diverged", e: number) => ({ status, initialTestError: 1, finalTestError: e, trialsDone: 10, divergedAt: status === "done" ? null : 4, divergedBecause: null, tests: [], lateTrialLoss: 0 });
  const rows = [sweepRow(cells[0], res("done", 0.2)), sweepRow(cells[1], res("done", 0.1)), sweepRow(cells[2], res("done", 0.4)), sweepRow(cells[3], res("diverged", 5))];
  const s = summarise(rows);
  const low = s.find((r) => r.lr === 1e-5)!;
  const high = s.find((r) => r.lr === 1e-4)!;
  assert.ok(Math.abs(low.mean - 0.3) < 1e-12 && Math.abs(low.sd - Math.sqrt(0.02)) < 1e-12);
  assert.deepEqual([high.diverged, high.mean, high.sd], [1, 0.1, 0]);
  const best = bestRates(s);
  assert.equal(best.length, 1);
  assert.equal(best[0].best!.lr, 1e-5, "a rate where a seed diverged is not the best, however low its other seeds");
  assert.equal(bestRates(s, 3)[0].best, null, "with 3 seeds required, no rate of 2 seeds qualifies (a partial sweep)");
  const cellsHeat = heatCells(g, rows.slice(0, 3), "rflo+c");
  assert.deepEqual(cellsHeat.map((c) => [c.x, c.y, c.n, c.of, c.missing ?? false]), [["1e-5", "30°", 2, 2, false], ["1e-4", "30°", 1, 2, false]]);
  assert.ok(!cellsHeat[1].diverged && cellsHeat[1].mean === 0.1);
});
