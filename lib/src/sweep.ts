/**
 * Learning-rate sweeps (figure S1): a grid of adaptation cells, condition x rotation x learning rate x
 * seed, each one adaptation run from the same pre-trained network. This file is the science side: the
 * grid, its cells in a fixed order, the assignment of cells to shards, one cell's run with its
 * divergence rule, and the merge of finished cells into one table. `cli/sweep.ts` does the files,
 * processes and clusters.
 *
 * A cell diverges when its trial loss, W_rec or test error stops being finite, or its test error (feedback off,
 * 8 rotated targets) exceeds `divergeFactor` times the cell's own error before adaptation. A diverged
 * cell stops at once and is recorded as such, with the trial where it happened: never as a NaN.
 */
import { normaliseFeedbackRule } from "./feedbackRules";
import { normaliseMeasure } from "./measures";
import { Adapter, AdaptConfig, DivergenceError, adaptConfig } from "./adapt";
import { Network } from "./network";
import { ruleNames, ruleRegistry } from "./rules";
import { Named, OptionValues, plainOptions } from "./registry";
import { normalisePerturbation } from "./perturbation";
import { ParameterError, finite, integer, positive } from "./validate";
import type { HeatCell } from "./plot";

/** A sweep grid, as kept in a JSON file (e.g. grids/s1.json). */
export interface SweepGrid {
  /** Names the results folder (runs/sweep/<name>, or data/results/<name> when shipped). */
  name: string;
  /** The pre-trained checkpoint, relative to the project's data/ folder (e.g. "pretrained/pretrain-fb-seed1.safetensors"). */
  pretrained: string;
  /** Conditions: a rule name, with "+c" when the control input stays on during learning. */
  conditions: string[];
  /** Rotations of the targets, degrees. */
  rotations: number[];
  /** Learning rates per condition (every condition needs its own list). */
  learningRates: Record<string, number[]>;
  /** Adaptation seeds: each cell runs once per seed. */
  seeds: number[];
  /** Adaptation trials per cell. */
  trials: number;
  /** Test every this many trials (and before trial 0 and after the last). */
  testEvery: number;
  /** A cell diverges when its test error exceeds this factor times its error before adaptation (or is not finite). */
  divergeFactor: number;
  /** Free text kept with the results: why these rates. */
  description?: string;
  /**
   * Plugin files (relative to the project root) that register rules the conditions name; loaded before the
   * grid is checked (cli/sweep.ts), and recorded with their SHA-256 in every cell's settings.
   */
  plugins?: string[];
  /** Options per rule name (AdaptConfig.ruleOptions), e.g. { "node_perturbation": { "sigma": 0.1 } }. */
  ruleOptions?: Record<string, OptionValues>;
  /**
   * Perturbations in force in every cell besides the target rotation (AdaptConfig.perturbations), e.g.
   * [{ "name": "cursor_rotation", "options": { "deg": 90 } }] with "rotations": [0].
   */
  perturbations?: Named[];
  /**
   * A rule that lets W_fb learn in every cell (AdaptConfig.feedbackRule), e.g. { "name": "noise_mirror" };
   * absent: W_fb fixed, the paper's.
   */
  feedbackRule?: Named;
  /**
   * Registered measures that watch every cell (AdaptConfig.measures), e.g. [{ "name": "control_size" }]; their
   * columns join each cell's trial log.
   */
  measures?: Named[];
}

/** One cell of a grid: a condition at one rotation, learning rate and seed. */
export interface SweepCell {
  /** Position in the grid's fixed order (sharding uses it). */
  index: number;
  /** File-safe name, e.g. "rflo+c-rot40-lr5e-5-seed2". */
  /** File-safe name, e.g. "rflo+c-rot40-lr5e-5-seed2". */
  id: string;
  /** The condition label, e.g. "rflo+c". */
  condition: string;
  /** The registered rule name. */
  rule: string;
  /** Control input on while learning ("+c"). */
  control: boolean;
  /** Target rotation, degrees. */
  rotation: number;
  /** Learning rate as given. */
  lr: number;
  /** Adaptation seed. */
  seed: number;
}

/** How a cell ended: it ran all its trials, or it diverged (and stopped there). */
export type CellStatus = "done" | "diverged";

