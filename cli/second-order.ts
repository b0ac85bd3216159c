/**
 * Alignment of learning-rule updates with the damped Newton step at full size (SPEC §7.4, figure F5b):
 * replays adaptation runs and, at chosen steps of chosen trials, solves (H + lambda I) s = -g with exact
 * Hessian-vector products (analysis/secondOrder.ts). `npm run second-order -- --help` lists the options.
 *
 *   npm run second-order                          # -> runs/second-order/rot30/
 *
 * Per condition and seed: <condition>-seed<S>.csv (one row per trial, step and damping; written after
 * every analysed step, so an interrupted run resumes where it stopped) and .json (settings, provenance,
 * timing; written last, it marks the run complete). Settings that differ from stored ones are refused.
 */
import * as fs from "fs";
import * as path from "path";
import * as aq from "arquero";
import { adaptConfig } from "../lib/src/adapt";
import { SecondOrderRow, secondOrderAlignment } from "../lib/src/analysis/secondOrder";
import { loadNetwork, writeFileAtomic } from "../lib/src/checkpoint";
import { engine, setThreads } from "../lib/src/kernels";
import { Progress } from "../lib/src/progress";
import { dataPath, runsPath } from "../lib/src/paths";
import { sha256File } from "../lib/src/provenance";
import { ruleNames } from "../lib/src/rules";
import { Option, loadPluginsOrExit, opt, runCli } from "./args";
import { assertSameSettings, destination, userPath } from "./output";

// Plugins first: their rules are conditions too (--plugin my-rules.ts).
loadPluginsOrExit("npm run second-order", process.argv.slice(2));
const CONDITIONS = ruleNames().flatMap((r) => [`${r}+c`, r]);
const DEFAULT_PRETRAINED = dataPath("pretrained", "pretrain-fb-seed1.safetensors");
const rel = (p: string) => path.relative(process.cwd(), p) || ".";

const spec = {
  usage: "npm run second-order --",
  about: `Replays adaptation runs and compares each rule's update with the damped Newton step
s = -(H + lambda I)^{-1} g of the step loss (exact Hessian-vector products, MINRES; or Gauss-Newton, CG),
at chosen steps of chosen trials. Identical settings resume; other settings are refused.`,
  options: {
    plugin: opt.list("plugin files (.ts or .js) that register rules (recorded with their SHA-256)", opt.str("", "", "<file>"), []),
    conditions: opt.list(`conditions, each one of ${CONDITIONS.join(", ")}`, opt.choice("", CONDITIONS, ""), ["rflo+c", "rflo"]),
    seeds: opt.list("adaptation seeds", opt.int("", 0, 0), [1]),
    trials: opt.list("trials to analyse", opt.int("", 0, 0), [0, 100, 500, 999]),
    steps: opt.list("steps k to analyse in each of those trials", opt.int("", 0, 0), [10, 35, 60, 85, 110]),
    lambdas: opt.list("damping values", opt.num("", 0, { above: 0 }), [1e-3, 1e-2, 1e-1, 1, 10]),
    matrix: opt.choice("curvature matrix", ["hessian", "gauss-newton"] as const, "hessian"),
    tol: opt.num("relative residual target, checked on the true residual", 1e-6, { above: 0 }),
    "max-iterations": opt.int("solver iteration limit per solve (non-convergence is recorded, not hidden)", 3000, 1),
    eigen: opt.int("Lanczos iterations for the extreme eigenvalues of H (0: skip)", 60, 0),
    dense: opt.flag("also form H densely, solve and diagonalise it (the reference's method; N*N <= 4096 only)"),
    rotation: opt.num("rotation of the targets, degrees", 30, { min: -180, max: 180 }),
    pretrained: { ...opt.str("pre-trained checkpoint", DEFAULT_PRETRAINED, "<file>"), shown: rel(DEFAULT_PRETRAINED) },
    out: { ...opt.str("results folder", undefined, "<dir>"), shown: `${rel(runsPath("second-order"))}/rot<rotation>` },
    threads: opt.int("OpenBLAS threads (not a setting of the result)", 1, 1, 256),
    "replace-shipped": opt.flag("allow --out inside data/"),
    "allow-dirty": opt.flag("allow writing shipped data from a tree with uncommitted changes (recorded)"),
  },
} satisfies { usage: string; about: string; options: Record<string, Option<unknown>> };

