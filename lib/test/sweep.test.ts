import { test } from "node:test";
import assert from "node:assert/strict";
import { Adapter } from "../src/adapt";
import { Pretrainer, pretrainConfig } from "../src/train";
import {
  CellRun, SweepGrid, SweepRow, bestRates, heatCells, cellConfig, checkGrid, formatLr, gridCells, parseShard, runCellFrom, shardCells, shardFromEnv, summarise, sweepRow,
  rateTable, verdictAtRateEnds,
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
  // A feedback rule in every cell: stored with its options spelled out, refused with unknown ones.
  const fb = checkGrid({ ...GRID, feedbackRule: { name: "noise_mirror", options: { eta: 0.1 } } });
  assert.deepEqual(cellConfig(fb, gridCells(fb)[0]).feedbackRule, { name: "noise_mirror", options: { sigma: 0.5, eta: 0.1 } });
  assert.equal(cellConfig(g, gridCells(g)[0]).feedbackRule, null);
  bad({ feedbackRule: { name: "noise_mirror", options: { et: 1 } } }, /et/);
  // Registered measures watch every cell.
  const m = checkGrid({ ...GRID, measures: [{ name: "control_size" }] });
  assert.deepEqual(cellConfig(m, gridCells(m)[0]).measures, [{ name: "control_size", options: {} }]);
  assert.deepEqual(cellConfig(g, gridCells(g)[0]).measures, []);
  bad({ measures: { name: "control_size" } }, /measures: must be a list/);
  bad({ measures: [{ name: "no_such_measure" }] }, /no_such_measure/);
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
  // The table to read: a column per rate, ascending; a diverged seed marks its rate; the best rate and the count.
  assert.deepEqual(rateTable(s), [{ condition: "rflo+c", rotation: "30", "lr 1e-5": "0.300", "lr 1e-4": "diverged", best: "1e-5: 0.300", diverged: "1 of 2" }]);
  assert.deepEqual(Object.keys(rateTable([...s].reverse())[0]), ["condition", "rotation", "lr 1e-5", "lr 1e-4", "best", "diverged"]);
});

