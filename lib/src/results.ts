/**
 * Adaptation runs as data: loaded from the files `npm run adapt` writes (or built from live `Adapter`s),
 * summarised over seeds (arquero tables) and reduced to curves with bands for plots. arquero is loaded
 * on first use, so importing the lib does not load it.
 */
import * as fs from "fs";
import * as path from "path";
import type * as aqType from "arquero";
import type { ColumnTable } from "arquero";
import type { TestRecord, TrialRecord } from "./adapt";
import { Network, cloneNetwork } from "./network";
import { CheckpointError, TORCH_NAMES, loadCheckpoint } from "./checkpoint";

function arquero(): typeof aqType {
  return require("arquero") as typeof aqType;
}

export interface RunRecords {
  condition: string;
  seed: number;
  trials: TrialRecord[];
  tests: TestRecord[];
}

/** Reads every complete run in `dir` (files <condition>-seed<S>.{json,trials.csv,tests.csv}). */
export function loadAdaptationRuns(dir: string): RunRecords[] {
  const aq = arquero();
  if (!fs.existsSync(dir)) throw new Error(`no results folder ${path.resolve(dir)}: run \`npm run adapt\` first (notebooks find shipped results with dataPath("results", ...))`);
  const runs: RunRecords[] = [];
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const summary = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
    if (!summary.complete) continue;
    const base = path.join(dir, name.slice(0, -".json".length));
    const read = (suffix: string) => aq.fromCSV(fs.readFileSync(`${base}${suffix}`, "utf8")).objects();
    runs.push({
      condition: summary.condition,
      seed: summary.config.seed,
      trials: read(".trials.csv") as unknown as TrialRecord[],
      tests: read(".tests.csv") as unknown as TestRecord[],
    });
  }
  if (runs.length === 0) throw new Error(`no complete runs in ${dir}`);
  return runs;
}

/**
 * Mean and range over the seeds of one condition of a per-trial or per-test column, each seed's series
 * first smoothed by a trailing mean over `window` entries: for plotting a curve with a band.
 */
export function seedBand(
  runs: RunRecords[],
  condition: string,
  log: "trials" | "tests",
  column: string,
  window = 1,
): { x: number[]; mean: number[]; lo: number[]; hi: number[] } {
  const mine = runs.filter((r) => r.condition === condition);
  if (mine.length === 0) throw new Error(`no runs of condition ${JSON.stringify(condition)}`);
  const series = mine.map((r) => {
    const ys = (r[log] as unknown as Record<string, number>[]).map((row) => row[column]);
    return ys.map((_, i) => {
      const from = Math.max(0, i - window + 1);
      return ys.slice(from, i + 1).reduce((a, b) => a + b, 0) / (i + 1 - from);
    });
  });
  const n = Math.min(...series.map((s) => s.length));
  const at = (i: number) => series.map((s) => s[i]);
  return {
    x: (mine[0][log] as { trial: number }[]).slice(0, n).map((row) => row.trial),
    mean: Array.from({ length: n }, (_, i) => at(i).reduce((a, b) => a + b, 0) / series.length),
    lo: Array.from({ length: n }, (_, i) => Math.min(...at(i))),
    hi: Array.from({ length: n }, (_, i) => Math.max(...at(i))),
  };
}

/** Per condition: mean, standard deviation, min and max over seeds of the last test error, and n. */
export function finalErrors(runs: RunRecords[]): ColumnTable {
  const aq = arquero();
  const last = runs.map((r) => ({ condition: r.condition, seed: r.seed, finalTestError: r.tests[r.tests.length - 1].testError }));
  return aq
    .from(last)
    .groupby("condition")
    .rollup({
      mean: aq.op.mean("finalTestError"),
      sd: aq.op.stdev("finalTestError"),
      min: aq.op.min("finalTestError"),
      max: aq.op.max("finalTestError"),
      n: aq.op.count(),
    });
}

/** The pre-trained network with the adapted W_rec of a run (<condition>-seed<S>.wrec.safetensors). */
export function adaptedNetwork(pretrained: Network, file: string): Network {
  const ck = loadCheckpoint(file);
  const t = ck.tensors[TORCH_NAMES.wRec];
  if (!t || t.data.length !== pretrained.params.wRec.length) throw new CheckpointError(file, `needs ${TORCH_NAMES.wRec} with ${pretrained.params.wRec.length} entries`);
  const net = cloneNetwork(pretrained);
  net.params.wRec.set(t.data);
  return net;
}
