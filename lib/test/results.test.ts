import { test } from "node:test";
import assert from "node:assert/strict";
import { finalError, learningCurves, meanSd, seedBand, stepBand, windowSummary, RunRecords } from "../src/results";
import * as results from "../src/results";

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
  // A diverged seed stops early: it is left out, not allowed to cut the others short.
  const div = { ...run(4, [9]), diverged: { trial: 1, because: "W_rec is no longer finite" } };
  const withDiv = seedBand([run(1, [1, 3, 5]), run(2, [3, 5, 7]), div], "c", "trials", "loss", 2);
  assert.deepEqual([withDiv.x, withDiv.mean], [b.x, b.mean]);
  assert.deepEqual(seedBand([div], "c", "trials", "loss").mean, [9], "every seed diverged: the band ends with them");
  const fig = learningCurves([{ ...run(1, [1, 3, 5]), tests: [{ trial: 0, testError: 1 }] as never }, { ...div, tests: [{ trial: 0, testError: 1 }] as never }], ["c"]);
  assert.equal((fig.data[0] as { name?: string }).name ?? (fig.data as { name?: string }[]).find((t) => t.name)?.name, "c (1 of 2 diverged, not shown)");
  assert.ok(Number.isNaN(finalError(div)) && finalError({ ...run(1, [1]), tests: [{ trial: 0, testError: 0.5 }] as never }) === 0.5);
});

test("windowSummary: each seed's window mean, then mean, sd, min, max over seeds; stepBand per step", () => {
  const run = (seed: number, ys: number[], steps: number[]): RunRecords => ({
    condition: "c",
    seed,
    trials: ys.map((a, trial) => ({ trial, localAlignment: a }) as never),
    tests: [],
    steps: steps.map((a, step) => ({ trial: 3, step, localAlignment: a })),
  });
  const runs = [run(1, [1, 2, 3, NaN], [0.1, 0.2]), run(2, [3, 4, 5, 7], [0.3, 0.0])];
  const t = windowSummary(runs, "localAlignment", [[0, 2], [2, 4]]).objects() as any[];
  const w1 = t.find((r) => r.window === "0-2");
  assert.deepEqual([w1.mean, w1.min, w1.max, w1.n], [2.5, 1.5, 3.5, 2]);
  assert.ok(Math.abs(w1.sd - Math.SQRT2) < 1e-12);
  const w2 = t.find((r) => r.window === "2-4");
  assert.deepEqual([w2.min, w2.max], [3, 6], "NaN entries are skipped");
  assert.throws(() => windowSummary(runs, "localAlignment", [[10, 20]]), /no localAlignment values in trials 10-20/);
  const s = stepBand(runs, "c", 3);
  assert.deepEqual(s.x, [0, 1]);
  assert.deepEqual(s.lo, [0.1, 0.0]);
  assert.deepEqual(s.hi, [0.3, 0.2]);
  assert.ok(Math.abs(s.mean[0] - 0.2) < 1e-15);
  assert.throws(() => stepBand(runs, "c", 0), /no per-step records of trial 0/);
});

test("meanSd: mean ± sample sd with the given significant digits", () => {
  assert.equal(meanSd([1, 2, 3]), "2.00 ± 1.0");
  assert.equal(meanSd([0.0123456], 2), "0.012 ± 0.0");
  assert.equal(meanSd(Float64Array.from([2, 4])), "3.00 ± 1.4");
  assert.equal(meanSd([]), "no values");
});

test("learningCurves: per condition a banded loss curve (left) and test curve (right), log scales, one legend entry", () => {
  const run = (condition: string, seed: number, k: number): RunRecords => ({
    condition,
    seed,
    trials: [1, 2, 3, 4].map((t, trial) => ({ trial, loss: k * t }) as never),
    tests: [0, 2, 4].map((trial) => ({ trial, testError: k / (trial + 1) }) as never),
  });
  const fig = learningCurves([run("rflo+c", 1, 1), run("rflo+c", 2, 3), run("rflo", 1, 2)], ["rflo+c", "rflo"], { window: 2 });
  assert.equal(fig.data.length, 8);
  const line = fig.data[1] as any;
  assert.deepEqual(line.y, [2, 3, 5, 7]); // trailing means over 2 trials of seeds (1,2,3,4) and (3,6,9,12), averaged
  assert.equal(line.line.color, "crimson");
  assert.equal((fig.data[3] as any).xaxis, "x2");
  assert.deepEqual((fig.data[3] as any).y, [2, 2 / 3, 0.4]);
  assert.equal(fig.data.filter((t: any) => t.showlegend !== false && t.name).length, 2);
  assert.equal((fig.layout as any).yaxis2.type, "log");
});

test("networkRuns, acrossNetworks, pairsLower: runs on several networks by hand (a diverged run counts as the higher)", () => {
  const fs = require("fs") as typeof import("fs");
  const os = require("os") as typeof import("os");
  const path = require("path") as typeof import("path");
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "fbc-nets-"));
  // Net 1: a+c 0.1/0.3, a 0.2/0.2; net 2: a+c diverged/0.5, a 0.4/0.6. Net 3 has no folder.
  const write = (net: number, condition: string, seed: number, end: number | null) => {
    const dir = path.join(root, `exp-net${net}`);
    fs.mkdirSync(dir, { recursive: true });
    const base = path.join(dir, `${condition}-seed${seed}`);
    fs.writeFileSync(`${base}.json`, JSON.stringify({ complete: true, condition, config: { seed }, diverged: end === null ? { trial: 3, because: "x" } : null }));
    fs.writeFileSync(`${base}.trials.csv`, "trial,loss\n0,1\n");
    fs.writeFileSync(`${base}.tests.csv`, `trial,testError\n0,1\n1,${end ?? 1}\n`);
  };
  write(1, "a+c", 1, 0.1); write(1, "a+c", 2, 0.3); write(1, "a", 1, 0.2); write(1, "a", 2, 0.2);
  write(2, "a+c", 1, null); write(2, "a+c", 2, 0.5); write(2, "a", 1, 0.4); write(2, "a", 2, 0.6);
  const runs = results.networkRuns(root, "exp");
  assert.equal(runs.length, 8);
  assert.deepEqual(results.pairsLower(runs, "a+c", "a"), { lower: 2, pairs: 4 }); // net 1 seed 1, net 2 seed 2
  assert.deepEqual(results.pairsLower(runs, "a", "a+c"), { lower: 2, pairs: 4 });
  const t = results.acrossNetworks(runs, ["a+c", "a"]).objects() as Record<string, unknown>[];
  assert.deepEqual(t[0], { condition: "a+c", runs: 4, diverged: 1, "final test error": results.meanSd([0.1, 0.3, 0.5]), "network 1": 0.2, "network 2": 0.5 });
  assert.deepEqual(t[1], { condition: "a", runs: 4, diverged: 0, "final test error": results.meanSd([0.2, 0.2, 0.4, 0.6]), "network 1": 0.2, "network 2": 0.5 });
});