/** What a finished cell yields. */
export interface CellResult {
  /** "done" or "diverged". */
  status: CellStatus;
  /** Test error before adaptation and after the last trial run (feedback off, 8 rotated targets). */
  initialTestError: number;
  /** The last finite test error (the one that crossed the bound, for a diverged cell). */
  finalTestError: number;
  /** Trials run (fewer than grid.trials when diverged). */
  trialsDone: number;
  /** The trial after which divergence was detected (null unless diverged) and why. */
  divergedAt: number | null;
  /** Why it diverged (null unless diverged). */
  divergedBecause: string | null;
  /** The test curve: error after `trial` trials. */
  tests: {
    /** Trials done before the test. */
    trial: number;
    /** Test error, feedback off. */
    testError: number;
  }[];
  /** Mean trial loss over the last min(100, trialsDone) trials. */
  lateTrialLoss: number;
}

const CONDITION = /^([a-z][a-z0-9_]*)(\+c)?$/;

/** Parses "rflo+c" into a rule and the control flag; a clear error for anything else. */
export function parseCondition(condition: string): {
  /** The registered rule name. */
  rule: string;
  /** "+c": control on. */
  control: boolean;
} {
  const m = CONDITION.exec(condition);
  if (!m || !ruleNames().includes(m[1])) {
    throw new ParameterError("conditions", `each must be one of ${ruleNames().flatMap((r) => [`${r}+c`, r]).join(", ")} (a plugin's rules need its file in the grid's "plugins"), got ${JSON.stringify(condition)}`);
  }
  return { rule: m[1], control: m[2] === "+c" };
}

/** "5e-5" rather than "0.00005": short, exact for the grid's values, and safe in file names. */
export function formatLr(lr: number): string {
  const [mant, exp] = lr.toExponential().split("e");
  return `${mant}e${Number(exp)}`;
}

