/**
 * Stability of the delayed control loop against the measured outcomes of learning (issue 25, item 3;
 * analysis/stability.ts). For every network of notebook 11 (pre-trained with a feedback delay d, or
 * pre-trained without one and delayed by d while learning), the loop linearised around the 8 rotated
 * centre-out reaches (relu gains frozen at their mean): its quasi-static gain, its gain margin at d, the
 * first delay at which it is unstable; beside them, what RFLO+c and RFLO did in the shipped runs.
 * `node --import tsx cli/stability.ts --help` lists the options.
 *
 *   node --import tsx cli/stability.ts                        # -> runs/stability/fbdelay/
 *   node --import tsx cli/stability.ts --track pretrain-fb-delay20-seed1:20   # margins along an RFLO+c run
 *
 * Writes stability.csv (one row per network and delay) and stability.json (settings, the SHA-256 of every
 * network, provenance, timing); with --track, track.csv (one row per network and tested trial) instead.
 */
import * as fs from "fs";
import * as path from "path";
import * as aq from "arquero";
import { Adapter, adaptConfig } from "../lib/src/adapt";
import { gainEigenvalues, firstUnstableDelay, gainMargin, delayLoopStability, loopKernel, reluGains } from "../lib/src/analysis/stability";
import { loadNetwork, writeFileAtomic } from "../lib/src/checkpoint";
import { engine, setThreads } from "../lib/src/kernels";
import { Network, cloneNetwork, simulate } from "../lib/src/network";
import { dataPath, runsPath } from "../lib/src/paths";
import { sha256File } from "../lib/src/provenance";
import { finalError, loadAdaptationRuns } from "../lib/src/results";
import { Rng } from "../lib/src/rng";
import { centreOutAll, rotate } from "../lib/src/task";
import { Option, Refusal, opt, runCli } from "./args";
import { destination } from "./output";

const rel = (p: string) => path.relative(process.cwd(), p) || ".";

/** The loop of `net` with its feedback delayed by d, linearised around the rotated centre-out reaches. */
function loopOf(net: Network, d: number, rotation: number, seed: number, maxDelay: number) {
  const delayed = cloneNetwork({ config: { ...net.config, fbDelay: d }, params: net.params }, "float64");
  const ro = simulate(delayed, rotate(centreOutAll(), rotation), { feedback: true, init: Rng.seeded(seed, "eval-init") });
  const D = reluGains(ro);
  const k = loopKernel(delayed, D);
  const [l1, l2] = gainEigenvalues(k.gain, k.nOut);
  const gm = gainMargin(k, d);
  return {
    mean_relu_gain: D.reduce((s, v) => s + v, 0) / D.length,
    radius_A: k.radiusA,
    kernel_taps: k.lags,
    K_eig1_re: l1[0], K_eig1_im: l1[1], K_eig2_re: l2[0], K_eig2_im: l2[1],
    gain_margin: gm,
    loop_radius: delayLoopStability(k, d).radius,
    first_unstable_delay: firstUnstableDelay(k, maxDelay),
  };
}

interface Case { family: "delay-trained" | "imposed"; network: number; delay: number; file: string; results: string }

function cases(): Case[] {
  const out: Case[] = [];
  for (const n of [1, 2, 3]) out.push({ family: "delay-trained", network: n, delay: 0, file: `pretrain-fb-seed${n}`, results: n === 1 ? "persistent-rot30" : `persistent-rot30-net${n}` });
  for (const d of [2, 5, 10, 20]) {
    for (const n of [1, 2, 3]) {
      const file = `pretrain-fb-delay${d}-seed${n}`;
      if (fs.existsSync(dataPath("pretrained", `${file}.safetensors`))) out.push({ family: "delay-trained", network: n, delay: d, file, results: n === 1 ? `fbdelay${d}-rot30` : `fbdelay${d}-rot30-net${n}` });
    }
    for (const n of [1, 2, 3]) out.push({ family: "imposed", network: n, delay: d, file: `pretrain-fb-seed${n}`, results: n === 1 ? `imposed-fbdelay${d}-rot30` : `imposed-fbdelay${d}-rot30-net${n}` });
  }
  return out;
}

/** What the shipped RFLO+c and RFLO runs of a case did (NaN where a folder is missing). */
function measured(dir: string) {
  const runs = fs.existsSync(dir) ? loadAdaptationRuns(dir).filter((r) => r.condition === "rflo+c" || r.condition === "rflo") : [];
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : NaN);
  const of = (c: string) => runs.filter((r) => r.condition === c);
  const fin = (c: string) => of(c).filter((r) => !r.diverged).map(finalError);
  // "Unlearns": the test error ends more than 3 times above its lowest value in the run.
  const unlearns = of("rflo+c").filter((r) => r.diverged || finalError(r) > 3 * Math.min(...r.tests.map((t) => t.testError))).length;
  const pairs = of("rflo+c").map((x) => [x, of("rflo").find((y) => y.seed === x.seed)] as const).filter(([x, y]) => y && !x.diverged && !y.diverged);
  return {
    seeds: of("rflo+c").length,
    rflo_c_final: mean(fin("rflo+c")),
    rflo_final: mean(fin("rflo")),
    rflo_c_lower_in: pairs.filter(([x, y]) => finalError(x) < finalError(y!)).length,
    pairs: pairs.length,
    rflo_c_diverged: of("rflo+c").filter((r) => r.diverged).length,
    rflo_c_unlearns: unlearns,
  };
}

