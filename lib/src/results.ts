/**
 * Result tables of adaptation runs (arquero): one row per trial and one per test, with the condition
 * and seed of each run, built from live `Adapter`s or loaded from the files `npm run adapt` writes.
 * arquero is loaded on first use, so importing the lib does not load it.
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

/** Trial and test tables of several runs, each row tagged with its run's condition and seed. */
export function adaptationTables(runs: RunRecords[]): { trials: ColumnTable; tests: ColumnTable } {
  const aq = arquero();
  const tag = <T extends object>(r: RunRecords, rows: T[]) => rows.map((row) => ({ condition: r.condition, seed: r.seed, ...row }));
  return {
    trials: aq.from(runs.flatMap((r) => tag(r, r.trials))),
    tests: aq.from(runs.flatMap((r) => tag(r, r.tests))),
  };
}

/** Reads every complete run in `dir` (files <condition>-seed<S>.{json,trials.csv,tests.csv}). */
export function loadAdaptationRuns(dir: string): RunRecords[] {
  const aq = arquero();
  if (!fs.existsSync(dir)) throw new Error(`no results folder ${dir}: run \`npm run adapt\` first`);
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