/** Checks a parsed grid (from JSON) and returns it typed; every error names the field and what it allows. */
export function checkGrid(raw: unknown): SweepGrid {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ParameterError("grid", "must be a JSON object");
  const g = raw as Record<string, unknown>;
  const known = ["name", "pretrained", "conditions", "rotations", "learningRates", "seeds", "trials", "testEvery", "divergeFactor", "description", "plugins", "ruleOptions", "perturbations", "feedbackRule", "measures"];
  for (const k of Object.keys(g)) if (!known.includes(k)) throw new ParameterError(k, `is not a grid field (fields: ${known.join(", ")})`);
  const list = (name: string, min = 1): unknown[] => {
    const v = g[name];
    if (!Array.isArray(v) || v.length < min) throw new ParameterError(name, `must be a list of at least ${min} value(s)`);
    return v;
  };
  const str = (name: string): string => {
    const v = g[name];
    if (typeof v !== "string" || v.length === 0) throw new ParameterError(name, "must be a non-empty string");
    return v;
  };
  const name = str("name");
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new ParameterError("name", `must be a file-safe name (letters, digits, . _ -), got ${JSON.stringify(name)}`);
  const conditions = list("conditions").map((c) => {
    if (typeof c !== "string") throw new ParameterError("conditions", "must be strings");
    parseCondition(c);
    return c;
  });
  if (new Set(conditions).size !== conditions.length) throw new ParameterError("conditions", "must not repeat");
  const numbers = (field: string, values: unknown[]): number[] => {
    const out = values.map((v) => {
      if (typeof v !== "number") throw new ParameterError(field, `must be numbers, got ${JSON.stringify(v)}`);
      return v;
    });
    if (new Set(out).size !== out.length) throw new ParameterError(field, "must not repeat");
    return out;
  };
  const rotations = numbers("rotations", list("rotations"));
  for (const r of rotations) {
    finite("rotations", r);
    if (r < -180 || r > 180) throw new ParameterError("rotations", `must be in [-180, 180] degrees, got ${r}`);
  }
  const lrsRaw = g.learningRates;
  if (typeof lrsRaw !== "object" || lrsRaw === null || Array.isArray(lrsRaw)) throw new ParameterError("learningRates", "must be an object: condition -> list of rates");
  const learningRates: Record<string, number[]> = {};
  for (const c of conditions) {
    const v = (lrsRaw as Record<string, unknown>)[c];
    if (!Array.isArray(v) || v.length === 0) throw new ParameterError(`learningRates.${c}`, "must be a non-empty list of rates");
    learningRates[c] = numbers(`learningRates.${c}`, v);
    for (const lr of learningRates[c]) positive(`learningRates.${c}`, lr);
  }
  for (const c of Object.keys(lrsRaw)) if (!conditions.includes(c)) throw new ParameterError(`learningRates.${c}`, `names a condition not in conditions (${conditions.join(", ")})`);
  const seeds = numbers("seeds", list("seeds"));
  for (const s of seeds) integer("seeds", s, 0);
  const trials = g.trials ?? 1000;
  const testEvery = g.testEvery ?? 25;
  const divergeFactor = g.divergeFactor ?? 10;
  if (typeof trials !== "number") throw new ParameterError("trials", "must be a number");
  if (typeof testEvery !== "number") throw new ParameterError("testEvery", "must be a number");
  if (typeof divergeFactor !== "number") throw new ParameterError("divergeFactor", "must be a number");
  integer("trials", trials, 1);
  integer("testEvery", testEvery, 1);
  if (!(divergeFactor > 1) || !Number.isFinite(divergeFactor)) throw new ParameterError("divergeFactor", `must be a finite number > 1, got ${divergeFactor}`);
  const description = g.description;
  if (description !== undefined && typeof description !== "string") throw new ParameterError("description", "must be a string");
  const plugins = g.plugins;
  if (plugins !== undefined && (!Array.isArray(plugins) || plugins.some((f) => typeof f !== "string" || !f))) throw new ParameterError("plugins", "must be a list of file paths (relative to the project root)");
  const ruleOptionsRaw = g.ruleOptions;
  let ruleOptions: Record<string, OptionValues> | undefined;
  if (ruleOptionsRaw !== undefined) {
    ruleOptions = plainOptions("ruleOptions", ruleOptionsRaw as OptionValues) as Record<string, OptionValues>;
    for (const [rule, o] of Object.entries(ruleOptions)) ruleRegistry.options(rule, plainOptions(`ruleOptions.${rule}`, o));
  }
  let perturbations: Named[] | undefined;
  if (g.perturbations !== undefined) {
    if (!Array.isArray(g.perturbations)) throw new ParameterError("perturbations", "must be a list of { name, options }");
    perturbations = g.perturbations.map((p, i) => normalisePerturbation(p as Named, `perturbations[${i}]`));
  }
  const feedbackRule = g.feedbackRule === undefined ? undefined : normaliseFeedbackRule(g.feedbackRule as Named);
  let measures: Named[] | undefined;
  if (g.measures !== undefined) {
    if (!Array.isArray(g.measures)) throw new ParameterError("measures", "must be a list of { name, options }");
    measures = g.measures.map((m, i) => normaliseMeasure(m as Named, `measures[${i}]`));
  }
  return {
    name, pretrained: str("pretrained"), conditions, rotations, learningRates, seeds, trials, testEvery, divergeFactor,
    ...(description ? { description } : {}), ...(plugins ? { plugins: plugins as string[] } : {}), ...(ruleOptions ? { ruleOptions } : {}),
    ...(perturbations ? { perturbations } : {}), ...(feedbackRule ? { feedbackRule } : {}), ...(measures ? { measures } : {}),
  };
}

/** Every cell of the grid, in a fixed order: seed, rotation, condition, learning rate (slowest to fastest varying). */
export function gridCells(grid: SweepGrid): SweepCell[] {
  const cells: SweepCell[] = [];
  for (const seed of grid.seeds) {
    for (const rotation of grid.rotations) {
      for (const condition of grid.conditions) {
        for (const lr of grid.learningRates[condition]) {
          const { rule, control } = parseCondition(condition);
          const id = `${condition}-rot${rotation}-lr${formatLr(lr)}-seed${seed}`;
          cells.push({ index: cells.length, id, condition, rule, control, rotation, lr, seed });
        }
      }
    }
  }
  return cells;
}

/** Shard i of n (0 <= i < n): the cells whose index is i modulo n. Every cell is in exactly one shard. */
export function shardCells(cells: SweepCell[], shard: { index: number; count: number }): SweepCell[] {
  return cells.filter((c) => c.index % shard.count === shard.index);
}

