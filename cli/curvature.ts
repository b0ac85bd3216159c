/**
 * Curvature of the step loss with the control input on and off at identical W_rec (issue 25, item 5;
 * analysis/curvature.ts): for networks pre-trained with feedback, before and after adaptation, each of the
 * 8 rotated centre-out targets and steps across the reach, the extreme eigenvalues of the Hessian of
 * l = |e_{k+1}|^2 / 2 with respect to W_rec (Lanczos, Ritz residual check) and its spectral density by
 * stochastic Lanczos quadrature. `node --import tsx cli/curvature.ts --help` lists the options.
 *
 *   node --import tsx cli/curvature.ts                       # -> runs/curvature/rot30/
 *
 * Writes curvature.csv (one row per network, weights, target, step and control; rewritten atomically after
 * every on/off pair, so an interrupted run resumes where it stopped) and curvature.json (settings, the
 * SHA-256 of every weight file, provenance, timing; `complete` marks a finished run). Settings that differ
 * from stored ones are refused.
 */
import * as fs from "fs";
import * as path from "path";
import * as aq from "arquero";
import { densitySummary, stepCurvature } from "../lib/src/analysis/curvature";
import { loadNetwork, writeFileAtomic } from "../lib/src/checkpoint";
import { engine, setThreads } from "../lib/src/kernels";
import { Network, cloneNetwork, simulate } from "../lib/src/network";
import { dataPath, runsPath } from "../lib/src/paths";
import { perturbTargets, targetRotation } from "../lib/src/perturbation";
import { Progress } from "../lib/src/progress";
import { sha256File } from "../lib/src/provenance";
import { adaptedNetwork } from "../lib/src/results";
import { Rng } from "../lib/src/rng";
import { centreOutAll } from "../lib/src/task";
import { Option, Refusal, opt, runCli } from "./args";
import { assertSameSettings, destination } from "./output";

const rel = (p: string) => path.relative(process.cwd(), p) || ".";
const CONDITIONS = ["rflo+c", "rflo", "bptt+c", "bptt"];

/** One row of curvature.csv. */
interface Row {
  network: number;
  weights: string;
  target: number;
  step: number;
  control: boolean;
  loss: number;
  grad_norm: number;
  lambda_min: number;
  lambda_max: number;
  residual_min: number;
  residual_max: number;
  converged_min: boolean;
  converged_max: boolean;
  lanczos_iterations: number;
  neg_mass_mean: number;
  neg_mass_sd: number;
  pos_mass_mean: number;
  pos_mass_sd: number;
  neg_mass_fine_mean: number;
  neg_mass_fine_sd: number;
  pos_mass_fine_mean: number;
  pos_mass_fine_sd: number;
  neg_weight_mean: number;
  neg_weight_sd: number;
  trace_mean: number;
  trace_sd: number;
  seconds: number;
}

/** The weight file of "pretrained" or "<condition>-seed<s>" for pre-trained network n (1-3). */
function weightFiles(network: number, weights: string): { pretrained: string; adapted?: string } {
  const pretrained = dataPath("pretrained", `pretrain-fb-seed${network}.safetensors`);
  if (weights === "pretrained") return { pretrained };
  const m = /^(.+)-seed(\d+)$/.exec(weights);
  if (!m || !CONDITIONS.includes(m[1])) throw new Refusal(`--weights: ${JSON.stringify(weights)} is neither "pretrained" nor <condition>-seed<s> with a condition of ${CONDITIONS.join(", ")}`);
  const dir = dataPath("results", network === 1 ? "persistent-rot30" : `persistent-rot30-net${network}`);
  return { pretrained, adapted: path.join(dir, `${weights}.wrec.safetensors`) };
}

