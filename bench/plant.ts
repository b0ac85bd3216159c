/**
 * Effectors (issue 24): what a plant costs on top of the network. Per plant (massless hand, point mass,
 * two-joint arm), on one core: a pre-training batch (forward and backward through the whole trial and the
 * loop), an RFLO trial and an online-BPTT trial, each as a ratio to the same network driving the massless
 * hand, measured in the same run (the network-only floor of this comparison). Then the cost against N
 * (100 to 800) for every plant, as a ratio to the massless hand at each N, with the fitted exponent of time ~ N^p.
 *   node --import tsx bench/plant.ts [--quick]
 */
import { Adapter, adaptConfig } from "../lib/src/adapt";
import { setThreads } from "../lib/src/kernels";
import { Network, initNetwork } from "../lib/src/network";
import { Pretrainer, pretrainConfig } from "../lib/src/train";
import { Rng } from "../lib/src/rng";
import type { Named } from "../lib/src/registry";

const quick = process.argv.includes("--quick");
setThreads(1);
const PLANTS: (Named | null)[] = [null, { name: "point_mass" }, { name: "two_joint_arm" }, { name: "muscle", options: { plant: "two_joint_arm" } }];
const label = (p: Named | null) => (p === null ? "massless (no plant)" : typeof p.options?.plant === "string" ? `${p.name} + ${p.options.plant}` : p.name);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const time = (f: () => void, reps: number) => {
  f(); // warm-up
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  return median(t) / 1000;
};

/** The same weights driving each plant (e0 zero throughout, which a plant needs). */
function network(N: number, plant: Named | null): Network {
  return initNetwork({ N, e0: "zero", ...(plant ? { plant } : {}) }, Rng.seeded(1, "weights"));
}

function costs(N: number, plant: Named | null, reps: number, batchSize: number) {
  const p = Pretrainer.create(pretrainConfig({ seed: 1, batches: 1000, batchSize, evalEvery: 100000, network: { N, e0: "zero", ...(plant ? { plant } : {}) } }));
  const pretrain = time(() => p.step(), reps);
  const net = network(N, plant);
  const rflo = new Adapter(net, adaptConfig({ rule: "rflo", lr: 1e-12, trials: 1000 }));
  const bptt = new Adapter(net, adaptConfig({ rule: "bptt", lr: 1e-12, trials: 1000 }));
  return { pretrain, rflo: time(() => rflo.trial(), reps * 3), bptt: time(() => bptt.trial(), Math.max(2, reps)) };
}

const reps = quick ? 3 : 7;
const B = quick ? 32 : 128;
console.log(`plants at N 400, one core; pre-training batches of ${B}; median of ${reps} (RFLO ${reps * 3}) after a warm-up`);
const base = costs(400, null, reps, B);
for (const plant of PLANTS) {
  const c = plant ? costs(400, plant, reps, B) : base;
  const r = (k: keyof typeof c) => `${(c[k] * 1000).toFixed(1)} ms (${(c[k] / base[k]).toFixed(2)}x)`;
  console.log(`  ${label(plant).padEnd(22)} pre-training batch ${r("pretrain")}   RFLO trial ${r("rflo")}   online-BPTT trial ${r("bptt")}`);
}
console.log("  (x: relative to the massless hand in the same run; targets: pre-training 1.5x, RFLO 1.2x, online BPTT 1.6x)");

const NS = quick ? [100, 200, 400] : [100, 200, 400, 800];
console.log(`cost against N (${NS.join(", ")}), one core: each plant's time, its ratio to the massless hand's at the same N (the`);
console.log("network-only floor of this comparison, measured in the same run), and the fitted exponent p of time ~ N^p");
const fit = (ns: number[], ts: number[]) => {
  const xs = ns.map(Math.log);
  const ys = ts.map(Math.log);
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  return xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
};
const floorRows = NS.map((N) => ({ N, ...costs(N, null, quick ? 2 : 3, B) }));
for (const plant of PLANTS) {
  const rows = plant ? NS.map((N) => ({ N, ...costs(N, plant, quick ? 2 : 3, B) })) : floorRows;
  for (const k of ["pretrain", "rflo", "bptt"] as const) {
    const cells = rows.map((r, i) => `N ${r.N}: ${(r[k] * 1000).toFixed(1)} ms${plant ? ` (${(r[k] / floorRows[i][k]).toFixed(2)}x)` : ""}`);
    console.log(`  ${label(plant).padEnd(22)} ${k.padEnd(9)} ${cells.join(", ")}; p = ${fit(NS, rows.map((r) => r[k])).toFixed(2)}`);
  }
}