/** Parses "i/n" (0-based i). */
export function parseShard(text: string): {
  /** 0-based shard index. */
  index: number;
  /** Number of shards. */
  count: number;
} {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new ParameterError("shard", `must be i/n with 0 <= i < n, e.g. 0/8, got ${JSON.stringify(text)}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new ParameterError("shard", `must be i/n with 0 <= i < n, got ${text}`);
  return { index, count };
}

/**
 * The shard a cluster task should take, from its environment: a Slurm job array (SLURM_ARRAY_TASK_ID
 * counted from SLURM_ARRAY_TASK_MIN, out of SLURM_ARRAY_TASK_COUNT), or a Kubernetes indexed job
 * (JOB_COMPLETION_INDEX, out of SHARD_COUNT, which the job spec sets to its `completions`). Null: neither.
 */
export function shardFromEnv(env: Record<string, string | undefined>): {
  /** 0-based shard index. */
  index: number;
  /** Number of shards. */
  count: number;
  /** Where it came from, for the log. */
  source: string;
} | null {
  const int = (name: string): number => {
    const v = env[name];
    if (v === undefined || !/^\d+$/.test(v)) throw new ParameterError(name, `must be a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const id = int("SLURM_ARRAY_TASK_ID");
    const count = int("SLURM_ARRAY_TASK_COUNT");
    const min = env.SLURM_ARRAY_TASK_MIN !== undefined ? int("SLURM_ARRAY_TASK_MIN") : 0;
    const s = parseShard(`${id - min}/${count}`);
    return { ...s, source: `Slurm array task ${id} of ${count}` };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    const index = int("JOB_COMPLETION_INDEX");
    if (env.SHARD_COUNT === undefined) throw new ParameterError("SHARD_COUNT", "must be set (to the job's completions) beside JOB_COMPLETION_INDEX, or pass --shard i/n");
    const s = parseShard(`${index}/${int("SHARD_COUNT")}`);
    return { ...s, source: `Kubernetes completion index ${index} of ${s.count}` };
  }
  return null;
}

/** The adaptation config of one cell. */
export function cellConfig(grid: SweepGrid, cell: SweepCell): AdaptConfig {
  return adaptConfig({
    rule: cell.rule, control: cell.control, lr: cell.lr, seed: cell.seed, rotationDeg: cell.rotation, trials: grid.trials, testEvery: grid.testEvery,
    ...(grid.ruleOptions?.[cell.rule] ? { ruleOptions: grid.ruleOptions[cell.rule] } : {}),
    ...(grid.perturbations ? { perturbations: grid.perturbations } : {}),
    ...(grid.feedbackRule ? { feedbackRule: grid.feedbackRule } : {}),
    ...(grid.measures ? { measures: grid.measures } : {}),
  });
}

/**
 * One cell's run, a trial at a time, on an adapter made from cellConfig (fresh or resumed): the caller
 * drives it (progress bars, checkpoints, interruption) and reads the result once `step` returns false.
 */
export class CellRun {
  private divergedAt: number | null = null;
  private because: string | null = null;
  private over = false;

  /**
   * @param adapter the cell's adapter, fresh or resumed (cellConfig)
   * @param grid the grid the cell belongs to (its divergeFactor)
   */
  constructor(readonly adapter: Adapter, readonly grid: SweepGrid) {
    if (adapter.testLog.length === 0) adapter.test();
    // A resumed cell may have crossed the bound at its last test before the interruption.
    if (adapter.done > 0) this.checkTest();
    this.over = this.over || adapter.done >= adapter.config.trials;
  }

  /** The cell's error before adaptation (its divergence bound is divergeFactor times this). */
  get initialTestError(): number {
    return this.adapter.testLog[0].testError;
  }

  /** Whether the cell has stopped: all its trials done, or diverged. */
  get finished(): boolean {
    return this.over;
  }

  private checkTest(): void {
    const last = this.adapter.testLog[this.adapter.testLog.length - 1].testError;
    const bound = this.grid.divergeFactor * this.initialTestError;
    if (!Number.isFinite(last)) this.because = "test error not finite";
    else if (last > bound) this.because = `test error ${last.toPrecision(4)} > ${this.grid.divergeFactor} x initial ${this.initialTestError.toPrecision(4)}`;
    if (this.because) {
      this.divergedAt = this.adapter.done;
      this.over = true;
    }
  }

