/**
 * Adaptation runs as data: loaded from the files `npm run adapt` writes (or built from live `Adapter`s),
 * summarised over seeds (arquero tables) and reduced to curves with bands for plots. arquero is loaded
 * on first use, so importing the lib does not load it.
 */
import * as fs from "fs";
import * as path from "path";
import type * as aqType from "arquero";
import type { ColumnTable } from "arquero";
import type { StepRecord, TestRecord, TrialRecord, WindowRecord } from "./adapt";
import { Network, cloneNetwork } from "./network";
import { CheckpointError, TORCH_NAMES, loadCheckpoint } from "./checkpoint";
import { SweepGrid, SweepRow, checkGrid } from "./sweep";
import { Figure, bandTraces, grid, onSubplot } from "./plot";

function arquero(): typeof aqType {
  return require("arquero") as typeof aqType;
}

/** The logs of one adaptation run, as `loadAdaptationRuns` reads them or an `Adapter` holds them. */
export interface RunRecords {
  /** The run's condition label, e.g. "rflo+c" (rule, "+c" with the control input on). */
  condition: string;
  /** The run's seed (AdaptConfig.seed). */
  seed: number;
  /** One record per trial, in order. */
  trials: TrialRecord[];
  /** One record per test of the feedback-off test error, in order (the first before any trial). */
  tests: TestRecord[];
  /** Per-step local alignment of the trials listed in the run's stepTrials (empty when none). */
  steps?: StepRecord[];
  /** Efficiency windows (efficiencyWindows; empty when none). */
  windows?: WindowRecord[];
  /**
   * Set when the run diverged (its loss or W_rec stopped being finite): the trial and why. Its logs then
   * end there, and it has no final error: `finalError` returns NaN for it.
   */
  diverged?: {
    /** The trial at which it diverged. */
    trial: number;
    /** What stopped being finite. */
    because: string;
  } | null;
}

/** The run's test error after its last trial, or NaN when it diverged (its last test predates that). */
export function finalError(run: RunRecords): number {
  return run.diverged ? NaN : run.tests[run.tests.length - 1].testError;
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
      steps: fs.existsSync(`${base}.steps.csv`) ? (read(".steps.csv") as unknown as StepRecord[]) : [],
      windows: fs.existsSync(`${base}.windows.csv`) ? (read(".windows.csv") as unknown as WindowRecord[]) : [],
      diverged: summary.diverged ?? null,
    });
  }
  if (runs.length === 0) throw new Error(`no complete runs in ${dir}`);
  return runs;
}

/** A curve over seeds, as `seedBand` and `stepBand` return it: the mean and the range at each x (a plot.Band). */
export interface SeedBand {
  /** The x values: trial numbers (`seedBand`) or steps (`stepBand`). */
  x: number[];
  /** Mean over the seeds at each x. */
  mean: number[];
  /** Smallest value over the seeds at each x. */
  lo: number[];
  /** Largest value over the seeds at each x. */
  hi: number[];
}

/**
 * Mean and range over the seeds of one condition of a per-trial or per-test column, each seed's series
 * first smoothed by a trailing mean over `window` entries: for plotting a curve with a band. Runs that
 * diverged are left out (their logs stop early); if every seed diverged, the band ends at the earliest.
 */
export function seedBand(runs: RunRecords[], condition: string, log: "trials" | "tests", column: string, window = 1): SeedBand {
  const all = runs.filter((r) => r.condition === condition);
  if (all.length === 0) throw new Error(`no runs of condition ${JSON.stringify(condition)}`);
  const finished = all.filter((r) => !r.diverged);
  const mine = finished.length ? finished : all;
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

/** The colours the notebooks give the four adaptation conditions. */
export const CONDITION_COLORS: Readonly<Record<string, string>> = Object.freeze({ "rflo+c": "crimson", rflo: "salmon", "bptt+c": "navy", bptt: "cornflowerblue", "fed+c": "darkgreen", fed: "yellowgreen" });

/**
 * The learning-curve figure of the adaptation notebooks: left, the training loss per trial (trailing mean
 * over `window` trials); right, the test error; one line per condition (mean over seeds) with a band over
 * the seeds' range; both on log scales.
 */
export function learningCurves(runs: RunRecords[], conditions: string[], opts: { window?: number; testTitle?: string; colors?: Record<string, string> } = {}): Figure {
  const colors = { ...CONDITION_COLORS, ...(opts.colors ?? {}) };
  const layout: Record<string, any> = grid(1, 2, { titles: [`training loss per trial (${opts.window ?? 25}-trial mean)`, opts.testTitle ?? "test error, feedback OFF"], cellWidth: 440 });
  layout.yaxis.type = "log";
  layout.yaxis2.type = "log";
  layout.xaxis.title = { text: "trial" };
  layout.xaxis2.title = { text: "trials done" };
  const label = (c: string) => {
    const mine = runs.filter((r) => r.condition === c);
    const k = mine.filter((r) => r.diverged).length;
    return k ? `${c} (${k} of ${mine.length} diverged${k < mine.length ? ", not shown" : ""})` : c;
  };
  const data = conditions.flatMap((c) => [
    ...onSubplot(0, bandTraces(seedBand(runs, c, "trials", "loss", opts.window ?? 25), { name: label(c), color: colors[c] ?? "black" })),
    ...onSubplot(1, bandTraces(seedBand(runs, c, "tests", "testError"), { name: c, color: colors[c] ?? "black", showlegend: false })),
  ]);
  return { data, layout };
}

/** "mean ± sd" of `xs` (sample sd; 0 for one value), `digits` significant digits for the mean (3) and 2 for the sd. */
export function meanSd(xs: ArrayLike<number>, digits = 3): string {
  const v = Array.from(xs);
  if (v.length === 0) return "no values";
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) : 0;
  return `${m.toPrecision(digits)} ± ${sd.toPrecision(2)}`;
}