const spec = {
  usage: "node --import tsx cli/curvature.ts --",
  about: `Spectrum of the Hessian of the step loss |e_{k+1}|^2/2 with respect to W_rec, with the control input on
and off at identical W_rec, initial state and target: the extreme eigenvalues by Lanczos (converged when the
Ritz residual |H u - theta u| <= tol * max|theta|, recomputed exactly) and the spectral density by stochastic
Lanczos quadrature (Rademacher probes): the fraction of eigenvalues below -threshold * max|lambda| and the
negative share of sum |lambda|. Identical settings resume; other settings are refused.`,
  options: {
    networks: opt.list("pre-trained networks with feedback (pretrain-fb-seed<n>)", opt.int("", 0, 1, 3), [1, 2, 3]),
    weights: opt.list(`W_rec to analyse: pretrained, or <condition>-seed<s> (adapted to 30°, from data/results/persistent-rot30*; conditions ${CONDITIONS.join(", ")})`, opt.str("", ""), ["pretrained", "rflo+c-seed1"]),
    targets: opt.list("centre-out targets (0-7)", opt.int("", 0, 0, 7), [0, 1, 2, 3, 4, 5, 6, 7]),
    steps: opt.list("steps k (the loss is that of e_{k+1}; go is at step 20, the movement ends at 120)", opt.int("", 0, 0, 124), [40, 60, 80, 100, 120]),
    rotation: opt.num("target rotation in force, degrees (the paper's visuomotor rotation)", 30, { min: -180, max: 180 }),
    "max-iterations": opt.int("most Lanczos steps for the extreme eigenvalues (non-convergence is recorded)", 150, 2),
    tol: opt.num("relative Ritz residual target of the extreme eigenvalues", 1e-5, { above: 0 }),
    probes: opt.int("Rademacher probes of stochastic Lanczos quadrature", 3, 1),
    "lanczos-steps": opt.int("Lanczos steps (quadrature nodes) per probe", 20, 1),
    threshold: opt.num("negative/positive mass: eigenvalues beyond ±threshold * max|lambda|", 1e-2, { above: 0 }),
    "fine-threshold": opt.num("a second, finer threshold recorded beside it", 1e-3, { above: 0 }),
    seed: opt.int("seed of the initial states (stream eval-init, as the adapter's tests) and of the Lanczos start and probe vectors", 1, 0),
    out: { ...opt.str("results folder", undefined, "<dir>"), shown: `${rel(runsPath("curvature"))}/rot<rotation>` },
    threads: opt.int("OpenBLAS threads (not a setting of the result)", 1, 1, 256),
    "replace-shipped": opt.flag("allow --out inside data/"),
    "allow-dirty": opt.flag("allow writing shipped data from a tree with uncommitted changes (recorded)"),
  },
} satisfies { usage: string; about: string; options: Record<string, Option<unknown>> };