  /** Runs one trial (and the test when one is due); returns whether the cell goes on. */
  step(): boolean {
    if (this.over) return false;
    const a = this.adapter;
    try {
      a.trial();
    } catch (e) {
      // The adapter refuses to go on once the loss or W_rec stops being finite; here that is a result.
      // No test follows: the weights are unusable (the last test is the last one before divergence).
      if (!(e instanceof DivergenceError)) throw e;
      this.divergedAt = a.done;
      this.because = e.because;
      this.over = true;
      return false;
    }
    if (a.done % a.config.testEvery === 0 || a.done === a.config.trials) {
      a.test();
      this.checkTest();
    }
    if (a.done >= a.config.trials) this.over = true;
    return !this.over;
  }

  /** The last trial's loss and the latest test error (for progress bars). */
  latest(): {
    /** The last trial's loss. */
    loss: number;
    /** The last test error. */
    testError: number;
  } {
    const a = this.adapter;
    return { loss: a.trialLog.length ? a.trialLog[a.trialLog.length - 1].loss : NaN, testError: a.testLog[a.testLog.length - 1].testError };
  }

  /** The cell's result (call once `finished`). */
  result(): CellResult {
    if (!this.over) throw new Error("CellRun.result: the cell has not finished; call step() until it returns false");
    const a = this.adapter;
    const tests = a.testLog.map((t) => ({ trial: t.trial, testError: t.testError }));
    const ok = tests.filter((t) => Number.isFinite(t.testError));
    const losses = a.trialLog.slice(-100).map((t) => t.loss).filter(Number.isFinite);
    return {
      status: this.divergedAt === null ? "done" : "diverged",
      initialTestError: this.initialTestError,
      finalTestError: ok.length ? ok[ok.length - 1].testError : this.initialTestError,
      trialsDone: a.done,
      divergedAt: this.divergedAt,
      divergedBecause: this.because,
      tests,
      lateTrialLoss: losses.length ? losses.reduce((x, y) => x + y, 0) / losses.length : NaN,
    };
  }
}

/** Runs a whole cell from the pre-trained network in this process (notebooks' quick mode, tests). */
export function runCellFrom(pretrained: Network, grid: SweepGrid, cell: SweepCell): CellResult {
  const run = new CellRun(new Adapter(pretrained, cellConfig(grid, cell)), grid);
  while (run.step());
  return run.result();
}

/** One row of the merged table. */
export interface SweepRow {
  /** The cell id. */
  id: string;
  /** The condition label. */
  condition: string;
  /** Target rotation, degrees. */
  rotation: number;
  /** Learning rate. */
  lr: number;
  /** Adaptation seed. */
  seed: number;
  /** "done" or "diverged". */
  status: CellStatus;
  /** Test error before adaptation (feedback off). */
  initialTestError: number;
  /** The last finite test error. */
  finalTestError: number;
  /** Trials run. */
  trialsDone: number;
  /** The trial where divergence was detected (null unless diverged). */
  divergedAt: number | null;
}

/** The merged table's row for a finished cell. */
export function sweepRow(cell: SweepCell, r: CellResult): SweepRow {
  return {
    id: cell.id,
    condition: cell.condition,
    rotation: cell.rotation,
    lr: cell.lr,
    seed: cell.seed,
    status: r.status,
    initialTestError: r.initialTestError,
    finalTestError: r.finalTestError,
    trialsDone: r.trialsDone,
    divergedAt: r.divergedAt,
  };
}

/** Per condition, rotation and rate: the final error's mean and sd over seeds that did not diverge, and how many diverged. */
export interface SweepSummaryRow {
  /** The condition label. */
  condition: string;
  /** Target rotation, degrees. */
  rotation: number;
  /** Learning rate. */
  lr: number;
  /** Seeds found. */
  seeds: number;
  /** Seeds that diverged. */
  diverged: number;
  /** Mean final test error over the seeds that did not diverge (NaN if none). */
  mean: number;
  /** Their sample sd (0 for one seed, NaN for none). */
  sd: number;
}