runCli(spec, async ({ values: a }) => {
  const dest = destination({ command: `second-order/rot${a.rotation}`, out: a.out, replaceShipped: a["replace-shipped"], allowDirty: a["allow-dirty"] });
  const pretrained = userPath(a.pretrained);
  const pre = loadNetwork(pretrained);
  const pretrainedSha256 = sha256File(pretrained);
  const threads = setThreads(a.threads);
  const analysis = { trials: a.trials, steps: a.steps, lambdas: a.lambdas, matrix: a.matrix, tol: a.tol, maxIterations: a["max-iterations"], eigenIterations: a.eigen, dense: a.dense };
  const lastTrial = Math.max(...a.trials);
  const how = "Use another --out (nothing is overwritten).";
  // Check every stored run against the request before computing anything.
  const todo = a.conditions.flatMap((label) =>
    a.seeds.map((seed) => {
      const control = label.endsWith("+c");
      const rule = control ? label.slice(0, -2) : label;
      const config = adaptConfig({ rule, control, seed, trials: lastTrial + 1, rotationDeg: a.rotation });
      const settings = { config, analysis, pretrainedSha256 };
      const base = path.join(dest.dir, `${label}-seed${seed}`);
      let complete = false;
      let done: SecondOrderRow[] = [];
      if (fs.existsSync(`${base}.json`)) {
        const s = JSON.parse(fs.readFileSync(`${base}.json`, "utf8"));
        assertSameSettings(`${base}.json`, s.settings, settings, how);
        complete = s.complete === true;
        if (!complete && fs.existsSync(`${base}.csv`)) done = aq.fromCSV(fs.readFileSync(`${base}.csv`, "utf8")).objects() as unknown as SecondOrderRow[];
      }
      return { label, seed, config, settings, base, complete, done };
    }),
  );
  console.error(`pre-trained: ${rel(pretrained)} (sha256 ${pretrainedSha256.slice(0, 12)}); engine ${engine()}; results -> ${rel(dest.dir)}`);
  fs.mkdirSync(dest.dir, { recursive: true });
  for (const { label, seed, config, settings, base, complete, done } of todo) {
    if (complete) {
      console.error(`${label} seed ${seed}: finished already with identical settings; reused`);
      continue;
    }
    const skip = new Set(done.map((r) => `${r.trial}:${r.step}`));
    const total = a.trials.length * a.steps.length;
    if (skip.size) console.error(`${label} seed ${seed}: resuming after ${skip.size} of ${total} steps`);
    const bar = new Progress({ label: `${label} seed ${seed}`, total, start: skip.size, unit: "step" });
    const writeState = (finished: boolean, seconds: number) => {
      writeFileAtomic(`${base}.csv`, aq.from(done).toCSV());
      writeFileAtomic(`${base}.json`, JSON.stringify({ complete: finished, condition: label, settings, ...dest.provenance, engine: engine().name, threads, secondsThisSession: seconds, finishedAt: finished ? new Date().toISOString() : null }, null, 2) + "\n");
    };
    if (!done.length) writeState(false, 0);
    const t0 = performance.now();
    let stepsDone = skip.size;
    let pendingStep = "";
    secondOrderAlignment(pre.network, config, {
      ...analysis,
      skip: (trial, step) => skip.has(`${trial}:${step}`),
      onRow: (row) => {
        done.push(row);
        const key = `${row.trial}:${row.step}`;
        if (row.lambda === a.lambdas[a.lambdas.length - 1] && key !== pendingStep) {
          pendingStep = key;
          stepsDone += 1;
          writeState(false, (performance.now() - t0) / 1000);
          bar.update(stepsDone, { trial: row.trial, step: row.step, "cos(s, dw)": row.cosRule, iterations: row.iterations, residual: row.residual });
        }
      },
    });
    done.sort((x, y) => x.trial - y.trial || x.step - y.step || x.lambda - y.lambda);
    writeState(true, (performance.now() - t0) / 1000);
    console.error(`${label} seed ${seed}: ${done.length} rows in ${rel(base)}.csv`);
  }
});
