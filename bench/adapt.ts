/**
 * Adaptation trials at N=400, T=125, batch 1: an RFLO trial (forward, trace and update at every step) and
 * an online-BPTT trial (the exact gradient of each step's loss through the trial so far, O(T^2)), per
 * engine on one core, each beside the floor measured in the same run (bench/floors.c) and the ratio;
 * then throughput with 1 and 2 worker processes (as `npm run adapt` runs independent runs).
 *   node --import tsx bench/adapt.ts [--quick]
 * Uses the shipped network pre-trained with feedback if present, else a fresh one.
 */
import * as fs from "fs";
import * as os from "os";
import { fork } from "child_process";
import { Adapter, adaptConfig } from "../lib/src/adapt";
import { loadNetwork } from "../lib/src/checkpoint";
import { nativeAvailable, setEngine, setThreads } from "../lib/src/kernels";
import { initNetwork } from "../lib/src/network";
import { dataPath } from "../lib/src/paths";
import { Rng } from "../lib/src/rng";
import { RuleName } from "../lib/src/rules";
import { measureFloors } from "./floors";

const quick = process.argv.includes("--quick");
const file = dataPath("pretrained", "pretrain-fb-seed1.safetensors");
const net = fs.existsSync(file) ? loadNetwork(file).network : initNetwork({ N: 400 }, Rng.seeded(1, "weights"));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function perTrial(rule: RuleName, trials: number, measure: Partial<Parameters<typeof adaptConfig>[0]> = {}): number {
  const a = new Adapter(net, adaptConfig({ rule, control: true, trials, ...measure }));
  a.trial(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < trials; i++) {
    const t0 = performance.now();
    a.trial();
    times.push(performance.now() - t0);
  }
  return median(times) / 1000;
}

/** Child mode: run `trials` trials of `rule` and exit (the parent times the processes). */
if (process.argv[2] === "--child") {
  setThreads(1);
  const a = new Adapter(net, adaptConfig({ rule: process.argv[3] as RuleName, control: true, trials: Number(process.argv[4]) }));
  process.send?.("ready");
  process.once("message", () => {
    for (let i = 0; i < a.config.trials; i++) a.trial();
    process.exit(0);
  });
} else {
  main();
}

/** Trials per second of `workers` processes each running `trials` trials at once (start-up excluded). */
async function throughput(rule: RuleName, workers: number, trials: number): Promise<number> {
  const children = Array.from({ length: workers }, () => fork(__filename, ["--child", rule, String(trials)], { execArgv: process.execArgv }));
  await Promise.all(children.map((c) => new Promise((resolve) => c.once("message", resolve))));
  const t0 = performance.now();
  const done = children.map((c) => new Promise((resolve) => c.once("exit", resolve)));
  for (const c of children) c.send("go");
  await Promise.all(done);
  return (workers * trials) / ((performance.now() - t0) / 1000);
}

async function main() {
  const floors = measureFloors();
  const f = "missing" in floors ? undefined : floors;
  console.log(`adaptation trial, N=400, T=125, batch 1, one core; network: ${fs.existsSync(file) ? file : "fresh"}`);
  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  if (!f) console.log(`floors: not measured (${(floors as { missing: string }).missing})`);
  else console.log(`floors, measured now (one thread): BPTT ${f.bpttTrial.toFixed(4)} s (T(T+1)/2 chained 400x400 sgemv + T rank-(k+1) products), RFLO ${f.rfloTrial.toFixed(4)} s (2 streaming passes over two 400x400 arrays per step)`);
  console.log("engine     rule    s/trial    floor    ratio   (median)   reference PyTorch here (TOOLCHAIN.md)");
  for (const engine of nativeAvailable() ? (["openblas", "js"] as const) : (["js"] as const)) {
    setEngine(engine);
    setThreads(1);
    const rflo = perTrial("rflo", quick ? 10 : 40);
    const bptt = perTrial("bptt", engine === "js" ? 1 : quick ? 3 : 7);
    const cell = (t: number, fl?: number) => `${t.toFixed(4).padStart(9)} ${fl ? fl.toFixed(4).padStart(8) : "       -"} ${fl ? (t / fl).toFixed(2).padStart(7) + "x" : "       -"}`;
    console.log(`${engine.padEnd(10)} rflo  ${cell(rflo, f?.rfloTrial)}              0.11-0.15 s`);
    console.log(`${engine.padEnd(10)} bptt  ${cell(bptt, f?.bpttTrial)}              5-10 s (2.2 s with one thread per process)`);
  }
  setEngine("auto");
  setThreads(1);
  // What the alignment runs of F4 cost on top of the learning rule (npm run adapt -- --compare bptt --trial-gradient).
  console.log("\npassive measurements on top of an RFLO trial (default engine, one core):");
  const plain = perTrial("rflo", quick ? 10 : 40);
  const cmp = perTrial("rflo", quick ? 3 : 7, { compare: "bptt" });
  const full = perTrial("rflo", quick ? 3 : 7, { compare: "bptt", trialGradient: true });
  console.log(`rflo alone                                   ${plain.toFixed(4)} s/trial`);
  console.log(`+ passive online BPTT (local, global align.)  ${cmp.toFixed(4)} s/trial  (+${(cmp - plain).toFixed(4)} s)`);
  console.log(`+ whole-trial gradient at start weights       ${full.toFixed(4)} s/trial  (+${(full - cmp).toFixed(4)} s)`);
  const cores = os.availableParallelism();
  console.log(`\nthroughput, one process per run (npm run adapt --workers), ${cores} cores:`);
  for (const rule of ["rflo", "bptt"] as const) {
    const trials = rule === "rflo" ? (quick ? 100 : 300) : quick ? 4 : 12;
    const one = await throughput(rule, 1, trials);
    const two = await throughput(rule, 2, trials);
    console.log(`${rule.padEnd(5)} 1 worker ${one.toFixed(1).padStart(7)} trials/s   2 workers ${two.toFixed(1).padStart(7)} trials/s   (x${(two / one).toFixed(2)})`);
  }
}