/** Per condition, rotation and learning rate: mean and sd of the final test error over the seeds that did not diverge, and how many did. */
export function summarise(rows: SweepRow[]): SweepSummaryRow[] {
  const groups = new Map<string, SweepRow[]>();
  for (const r of rows) {
    const key = `${r.condition}|${r.rotation}|${r.lr}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  const out: SweepSummaryRow[] = [];
  for (const g of groups.values()) {
    const ok = g.filter((r) => r.status === "done").map((r) => r.finalTestError);
    const mean = ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
    const sd = ok.length > 1 ? Math.sqrt(ok.reduce((a, b) => a + (b - mean) ** 2, 0) / (ok.length - 1)) : ok.length === 1 ? 0 : NaN;
    out.push({ condition: g[0].condition, rotation: g[0].rotation, lr: g[0].lr, seeds: g.length, diverged: g.length - ok.length, mean, sd });
  }
  return out;
}

/**
 * Per condition and rotation, the rate with the lowest mean final error among rates where no seed
 * diverged and at least `seeds` seeds finished (a partial sweep's incomplete rates are left out); null
 * when no rate qualifies.
 */
export function bestRates(summary: SweepSummaryRow[], seeds = 1): {
  /** The condition label. */
  condition: string;
  /** Target rotation, degrees. */
  rotation: number;
  /** Its best rate's summary row (null if every rate had a diverged seed). */
  best: SweepSummaryRow | null;
}[] {
  const keys = [...new Set(summary.map((s) => `${s.condition}|${s.rotation}`))];
  return keys.map((k) => {
    const rows = summary.filter((s) => `${s.condition}|${s.rotation}` === k);
    const ok = rows.filter((s) => s.diverged === 0 && s.seeds >= seeds && Number.isFinite(s.mean));
    const best = ok.length ? ok.reduce((a, b) => (b.mean < a.mean ? b : a)) : null;
    return { condition: rows[0].condition, rotation: rows[0].rotation, best };
  });
}

/**
 * A sweep's summary as a table to read: one row per condition and rotation (in the summary's order), one
 * column per learning rate (ascending, "lr 1.5e-6"), each cell the mean final error over the seeds
 * (`digits` significant digits), "diverged" when a seed diverged, or "" where the grid has no such cell;
 * then the best rate (bestRates) and how many rates diverged.
 */
export function rateTable(summary: readonly SweepSummaryRow[], digits = 3): Record<string, string>[] {
  const lrs = [...new Set(summary.map((s) => s.lr))].sort((a, b) => a - b);
  const keys = [...new Set(summary.map((s) => `${s.condition}|${s.rotation}`))];
  const best = bestRates([...summary]);
  return keys.map((k) => {
    const rows = summary.filter((s) => `${s.condition}|${s.rotation}` === k);
    const row: Record<string, string> = { condition: rows[0].condition, rotation: String(rows[0].rotation) };
    for (const lr of lrs) {
      const r = rows.find((x) => x.lr === lr);
      row[`lr ${formatLr(lr)}`] = !r ? "" : r.diverged > 0 ? "diverged" : r.mean.toPrecision(digits);
    }
    const b = best.find((x) => x.condition === rows[0].condition && x.rotation === rows[0].rotation)!.best;
    row.best = b ? `${formatLr(b.lr)}: ${b.mean.toPrecision(digits)}` : "none survives";
    row.diverged = `${rows.filter((x) => x.diverged > 0).length} of ${rows.length}`;
    return row;
  });
}

/**
 * One condition's cells for plot.heatmapTraces: x the learning rate, y the rotation, the mean and sd of
 * the final error over seeds that did not diverge, the number diverged, and cells with no finished seed
 * in `rows` marked missing (not run yet), so that a partial sweep never shows a blank.
 */
export function heatCells(grid: SweepGrid, rows: SweepRow[], condition: string): HeatCell[] {
  const summary = summarise(rows.filter((r) => r.condition === condition));
  const cells: HeatCell[] = [];
  for (const rotation of grid.rotations) {
    for (const lr of grid.learningRates[condition]) {
      const s = summary.find((r) => r.rotation === rotation && r.lr === lr);
      const x = formatLr(lr);
      const y = `${rotation}°`;
      if (!s) cells.push({ x, y, mean: NaN, missing: true });
      else cells.push({ x, y, mean: s.mean, sd: s.sd, n: s.seeds, diverged: s.diverged, of: grid.seeds.length });
    }
  }
  return cells;
}

/** One condition at one end of its rate range, at one rotation (verdictAtRateEnds). */
export interface RateEndEntry {
  /** The condition label. */
  condition: string;
  /** Its rate at this end. */
  lr: number;
  /** Seeds run for this cell (rows found), out of `of` (the grid's seeds). */
  seeds: number;
  /** The grid's number of seeds. */
  of: number;
  /** Seeds that diverged; mean and sd are over the others (mean NaN when none finished, sd 0 for one, NaN for none). */
  diverged: number;
  /** Mean final test error over finished seeds. */
  mean: number;
  /** Their sample sd. */
  sd: number;
  /** Finished seeds whose final error is above their own error before adaptation (e.g. a hand that collapsed to a standstill). */
  aboveInitial: number;
  /** 1 for the best; ties share a rank (e.g. every seed diverged in both); null when no seed of the cell has been run. */
  rank: number | null;
}

/** Two conditions compared at one end (verdictAtRateEnds): `a` at rate lrA, `b` at lrB. */
export interface RateEndPair {
  /** The first condition of the pair. */
  a: string;
  /** The second condition. */
  b: string;
  /** a's learning rate. */
  lrA: number;
  /** b's learning rate. */
  lrB: number;
  /** Both at the same absolute rate (a rate the two conditions' lists share), or each at its own end. */
  sameRate: boolean;
  /** The better of the two by the ranking rule; null for a tie or when either has no seed run. */
  better: string | null;
  /**
   * Why: "mean" (neither diverged: the lower mean), "diverged" (one has diverged seeds, the other none),
   * "fewer diverged" (both have some; the smaller share), "mean of finished" (the same share diverged:
   * the lower mean over the seeds that finished), "tie", or "not run".
   */
  basis: "mean" | "diverged" | "fewer diverged" | "mean of finished" | "tie" | "not run";
  /**
   * The worse condition's mean over the better's (the higher over the lower for a tie): above 1 when the means
   * decided, below 1 when divergence decided for the one with the higher mean; NaN unless both have a finished seed.
   */
  ratio: number;
  /** Whether the means are further apart than the sum of the two sds; null unless both have at least 2 finished seeds. */
  apart: boolean | null;
  /** The two cells as in `entries` (rank null here). */
  cellA: RateEndEntry;
  /** The second cell, as in `entries`. */
  cellB: RateEndEntry;
}

/** The verdict at one end of the rate range, at one rotation. */
export interface RateEndVerdict {
  /** Target rotation, degrees. */
  rotation: number;
  /** Which end of the range: each condition's smallest or largest rate. */
  end: "smallest" | "largest";
  /** Every condition of the grid at its own end rate, best first: the ranking. */
  entries: RateEndEntry[];
  /** The pairs compared at this end (see verdictAtRateEnds). */
  pairs: RateEndPair[];
}

/**
 * The sweep's verdict away from the best rates: at each rotation and at each end of the rate range (every
 * condition at the smallest, then at the largest rate in its own list in the grid; in S1 the paper's rate
 * times 0.1 and times 10), each condition's final test error (mean ± sd over the seeds that finished), the
 * number of seeds diverged, and a ranking; and pairs of conditions compared head to head.
 *
 * The ranking: a condition with any diverged seed at that rate counts as worse than one with none, however
 * high the latter's error; between two with diverged seeds, the smaller share of seeds diverged is better;
 * otherwise the lower mean over the finished seeds. Every seed diverged in both: a tie (the same rank). A
 * finished seed counts with its final error even when it ended above its error before adaptation (a
 * collapse to a still hand is finite): `aboveInitial` counts those. Cells with no row (not run yet) are
 * listed last with rank null; `seeds` says how many of the grid's seeds a cell has.
 *
 * Pairs: by default every condition "X+c" with its "X" when both are in the grid (e.g. rflo+c with rflo,
 * bptt+c with bptt), or the `pairs` given. Each pair is compared at each condition's own end (`sameRate`
 * true when those are the same absolute rate, as for RFLO+c and RFLO in S1), and also at the smallest or
 * largest absolute rate the two lists share when that differs. The comparison follows the ranking rule,
 * with the ratio of the means and whether they are further apart than the sum of their sds.
 *
 * Pure: no I/O. `rows` is the merged table (sweep.csv or sweepRow); rows of other conditions are ignored.
 */
export function verdictAtRateEnds(rows: SweepRow[], grid: SweepGrid, opts: { pairs?: [string, string][] } = {}): RateEndVerdict[] {
  const of = grid.seeds.length;
  const cell = (condition: string, rotation: number, lr: number): RateEndEntry => {
    const g = rows.filter((r) => r.condition === condition && r.rotation === rotation && r.lr === lr);
    const ok = g.filter((r) => r.status === "done");
    const e = ok.map((r) => r.finalTestError);
    const mean = e.length ? e.reduce((x, y) => x + y, 0) / e.length : NaN;
    const sd = e.length > 1 ? Math.sqrt(e.reduce((x, y) => x + (y - mean) ** 2, 0) / (e.length - 1)) : e.length === 1 ? 0 : NaN;
    return { condition, lr, seeds: g.length, of, diverged: g.length - ok.length, mean, sd, aboveInitial: ok.filter((r) => r.finalTestError > r.initialTestError).length, rank: null };
  };
  // Negative: x is better. The basis says which rule decided.
  const judge = (x: RateEndEntry, y: RateEndEntry): { order: number; basis: RateEndPair["basis"] } => {
    if (x.seeds === 0 || y.seeds === 0) return { order: (x.seeds === 0 ? 1 : 0) - (y.seeds === 0 ? 1 : 0), basis: "not run" };
    const dx = x.diverged / x.seeds, dy = y.diverged / y.seeds;
    if ((dx > 0) !== (dy > 0)) return { order: dx > 0 ? 1 : -1, basis: "diverged" };
    if (dx !== dy) return { order: dx - dy, basis: "fewer diverged" };
    const fx = Number.isFinite(x.mean), fy = Number.isFinite(y.mean);
    if (!fx || !fy) return { order: (fx ? 0 : 1) - (fy ? 0 : 1), basis: "tie" };
    if (x.mean === y.mean) return { order: 0, basis: "tie" };
    return { order: x.mean - y.mean, basis: dx > 0 ? "mean of finished" : "mean" };
  };
  const compare = (a: RateEndEntry, b: RateEndEntry): RateEndPair => {
    const { order, basis } = judge(a, b);
    const both = Number.isFinite(a.mean) && Number.isFinite(b.mean);
    const [lo, hi] = order <= 0 ? [a, b] : [b, a];
    return {
      a: a.condition, b: b.condition, lrA: a.lr, lrB: b.lr, sameRate: a.lr === b.lr,
      better: basis === "not run" || basis === "tie" ? null : order < 0 ? a.condition : b.condition,
      basis,
      ratio: !both ? NaN : basis === "tie" ? Math.max(a.mean, b.mean) / Math.min(a.mean, b.mean) : hi.mean / lo.mean,
      apart: a.seeds - a.diverged >= 2 && b.seeds - b.diverged >= 2 ? Math.abs(a.mean - b.mean) > a.sd + b.sd : null,
      cellA: a, cellB: b,
    };
  };
  const pairs = opts.pairs ?? grid.conditions.filter((c) => c.endsWith("+c") && grid.conditions.includes(c.slice(0, -2))).map((c) => [c, c.slice(0, -2)] as [string, string]);
  for (const [a, b] of pairs) {
    for (const c of [a, b]) if (!grid.conditions.includes(c)) throw new ParameterError("pairs", `names a condition not in the grid (${grid.conditions.join(", ")}), got ${JSON.stringify(c)}`);
  }
  const endOf = (lrs: number[], end: "smallest" | "largest") => (end === "smallest" ? Math.min(...lrs) : Math.max(...lrs));
  const out: RateEndVerdict[] = [];
  for (const rotation of grid.rotations) {
    for (const end of ["smallest", "largest"] as const) {
      const at = new Map(grid.conditions.map((c) => [c, cell(c, rotation, endOf(grid.learningRates[c], end))]));
      const entries = [...at.values()].sort((x, y) => judge(x, y).order); // stable: grid order among ties
      entries.forEach((e, i) => {
        if (e.seeds === 0) return;
        e.rank = i > 0 && judge(entries[i - 1], e).order === 0 ? entries[i - 1].rank : i + 1;
      });
      const compared: RateEndPair[] = [];
      for (const [a, b] of pairs) {
        const own = compare({ ...at.get(a)!, rank: null }, { ...at.get(b)!, rank: null });
        compared.push(own);
        const shared = grid.learningRates[a].filter((lr) => grid.learningRates[b].includes(lr));
        if (!shared.length) continue;
        const lr = endOf(shared, end);
        if (!(own.lrA === lr && own.lrB === lr)) compared.push(compare(cell(a, rotation, lr), cell(b, rotation, lr)));
      }
      out.push({ rotation, end, entries, pairs: compared });
    }
  }
  return out;
}
