/**
 * Learning-rate sweeps (figure S1) from one process on a laptop up to a Slurm job array.
 * `npm run sweep -- --help` lists the options.
 *
 *   npm run sweep -- --grid grids/s1.json                  # every cell, one process per core
 *   npm run sweep -- --grid grids/s1.json --shard 3/48     # cells 3, 51, 99, ... (index mod 48 = 3)
 *   sbatch scripts/sweep.slurm                             # a job array: the shard comes from Slurm's environment
 *   npm run sweep -- merge --grid grids/s1.json            # one table, with provenance and the missing cells
 *
 * Each cell (condition x rotation x learning rate x seed) is one adaptation run from the grid's
 * pre-trained network, written atomically to <out>/cells/<id>.json when it finishes (or diverges).
 * A finished cell with identical settings is skipped, one with other settings is refused, and a cell
 * interrupted part-way (Ctrl-C, scancel, preemption: SIGINT or SIGTERM) resumes from
 * <out>/cells/<id>.partial.safetensors, saved every 100 trials and on the signal. So rerunning the same
 * command, or resubmitting the same array, finishes the sweep.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fork } from "child_process";
import * as aq from "arquero";
import { Adapter, adaptConfig } from "../lib/src/adapt";
import { writeFileAtomic } from "../lib/src/checkpoint";
import { loadNetwork } from "../lib/src/checkpoint";
import { engine, setThreads } from "../lib/src/kernels";
import { dataPath, projectPath, runsPath } from "../lib/src/paths";
import { Progress } from "../lib/src/progress";
import { sha256File } from "../lib/src/provenance";
import { CellRun, SweepCell, SweepGrid, SweepRow, bestRates, cellConfig, checkGrid, gridCells, parseShard, shardCells, shardFromEnv, summarise, sweepRow } from "../lib/src/sweep";
import { ParameterError } from "../lib/src/validate";
import { loadPlugin } from "../lib/src/plugin";
import { Option, Refusal, interruptible, opt, runCli } from "./args";
import { assertSameSettings, destination, userPath } from "./output";

const rel = (p: string) => path.relative(process.cwd(), p) || ".";
const DEFAULT_GRID = projectPath("grids", "s1.json");

const spec = {
  usage: "npm run sweep --",
  about: `Runs a learning-rate sweep grid (grids/*.json): run computes this shard's cells (all cells by
default; on a Slurm array or Kubernetes indexed job the shard comes from the environment), merge
builds one table from the finished cells and lists the missing ones, status counts them. Finished
cells with identical settings are skipped; cells with other settings are refused; shipped data is
never written unless asked.`,
  positionals: { names: "[run|merge|status]", min: 0, max: 1 },
  options: {
    grid: { ...opt.str("the sweep grid (JSON)", DEFAULT_GRID, "<file>"), shown: rel(DEFAULT_GRID) },
    out: { ...opt.str("results folder", undefined, "<dir>"), shown: "runs/sweep/<grid name>" },
    shard: { ...opt.str("this task's share of the cells, i/n: the cells whose index is i mod n", undefined, "<i/n>"), shown: "from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX/SHARD_COUNT, else 0/1" },
    only: { ...opt.list("compute only cells of these conditions now (the others stay for a later run)", opt.str("", "", "<condition>"), []), shown: "every condition of the grid" },
    cell: opt.str("compute only this cell (its id, as in status)", undefined, "<id>"),
    workers: { ...opt.int("cells computed at once, each in its own process", undefined, 1, 256), shown: `SLURM_CPUS_PER_TASK in a Slurm task, else one per core (${os.availableParallelism()} here)` },
    threads: opt.int("OpenBLAS threads per cell (not a setting of the result)", 1, 1, 256),
    "require-complete": opt.flag("merge: exit 1 when cells are missing"),
    "replace-shipped": opt.flag("allow --out inside data/ (finished cells with identical settings are kept)"),
    "allow-dirty": opt.flag("allow writing shipped data from a tree with uncommitted changes (recorded)"),
  },
} satisfies { usage: string; about: string; positionals: { names: string; min: number; max: number }; options: Record<string, Option<unknown>> };

/** What must match for a stored cell to count as this cell. */
interface CellSettings {
  config: ReturnType<typeof cellConfig>;
  pretrainedSha256: string;
  divergeFactor: number;
}

function readGrid(file: string): SweepGrid {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Refusal(`--grid ${file}: ${(e as Error).message}`);
  }
  try {
    // The grid's plugins register the rules its conditions may name (paths relative to the project root).
    const plugins = (raw as { plugins?: unknown })?.plugins;
    if (Array.isArray(plugins)) for (const f of plugins) if (typeof f === "string") loadPlugin(path.isAbsolute(f) ? f : projectPath(f));
    return checkGrid(raw);
  } catch (e) {
    if (e instanceof ParameterError) throw new Refusal(`--grid ${file}: ${e.message}`);
    throw e;
  }
}

