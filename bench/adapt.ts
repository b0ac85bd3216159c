/**
 * Seconds per adaptation trial at N=400, T=125, batch 1, on one core: an RFLO trial (forward, trace
 * and update at every step) and an online-BPTT trial (the exact gradient of each step's loss through
 * the trial so far, O(T^2)), for each engine. node --import tsx bench/adapt.ts [--quick]
 * Uses the shipped network pre-trained with feedback if present, else a fresh one.
 */
import * as fs from "fs";
import * as os from "os";
import { Adapter, adaptConfig } from "../lib/src/adapt";
import { loadNetwork } from "../lib/src/checkpoint";
import { nativeAvailable, setEngine, setThreads } from "../lib/src/kernels";
import { initNetwork } from "../lib/src/network";
import { dataPath } from "../lib/src/paths";
import { Rng } from "../lib/src/rng";
import { RuleName } from "../lib/src/rules";

const quick = process.argv.includes("--quick");
const file = dataPath("pretrained", "pretrain-fb-seed1.safetensors");
const net = fs.existsSync(file) ? loadNetwork(file).network : initNetwork({ N: 400 }, Rng.seeded(1, "weights"));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function perTrial(rule: RuleName, trials: number): number {
  const a = new Adapter(net, adaptConfig({ rule, control: true, trials }));
  a.trial(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < trials; i++) {
    const t0 = performance.now();
    a.trial();
    times.push(performance.now() - t0);
  }
  return median(times) / 1000;
}

console.log(`adaptation trial, N=400, T=125, batch 1, one core; network: ${fs.existsSync(file) ? file : "fresh"}`);
console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.log("engine     rule    s/trial   (median)   target   reference PyTorch here (TOOLCHAIN.md)");
for (const engine of nativeAvailable() ? (["openblas", "js"] as const) : (["js"] as const)) {
  setEngine(engine);
  setThreads(1);
  const rflo = perTrial("rflo", quick ? 5 : 30);
  const bptt = perTrial("bptt", quick ? 2 : 5);
  console.log(`${engine.padEnd(10)} rflo  ${rflo.toFixed(4).padStart(9)}              0.020    0.11-0.15 s`);
  console.log(`${engine.padEnd(10)} bptt  ${bptt.toFixed(4).padStart(9)}              0.5      5-10 s (2.2 s with one thread per process)`);
}