const spec = {
  usage: "node --import tsx cli/stability.ts --",
  about: `The delayed control loop of every network of notebook 11, linearised around the rotated centre-out
reaches (relu gains frozen at their mean over steps and targets): the quasi-static loop gain K (its
eigenvalues), the gain margin at the delay (the factor on the feedback at which the delayed loop loses
stability; < 1: unstable), the first unstable delay, and the measured RFLO+c and RFLO outcomes beside them.
With --track, the same margins every 100 trials along a fresh RFLO+c run instead.`,
  options: {
    rotation: opt.num("target rotation in force, degrees", 30, { min: -180, max: 180 }),
    seed: opt.int("seed of the initial states (stream eval-init, as the adapter's tests)", 1, 0),
    "max-delay": opt.int("largest delay searched for the first unstable one (steps)", 40, 0, 400),
    track: opt.list("track <pretrained-name>:<delay>[:<condition>] (e.g. pretrain-fb-delay20-seed1:20): margins along a 1000-trial run (lr 5e-5, seed 1; condition rflo+c or rflo)", opt.str("", ""), []),
    "track-every": opt.int("trials between tracked points", 100, 1),
    out: { ...opt.str("results folder", undefined, "<dir>"), shown: `${rel(runsPath("stability"))}/fbdelay` },
    threads: opt.int("OpenBLAS threads (not a setting of the result)", 1, 1, 256),
    "replace-shipped": opt.flag("allow --out inside data/"),
    "allow-dirty": opt.flag("allow writing shipped data from a tree with uncommitted changes (recorded)"),
  },
} satisfies { usage: string; about: string; options: Record<string, Option<unknown>> };

runCli(spec, async ({ values: a }) => {
  const dest = destination({ command: "stability/fbdelay", out: a.out, replaceShipped: a["replace-shipped"], allowDirty: a["allow-dirty"] });
  const threads = setThreads(a.threads);
  fs.mkdirSync(dest.dir, { recursive: true });
  const t0 = Date.now();
  const files: Record<string, string> = {};
  const load = (name: string) => {
    const f = dataPath("pretrained", `${name}.safetensors`);
    if (!fs.existsSync(f)) throw new Refusal(`${rel(f)} does not exist`);
    files[rel(f)] ??= sha256File(f);
    return loadNetwork(f).network;
  };
  if (a.track.length) {
    const rows: Record<string, unknown>[] = [];
    for (const t of a.track) {
      const m = /^([\w-]+):(\d+)(?::(rflo\+c|rflo))?$/.exec(t);
      if (!m) throw new Refusal(`--track: ${JSON.stringify(t)} is not <pretrained-name>:<delay>[:rflo+c|rflo]`);
      const [, name, dS, cond = "rflo+c"] = m;
      const d = Number(dS);
      const pre = load(name);
      const adapter = new Adapter(pre, adaptConfig({ rule: "rflo", control: cond === "rflo+c", seed: 1, trials: 1000, lr: 5e-5, rotationDeg: a.rotation, fbDelay: pre.config.fbDelay === d ? null : d }));
      for (let trial = 0; trial <= 1000; trial++) {
        if (trial % a["track-every"] === 0) {
          const test = adapter.test();
          rows.push({ network: name, delay: d, condition: cond, trial, test_error: test.testError, ...loopOf(adapter.net, d, a.rotation, a.seed, 0) });
          console.error(JSON.stringify(rows[rows.length - 1]));
        }
        if (trial < 1000) adapter.trial();
      }
    }
    writeFileAtomic(path.join(dest.dir, "track.csv"), aq.from(rows).toCSV());
    writeFileAtomic(path.join(dest.dir, "track.json"), JSON.stringify({ complete: true, settings: { track: a.track, every: a["track-every"], rotationDeg: a.rotation, seed: a.seed, lr: 5e-5, adaptSeed: 1, files }, ...dest.provenance, engine: engine().name, threads, seconds: (Date.now() - t0) / 1000, finishedAt: new Date().toISOString() }, null, 2) + "\n");
    console.error(`wrote ${rel(path.join(dest.dir, "track.csv"))}`);
    return;
  }
  const rows: Record<string, unknown>[] = [];
  const memo = new Map<string, ReturnType<typeof loopOf>>();
  for (const c of cases()) {
    const key = `${c.file}:${c.delay}`;
    if (!memo.has(key)) memo.set(key, loopOf(load(c.file), c.delay, a.rotation, a.seed, a["max-delay"]));
    const loop = memo.get(key)!;
    const row = { family: c.family, network: c.network, delay: c.delay, delay_ms: 10 * c.delay, pretrained: c.file, ...loop, predicted: loop.gain_margin > 1 ? "stable" : "unstable", results: c.results, ...measured(dataPath("results", c.results)) };
    rows.push(row);
    console.error(`${c.family} net ${c.network} d ${c.delay}: gain margin ${loop.gain_margin.toFixed(3)}, first unstable delay ${loop.first_unstable_delay}; RFLO+c ${row.rflo_c_final.toFixed(4)} vs RFLO ${row.rflo_final.toFixed(4)}`);
  }
  writeFileAtomic(path.join(dest.dir, "stability.csv"), aq.from(rows).toCSV());
  const settings = { rotationDeg: a.rotation, initialStates: `Rng.seeded(${a.seed}, "eval-init")`, maxDelay: a["max-delay"], linearisation: "relu gains frozen at their mean over steps 1..T and the 8 rotated centre-out targets, feedback on with the delay", files };
  writeFileAtomic(path.join(dest.dir, "stability.json"), JSON.stringify({ complete: true, settings, ...dest.provenance, engine: engine().name, threads, seconds: (Date.now() - t0) / 1000, finishedAt: new Date().toISOString() }, null, 2) + "\n");
  console.error(`wrote ${rel(path.join(dest.dir, "stability.csv"))} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
});