runCli(spec, async ({ values: a, positionals }) => {
  const mode = positionals[0] ?? "run";
  if (!["run", "merge", "status"].includes(mode)) throw new Refusal(`unknown command ${JSON.stringify(mode)}: use run, merge or status`);
  const gridFile = userPath(a.grid);
  const grid = readGrid(gridFile);
  // status only reads; merge and run write, so they follow the data-safety rules (cli/output.ts).
  const dest = mode === "status" ? null : destination({ command: `sweep/${grid.name}`, out: a.out, replaceShipped: a["replace-shipped"], allowDirty: a["allow-dirty"] || mode === "merge" });
  const out = dest?.dir ?? (a.out !== undefined ? userPath(a.out) : runsPath("sweep", grid.name));
  const cellsDir = path.join(out, "cells");
  const pretrained = dataPath(...grid.pretrained.split("/"));
  const all = gridCells(grid);
  const fileOf = (c: SweepCell) => path.join(cellsDir, `${c.id}.json`);
  const partialOf = (c: SweepCell) => path.join(cellsDir, `${c.id}.partial.safetensors`);
  const finished = (c: SweepCell) => fs.existsSync(fileOf(c));

  if (mode === "status") {
    const done = all.filter(finished);
    const partial = all.filter((c) => !finished(c) && fs.existsSync(partialOf(c)));
    console.log(`${grid.name}: ${done.length}/${all.length} cells finished, ${partial.length} part-way, in ${rel(out)}`);
    for (const c of all) if (!finished(c)) console.log(`  ${fs.existsSync(partialOf(c)) ? "part-way" : "missing "}  ${c.id}`);
    return;
  }
  if (!dest) throw new Error("unreachable");
  if (mode === "merge") return merge(grid, gridFile, all, out, fileOf, a["require-complete"], dest.provenance);

  // ---- run --------------------------------------------------------------------------------------
  const pretrainedSha256 = sha256File(pretrained);
  const settingsOf = (c: SweepCell): CellSettings => ({ config: cellConfig(grid, c), pretrainedSha256, divergeFactor: grid.divergeFactor });
  const envShard = shardFromEnv(process.env);
  const shard = a.shard !== undefined ? { ...parseShard(a.shard), source: "--shard" } : envShard ?? { index: 0, count: 1, source: "default" };
  let mine = shardCells(all, shard);
  for (const c of a.only) if (!grid.conditions.includes(c)) throw new Refusal(`--only ${c}: not a condition of ${rel(gridFile)} (${grid.conditions.join(", ")})`);
  if (a.only.length) mine = mine.filter((c) => a.only.includes(c.condition));
  if (a.cell !== undefined) {
    mine = all.filter((c) => c.id === a.cell);
    if (!mine.length) throw new Refusal(`--cell ${a.cell}: no such cell in ${rel(gridFile)} (npm run sweep -- status lists them)`);
  }
  const how = `Use another --out for a sweep with these settings (nothing is overwritten).`;
  const todo: SweepCell[] = [];
  for (const c of mine) {
    if (finished(c)) {
      const stored = JSON.parse(fs.readFileSync(fileOf(c), "utf8"));
      // Through adaptConfig, so that options added since (with their defaults) compare equal.
      assertSameSettings(fileOf(c), { ...stored.settings, config: adaptConfig(stored.settings.config) }, settingsOf(c), how);
      continue;
    }
    if (fs.existsSync(partialOf(c))) {
      const meta = loadNetwork(partialOf(c)).meta;
      assertSameSettings(partialOf(c), { config: Adapter.savedConfig(partialOf(c)), pretrainedSha256: meta.pretrainedSha256, divergeFactor: meta.divergeFactor }, settingsOf(c), how);
    }
    todo.push(c);
  }
  const label = a.cell !== undefined ? `cell ${a.cell}` : `shard ${shard.index}/${shard.count} (${shard.source})`;
  if (!todo.length) {
    console.error(`${grid.name} ${label}: all ${mine.length} cells finished already in ${rel(out)}`);
    return;
  }
  fs.mkdirSync(cellsDir, { recursive: true });
  const gridCopy = path.join(out, "grid.json");
  // The grid as this run read it, with the code that ran it (for readers of the folder; merge reads the cells).
  const stored = fs.existsSync(gridCopy) ? JSON.parse(fs.readFileSync(gridCopy, "utf8")) : null;
  if (!stored || JSON.stringify(stored.grid) !== JSON.stringify(grid)) writeFileAtomic(gridCopy, JSON.stringify({ grid, ...dest.provenance }, null, 2) + "\n");

  const slurmCpus = Number(process.env.SLURM_CPUS_PER_TASK);
  const workers = Math.min(a.workers ?? (envShard && Number.isInteger(slurmCpus) && slurmCpus > 0 ? slurmCpus : envShard ? 1 : os.availableParallelism()), todo.length);
  console.error(`${grid.name} ${label}: ${todo.length} of ${mine.length} cells to compute (${all.length} in the grid), ${workers} at a time; results -> ${rel(out)}`);

  if (workers > 1) {
    // One child process per cell, longest first (an online-BPTT cell takes ~30x an RFLO cell).
    const cost = (c: SweepCell) => (c.rule === "bptt" ? 30 : 1);
    const queue = [...todo].sort((x, y) => cost(y) - cost(x) || x.index - y.index);
    let failed = 0;
    let interrupted = false;
    let finishedCount = 0;
    const children = new Set<ReturnType<typeof fork>>();
    const forward = (sig: NodeJS.Signals) => () => {
      interrupted = true;
      for (const ch of children) ch.kill(sig);
    };
    process.on("SIGINT", forward("SIGINT"));
    process.on("SIGTERM", forward("SIGTERM"));
    const args = (c: SweepCell) => [
      "run", "--grid", gridFile, "--out", out, "--cell", c.id, "--workers", "1", "--threads", String(a.threads),
      ...(a["replace-shipped"] ? ["--replace-shipped"] : []), ...(a["allow-dirty"] ? ["--allow-dirty"] : []),
    ];
    const slot = async (): Promise<void> => {
      for (let c = queue.shift(); c && !interrupted; c = queue.shift()) {
        const child = fork(__filename, args(c), { execArgv: process.execArgv, env: { ...process.env, FBC_PROGRESS_EVERY: "10" } });
        children.add(child);
        const code = await new Promise<number | null>((resolve) => child.on("exit", (x) => resolve(x)));
        children.delete(child);
        if (code === 130) interrupted = true;
        else if (code !== 0) failed += 1;
        else finishedCount += 1;
      }
    };
    await Promise.all(Array.from({ length: workers }, slot));
    if (interrupted) process.exit(130);
    if (failed) throw new Error(`${failed} of ${todo.length} cells failed (their messages are above); rerun the same command to redo them`);
    console.error(`${grid.name} ${label}: ${finishedCount} cells computed`);
    return;
  }

  const threads = setThreads(a.threads);
  const pre = loadNetwork(pretrained);
  const signals = interruptible();
  for (const c of todo) {
    const config = cellConfig(grid, c);
    const meta = { ...dest.provenance, pretrainedSha256, pretrained: grid.pretrained, divergeFactor: grid.divergeFactor, cell: c.id };
    const adapter = fs.existsSync(partialOf(c)) ? Adapter.resume(pre.network, config, partialOf(c)) : new Adapter(pre.network, config);
    const resumedAt = adapter.done;
    const run = new CellRun(adapter, grid);
    const bar = new Progress({ label: c.id, total: config.trials, start: adapter.done, unit: "trial" });
    if (resumedAt > 0) bar.log(`${c.id}: resuming at trial ${resumedAt}`);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    while (run.step()) {
      const { loss, testError } = run.latest();
      bar.update(adapter.done, { loss, "test (fb off)": testError });
      if (await signals.interrupted()) {
        adapter.save(partialOf(c), meta);
        bar.log(`interrupted at trial ${adapter.done}; saved ${rel(partialOf(c))} (rerun the same command to resume)`);
        process.exit(130);
      }
      if (adapter.done % 100 === 0) adapter.save(partialOf(c), meta);
    }
    const result = run.result();
    const record = {
      complete: true,
      cell: c,
      settings: settingsOf(c),
      result,
      lrApplied: adapter.lr,
      grid: { name: grid.name, file: rel(gridFile) },
      pretrained: { file: grid.pretrained, sha256: pretrainedSha256, codeVersion: pre.meta.codeVersion, seed: pre.meta.seed },
      ...dest.provenance,
      engine: engine().name,
      threads,
      shard: { index: shard.index, count: shard.count, source: shard.source },
      host: os.hostname(),
      slurmJob: process.env.SLURM_ARRAY_JOB_ID ? `${process.env.SLURM_ARRAY_JOB_ID}_${process.env.SLURM_ARRAY_TASK_ID}` : process.env.SLURM_JOB_ID ?? null,
      resumedAt: resumedAt > 0 ? resumedAt : null,
      secondsThisSession: (performance.now() - t0) / 1000,
      // CPU time (user + system) of this cell in this session: its cost, whatever else shared the core.
      cpuSecondsThisSession: ((u) => (u.user + u.system) / 1e6)(process.cpuUsage(cpu0)),
      finishedAt: new Date().toISOString(),
    };
    writeFileAtomic(fileOf(c), JSON.stringify(record, null, 1) + "\n");
    fs.rmSync(partialOf(c), { force: true });
    bar.log(`${c.id}: ${result.status === "diverged" ? `DIVERGED after trial ${result.divergedAt} (${result.divergedBecause})` : `test error ${result.initialTestError.toPrecision(4)} -> ${result.finalTestError.toPrecision(4)}`}`);
  }
});