runCli(spec, async ({ values: a }) => {
  const dest = destination({ command: `curvature/rot${a.rotation}`, out: a.out, replaceShipped: a["replace-shipped"], allowDirty: a["allow-dirty"] });
  const threads = setThreads(a.threads);
  const files: Record<string, string> = {};
  const nets = new Map<string, Network>();
  for (const n of a.networks) {
    const pre = loadNetwork(weightFiles(n, "pretrained").pretrained).network;
    for (const w of a.weights) {
      const f = weightFiles(n, w);
      if (f.adapted && !fs.existsSync(f.adapted)) throw new Refusal(`--weights ${w}: ${rel(f.adapted)} does not exist`);
      files[rel(f.pretrained)] ??= sha256File(f.pretrained);
      if (f.adapted) files[rel(f.adapted)] = sha256File(f.adapted);
      nets.set(`${n}:${w}`, cloneNetwork(f.adapted ? adaptedNetwork(pre, f.adapted) : pre, "float64"));
    }
  }
  const analysis = {
    extremes: { maxIterations: a["max-iterations"], tol: a.tol },
    probes: a.probes,
    steps: a["lanczos-steps"],
    threshold: a.threshold,
    fineThreshold: a["fine-threshold"],
    seed: a.seed,
  };
  const settings = { networks: a.networks, weights: a.weights, targets: a.targets, steps: a.steps, rotationDeg: a.rotation, initialStates: `Rng.seeded(${a.seed}, "eval-init")`, analysis, files };
  const csv = path.join(dest.dir, "curvature.csv");
  const json = path.join(dest.dir, "curvature.json");
  let done: Row[] = [];
  if (fs.existsSync(json)) {
    const s = JSON.parse(fs.readFileSync(json, "utf8"));
    assertSameSettings(json, s.settings, settings, "Use another --out (nothing is overwritten).");
    if (s.complete === true) {
      console.error(`${rel(json)}: finished already with identical settings; reused`);
      return;
    }
    if (fs.existsSync(csv)) done = aq.fromCSV(fs.readFileSync(csv, "utf8")).objects() as unknown as Row[];
  }
  fs.mkdirSync(dest.dir, { recursive: true });
  const key = (n: number, w: string, t: number, k: number) => `${n}:${w}:${t}:${k}`;
  const have = new Set(done.filter((r) => r.control === true).map((r) => key(r.network, r.weights, r.target, r.step)));
  done = done.filter((r) => have.has(key(r.network, r.weights, r.target, r.step)));
  const total = a.networks.length * a.weights.length * a.targets.length * a.steps.length;
  console.error(`engine ${engine()}; ${total} on/off pairs (${have.size} done); results -> ${rel(dest.dir)}`);
  let seconds = 0;
  const writeState = (finished: boolean) => {
    writeFileAtomic(csv, aq.from(done).toCSV());
    writeFileAtomic(json, JSON.stringify({ complete: finished, settings, ...dest.provenance, engine: engine().name, threads, secondsThisSession: seconds, finishedAt: finished ? new Date().toISOString() : null }, null, 2) + "\n");
  };
  if (!done.length) writeState(false);
  const batch = perturbTargets(centreOutAll(), [targetRotation(a.rotation)]);
  const bar = new Progress({ label: "curvature", total, start: have.size, unit: "pair" });
  const t0 = performance.now();
  let count = have.size;
  for (const n of a.networks) {
    for (const w of a.weights) {
      const net = nets.get(`${n}:${w}`)!;
      const N = net.config.N;
      // The adapter's test states: one U(-0.1, 0.1) draw per target, the same for every network and weights.
      const x0All = Float64Array.from(simulate(net, batch, { feedback: false, init: Rng.seeded(a.seed, "eval-init") }).x.subarray(0, batch.B * N));
      for (const t of a.targets) {
        const x0 = x0All.subarray(t * N, (t + 1) * N);
        for (const k of a.steps) {
          if (have.has(key(n, w, t, k))) continue;
          const pair = [true, false].map((control) => {
            const r = stepCurvature(net, batch, t, x0, k, control, analysis);
            const fine = densitySummary(r.rules, Math.max(r.extremes.scale, 1e-300), analysis.fineThreshold, r.dim);
            const e = r.extremes;
            const d = r.density;
            return {
              network: n, weights: w, target: t, step: k, control,
              loss: r.loss, grad_norm: r.gradientNorm,
              lambda_min: e.min, lambda_max: e.max, residual_min: e.residualMin / e.scale, residual_max: e.residualMax / e.scale,
              converged_min: e.convergedMin, converged_max: e.convergedMax, lanczos_iterations: e.iterations,
              neg_mass_mean: d.negativeMass.mean, neg_mass_sd: d.negativeMass.sd, pos_mass_mean: d.positiveMass.mean, pos_mass_sd: d.positiveMass.sd,
              neg_mass_fine_mean: fine.negativeMass.mean, neg_mass_fine_sd: fine.negativeMass.sd, pos_mass_fine_mean: fine.positiveMass.mean, pos_mass_fine_sd: fine.positiveMass.sd,
              neg_weight_mean: d.negativeWeight.mean, neg_weight_sd: d.negativeWeight.sd, trace_mean: d.trace.mean, trace_sd: d.trace.sd,
              seconds: r.seconds,
            } satisfies Row;
          });
          done.push(...pair);
          count += 1;
          seconds = (performance.now() - t0) / 1000;
          writeState(false);
          bar.update(count, { net: n, weights: w, target: t, step: k, "λmin on": pair[0].lambda_min, "λmin off": pair[1].lambda_min });
        }
      }
    }
  }
  const order = (r: Row) => [a.networks.indexOf(r.network), a.weights.indexOf(r.weights), a.targets.indexOf(r.target), a.steps.indexOf(r.step), r.control ? 0 : 1];
  done.sort((x, y) => {
    const ox = order(x);
    const oy = order(y);
    for (let i = 0; i < ox.length; i++) if (ox[i] !== oy[i]) return ox[i] - oy[i];
    return 0;
  });
  seconds = (performance.now() - t0) / 1000;
  writeState(true);
  console.error(`${done.length} rows in ${rel(csv)} (${seconds.toFixed(0)} s this session)`);
});