test("the verdict at the ends of the rate range: ranking, diverged seeds counted worse, pairs at the same rate", () => {
  const g = checkGrid({
    ...GRID, conditions: ["rflo+c", "rflo", "bptt+c", "bptt"], rotations: [30, 60], seeds: [1, 2, 3],
    learningRates: { "rflo+c": [1e-4, 1e-5], rflo: [1e-5, 1e-4], "bptt+c": [1e-5, 1e-4], bptt: [1e-6, 1e-5] },
  });
  const rows: SweepRow[] = [];
  // Final errors per seed; "div" is a diverged seed. Every cell starts at 1.5.
  const add = (condition: string, rotation: number, lr: number, finals: (number | "div")[]) => finals.forEach((f, i) => rows.push({
    id: `${condition}-${rotation}-${lr}-${i + 1}`, condition, rotation, lr, seed: i + 1, status: f === "div" ? "diverged" : "done",
    initialTestError: 1.5, finalTestError: f === "div" ? 9 : f, trialsDone: f === "div" ? 7 : 10, divergedAt: f === "div" ? 7 : null,
  }));
  add("rflo+c", 30, 1e-5, [0.10, 0.12, 0.11]);
  add("rflo", 30, 1e-5, [0.20, 0.22, 0.21]);
  add("bptt+c", 30, 1e-5, [0.05, 0.06, 0.04]);
  add("bptt", 30, 1e-6, [0.07, 0.30, 0.08]);
  add("bptt", 30, 1e-5, [0.03, 0.03, 0.03]);
  add("rflo+c", 30, 1e-4, [0.9, 2.0, 0.1]); // high, one seed ends above where it started, but none diverged
  add("rflo", 30, 1e-4, [0.02, "div", 0.02]); // low, but a seed diverged
  add("bptt+c", 30, 1e-4, ["div", "div", "div"]);
  add("rflo+c", 60, 1e-5, ["div", 0.5, 0.6]);
  add("rflo", 60, 1e-5, ["div", "div", 0.1]);
  add("rflo+c", 60, 1e-4, ["div", "div", "div"]);
  add("rflo", 60, 1e-4, ["div", "div", "div"]); // bptt+c and bptt not run at 60°
  const v = verdictAtRateEnds(rows, g);
  assert.deepEqual(v.map((x) => `${x.rotation} ${x.end}`), ["30 smallest", "30 largest", "60 smallest", "60 largest"]);
  const close = (x: number, y: number) => assert.ok(Math.abs(x - y) < 1e-12, `${x} vs ${y}`);

  const [s30, l30, s60, l60] = v;
  assert.deepEqual(s30.entries.map((e) => [e.condition, e.lr, e.rank]), [["bptt+c", 1e-5, 1], ["rflo+c", 1e-5, 2], ["bptt", 1e-6, 3], ["rflo", 1e-5, 4]]);
  close(s30.entries[1].mean, 0.11);
  close(s30.entries[1].sd, 0.01);
  const [rflo, bpttOwn, bpttShared] = s30.pairs;
  assert.deepEqual([rflo.a, rflo.b, rflo.sameRate, rflo.better, rflo.basis, rflo.apart], ["rflo+c", "rflo", true, "rflo+c", "mean", true]);
  close(rflo.ratio, 0.21 / 0.11);
  assert.deepEqual([bpttOwn.lrA, bpttOwn.lrB, bpttOwn.sameRate, bpttOwn.better, bpttOwn.apart], [1e-5, 1e-6, false, "bptt+c", false], "lower, but within the two sds");
  assert.deepEqual([bpttShared.lrA, bpttShared.lrB, bpttShared.sameRate, bpttShared.better, bpttShared.apart], [1e-5, 1e-5, true, "bptt", true], "also at the rate the two lists share");
  assert.equal(s30.pairs.length, 3, "RFLO+c and RFLO share their ends: compared once");

  assert.deepEqual(l30.entries.map((e) => [e.condition, e.rank, e.diverged]), [["bptt", 1, 0], ["rflo+c", 2, 0], ["rflo", 3, 1], ["bptt+c", 4, 3]]);
  assert.equal(l30.entries[1].aboveInitial, 1);
  close(l30.entries[2].mean, 0.02); // the mean over the seeds that finished
  assert.ok(Number.isNaN(l30.entries[3].mean));
  assert.deepEqual([l30.pairs[0].better, l30.pairs[0].basis, l30.pairs[0].apart], ["rflo+c", "diverged", true], "a diverged seed counts worse, however low the rest");
  close(l30.pairs[0].ratio, 0.02 / 1.0); // the worse one's mean over the better one's: below 1 when divergence decided
  assert.deepEqual([l30.pairs[1].better, l30.pairs[1].basis, l30.pairs[1].lrA, l30.pairs[1].lrB], ["bptt", "diverged", 1e-4, 1e-5]);
  assert.equal(l30.pairs[2].lrA, 1e-5, "largest shared rate");

  assert.deepEqual(s60.entries.map((e) => [e.condition, e.rank, e.seeds]), [["rflo+c", 1, 3], ["rflo", 2, 3], ["bptt+c", null, 0], ["bptt", null, 0]], "cells not run: last, no rank");
  assert.deepEqual([s60.pairs[0].better, s60.pairs[0].basis], ["rflo+c", "fewer diverged"]);
  assert.deepEqual([s60.pairs[1].better, s60.pairs[1].basis], [null, "not run"]);
  assert.deepEqual(l60.entries.slice(0, 2).map((e) => e.rank), [1, 1], "every seed diverged in both: a tie");
  assert.deepEqual([l60.pairs[0].better, l60.pairs[0].basis, Number.isNaN(l60.pairs[0].ratio)], [null, "tie", true]);

  const custom = verdictAtRateEnds(rows, g, { pairs: [["bptt+c", "rflo+c"]] });
  assert.deepEqual([custom[0].pairs.length, custom[0].pairs[0].better, custom[0].pairs[0].sameRate], [1, "bptt+c", true]);
  assert.throws(() => verdictAtRateEnds(rows, g, { pairs: [["rflo+c", "sgd"]] }), /pairs: names a condition not in the grid/);
});