/** Per condition: mean, standard deviation, min and max over seeds of the last test error, and n (runs that diverged are left out: see `finalError`). */
export function finalErrors(runs: RunRecords[]): ColumnTable {
  const aq = arquero();
  const last = runs.filter((r) => !r.diverged).map((r) => ({ condition: r.condition, seed: r.seed, finalTestError: finalError(r) }));
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

/** A run of an experiment repeated on several pre-trained networks, with the network it started from. */
export type NetworkRun = RunRecords & {
  /** The network's number n (its folder is <prefix>-net<n>). */
  net: number;
};

/**
 * The runs of an experiment repeated on networks 1, 2, 3 (or `nets`): every complete run in the folders
 * `<results>/<prefix>-net<n>` that exist (`dir` is the results folder, e.g. dataPath("results")).
 */
export function networkRuns(dir: string, prefix: string, nets: readonly number[] = [1, 2, 3]): NetworkRun[] {
  return nets.flatMap((net) => {
    const d = path.join(dir, `${prefix}-net${net}`);
    return fs.existsSync(d) ? loadAdaptationRuns(d).map((r) => ({ ...r, net })) : [];
  });
}

/** In how many (network, seed) pairs condition `a` ends below condition `b` (a diverged run counts as the higher). */
export function pairsLower(runs: readonly NetworkRun[], a: string, b: string): {
  /** Pairs where `a` ends lower. */
  lower: number;
  /** Pairs with both conditions run. */
  pairs: number;
} {
  const end = (r: NetworkRun) => (r.diverged ? Infinity : finalError(r));
  let lower = 0;
  let pairs = 0;
  for (const r of runs.filter((x) => x.condition === a)) {
    const q = runs.find((x) => x.condition === b && x.net === r.net && x.seed === r.seed);
    if (!q) continue;
    pairs++;
    if (end(r) < end(q)) lower++;
  }
  return { lower, pairs };
}

/**
 * One row per condition (in the order of `conditions`, or as they first appear): runs, diverged runs, the
 * final test error as mean ± sd over the runs that did not diverge, and each network's mean.
 */
export function acrossNetworks(runs: readonly NetworkRun[], conditions?: readonly string[]): ColumnTable {
  const conds = conditions ?? [...new Set(runs.map((r) => r.condition))];
  const nets = [...new Set(runs.map((r) => r.net))].sort((x, y) => x - y);
  return arquero().from(conds.map((c) => {
    const rs = runs.filter((r) => r.condition === c);
    const ok = rs.filter((r) => !r.diverged).map(finalError);
    const row: Record<string, string | number> = { condition: c, runs: rs.length, diverged: rs.length - ok.length, "final test error": ok.length ? meanSd(ok) : "-" };
    for (const n of nets) {
      const v = rs.filter((r) => r.net === n && !r.diverged).map(finalError);
      row[`network ${n}`] = v.length ? Number((v.reduce((x, y) => x + y, 0) / v.length).toPrecision(3)) : NaN;
    }
    return row;
  }));
}

/**
 * The pre-trained network with the adapted W_rec of a run (<condition>-seed<S>.wrec.safetensors), and its
 * learned W_fb where the run had a feedback rule (AdaptConfig.feedbackRule) and the file holds it.
 */
export function adaptedNetwork(pretrained: Network, file: string): Network {
  const ck = loadCheckpoint(file);
  const t = ck.tensors[TORCH_NAMES.wRec];
  if (!t || t.data.length !== pretrained.params.wRec.length) throw new CheckpointError(file, `needs ${TORCH_NAMES.wRec} with ${pretrained.params.wRec.length} entries`);
  const net = cloneNetwork(pretrained);
  net.params.wRec.set(t.data);
  const fb = ck.tensors[TORCH_NAMES.wFb];
  if (fb) {
    if (fb.data.length !== net.params.wFb.length) throw new CheckpointError(file, `${TORCH_NAMES.wFb} has ${fb.data.length} entries, not ${net.params.wFb.length}`);
    net.params.wFb.set(fb.data);
  }
  return net;
}

/**
 * Per condition and trial window [from, to): each seed's mean of a per-trial column over the window, then
 * the mean, standard deviation, min and max of those over seeds (n seeds). NaN entries are skipped.
 */
export function windowSummary(runs: RunRecords[], column: string, windows: [number, number][]): ColumnTable {
  const aq = arquero();
  const rows: Record<string, unknown>[] = [];
  for (const r of runs) {
    for (const [from, to] of windows) {
      const vals = (r.trials as unknown as Record<string, number>[])
        .filter((t) => t.trial >= from && t.trial < to)
        .map((t) => Number(t[column]))
        .filter((v) => !Number.isNaN(v));
      if (vals.length === 0) throw new Error(`${r.condition} seed ${r.seed}: no ${column} values in trials ${from}-${to}`);
      rows.push({ condition: r.condition, window: `${from}-${to}`, seed: r.seed, value: vals.reduce((a, b) => a + b, 0) / vals.length });
    }
  }
  return aq
    .from(rows)
    .groupby("condition", "window")
    .rollup({ mean: aq.op.mean("value"), sd: aq.op.stdev("value"), min: aq.op.min("value"), max: aq.op.max("value"), n: aq.op.count() });
}

/** Per step of trial `trial`: the mean and range over seeds of a condition's per-step local alignment. */
export function stepBand(runs: RunRecords[], condition: string, trial: number): SeedBand {
  const mine = runs.filter((r) => r.condition === condition).map((r) => (r.steps ?? []).filter((s) => s.trial === trial));
  if (mine.length === 0 || mine.some((s) => s.length === 0)) throw new Error(`no per-step records of trial ${trial} for every run of ${JSON.stringify(condition)}`);
  const n = Math.min(...mine.map((s) => s.length));
  const at = (k: number) => mine.map((s) => s[k].localAlignment);
  return {
    x: Array.from({ length: n }, (_, k) => mine[0][k].step),
    mean: Array.from({ length: n }, (_, k) => at(k).reduce((a, b) => a + b, 0) / mine.length),
    lo: Array.from({ length: n }, (_, k) => Math.min(...at(k))),
    hi: Array.from({ length: n }, (_, k) => Math.max(...at(k))),
  };
}

/** A merged sweep (`npm run sweep -- merge`): the grid, one row per finished cell, the test curves and the merge's provenance. */
export interface SweepResults {
  /** The grid the sweep ran (checked). */
  grid: SweepGrid;
  /** One row per finished cell (sweep.csv). */
  rows: SweepRow[];
  /** The test-error curves of every finished cell, one entry per test (curves.csv). */
  curves: {
    /** The cell's id. */
    id: string;
    /** The cell's condition label, e.g. "rflo+c". */
    condition: string;
    /** The cell's rotation, in degrees. */
    rotation: number;
    /** The cell's learning rate. */
    lr: number;
    /** The cell's seed. */
    seed: number;
    /** Trials done before the test. */
    trial: number;
    /** The test error, feedback off. */
    testError: number;
  }[];
  /** sweep.json: cells, finished, diverged, missing ids, commits, engines, core-hours, best rates. */
  info: {
    /** Cells in the grid. */
    cells: number;
    /** Cells with a result. */
    finished: number;
    /** Finished cells whose run diverged. */
    diverged: number;
    /** Ids of the cells without a result. */
    missing: string[];
    /** CPU core-hours of the finished cells (of those that recorded it). */
    coreHours: number;
    /** Wall-clock hours of the cells' processes (larger than coreHours when cores were shared). */
    wallHours?: number;
    /** Finished cells that recorded no CPU time (older results). */
    cellsWithoutCpuTime?: number;
    /** Cells per code commit that computed them ("<sha> (dirty)" for an unclean tree). */
    commits: Record<string, number>;
    /** Cells per engine description that computed them. */
    engines: Record<string, number>;
    /** When the merge ran (ISO 8601). */
    mergedAt: string;
  };
}

/** Reads a merged sweep folder (sweep.json, sweep.csv, curves.csv). */
export function loadSweep(dir: string): SweepResults {
  const aq = arquero();
  const file = (f: string) => {
    const p = path.join(dir, f);
    if (!fs.existsSync(p)) throw new Error(`no ${p}: run \`npm run sweep -- merge\` for this folder first`);
    return fs.readFileSync(p, "utf8");
  };
  const info = JSON.parse(file("sweep.json"));
  const rows = aq.fromCSV(file("sweep.csv")).objects() as unknown as SweepRow[];
  for (const r of rows) r.divergedAt = r.divergedAt ?? null;
  const curves = aq.fromCSV(file("curves.csv")).objects() as unknown as SweepResults["curves"];
  return { grid: checkGrid(info.grid), rows, curves, info };
}