/** Builds sweep.csv (one row per cell), summary.csv (mean and sd over seeds), curves.csv and sweep.json (provenance, missing cells). */
function merge(grid: SweepGrid, gridFile: string, all: SweepCell[], out: string, fileOf: (c: SweepCell) => string, requireComplete: boolean, mergedBy: object): void {
  const rows: SweepRow[] = [];
  const curves: { id: string; condition: string; rotation: number; lr: number; seed: number; trial: number; testError: number }[] = [];
  const missing: string[] = [];
  const commits = new Map<string, number>();
  const engines = new Map<string, number>();
  const pretrainedShas = new Set<string>();
  let seconds = 0;
  let cpuSeconds = 0;
  let withoutCpu = 0;
  for (const c of all) {
    if (!fs.existsSync(fileOf(c))) {
      missing.push(c.id);
      continue;
    }
    const rec = JSON.parse(fs.readFileSync(fileOf(c), "utf8"));
    const want = { config: cellConfig(grid, c), divergeFactor: grid.divergeFactor };
    assertSameSettings(fileOf(c), { config: adaptConfig(rec.settings.config), divergeFactor: rec.settings.divergeFactor }, want, "Merge with the grid it was computed with, or move it away.");
    rows.push(sweepRow(c, rec.result));
    pretrainedShas.add(rec.settings.pretrainedSha256);
    for (const t of rec.result.tests) curves.push({ id: c.id, condition: c.condition, rotation: c.rotation, lr: c.lr, seed: c.seed, trial: t.trial, testError: t.testError });
    const key = `${rec.commit ?? "?"}${rec.clean ? "" : " (dirty)"}`;
    commits.set(key, (commits.get(key) ?? 0) + 1);
    engines.set(rec.engine, (engines.get(rec.engine) ?? 0) + 1);
    seconds += rec.secondsThisSession ?? 0;
    if (typeof rec.cpuSecondsThisSession === "number") cpuSeconds += rec.cpuSecondsThisSession;
    else withoutCpu += 1;
  }
  if (!rows.length) throw new Refusal(`no finished cells of ${grid.name} in ${out} (run the sweep first)`);
  const summary = summarise(rows);
  writeFileAtomic(path.join(out, "sweep.csv"), aq.from(rows).toCSV());
  writeFileAtomic(path.join(out, "summary.csv"), aq.from(summary).toCSV());
  writeFileAtomic(path.join(out, "curves.csv"), aq.from(curves).toCSV());
  const info = {
    grid,
    gridFile: rel(gridFile),
    cells: all.length,
    finished: rows.length,
    diverged: rows.filter((r) => r.status === "diverged").length,
    missing,
    pretrainedSha256: [...pretrainedShas],
    commits: Object.fromEntries(commits),
    engines: Object.fromEntries(engines),
    // CPU hours of the cells (the cost); the wall hours of their processes are larger when cores were shared.
    coreHours: cpuSeconds / 3600,
    wallHours: seconds / 3600,
    cellsWithoutCpuTime: withoutCpu,
    best: bestRates(summary),
    mergedAt: new Date().toISOString(),
    ...mergedBy, // the code that merged (each cell records the code that computed it)
  };
  writeFileAtomic(path.join(out, "sweep.json"), JSON.stringify(info, null, 2) + "\n");
  console.error(`${grid.name}: merged ${rows.length}/${all.length} cells (${info.diverged} diverged; ${info.coreHours.toFixed(2)} CPU core-hours${withoutCpu ? ` for the ${rows.length - withoutCpu} cells that recorded it` : ""}, ${info.wallHours.toFixed(2)} process wall-hours) -> ${rel(path.join(out, "sweep.csv"))}, summary.csv, curves.csv, sweep.json`);
  if (missing.length) {
    console.error(`missing ${missing.length} cells:`);
    for (const m of missing) console.error(`  ${m}`);
    if (requireComplete) process.exit(1);
  }
}
