/**
 * Seconds per pre-training batch (forward, backward, clipping, Adam) at the full size, B=256, N=400,
 * T=125, for every engine the lib can use here: node --import tsx bench/pretrain.ts [--quick]
 *
 * GFLOP/s counts the matrix work of one batch (three B x N x N products per step plus the small
 * ones); "of peak" divides by the 2-thread OpenBLAS sgemm rate on a 256x400x400 product measured in
 * the same run, the practical ceiling of this machine.
 */
import * as os from "os";
import { engine, gemm, nativeAvailable, setEngine, setThreads } from "../lib/src/kernels";
import { Pretrainer, pretrainConfig } from "../lib/src/train";
import { initTf } from "../lib/src/backend";
import { tfLossGradient } from "../lib/src/tfmodel";
import { initNetwork } from "../lib/src/network";
import { randomReaches } from "../lib/src/task";
import { Rng } from "../lib/src/rng";
import { clipGradNorm } from "../lib/src/optim";

const quick = process.argv.includes("--quick");
const B = 256, N = 400, T = 125, nIn = 3, nOut = 2;
const FLOP = T * 2 * B * N * (3 * N + 2 * nIn + 4 * nOut) + 2 * (T + 1) * B * N * nOut;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function sgemmPeak(): number {
  if (!nativeAvailable()) return NaN;
  setEngine("openblas");
  setThreads(2);
  const a = new Float32Array(B * N).fill(0.5), w = new Float32Array(N * N).fill(0.25), c = new Float32Array(B * N);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    gemm(false, true, B, N, N, 1, a, N, w, N, 0, c, N);
    times.push(performance.now() - t0);
  }
  return (2 * B * N * N) / (median(times) / 1000) / 1e9;
}

function timeTrainer(batches: number): number[] {
  const p = Pretrainer.create(pretrainConfig({ seed: 1, batches: batches + 1, evalEvery: 1_000_000 }));
  p.step(); // warm-up
  const secs: number[] = [];
  for (let i = 0; i < batches; i++) secs.push(p.step().seconds);
  return secs;
}

async function main() {
  const peak = sgemmPeak();
  const rows: { engine: string; seconds: number; batches: number }[] = [];
  const n = quick ? 2 : 5;
  if (nativeAvailable()) {
    for (const threads of [2, 1]) {
      setEngine("openblas");
      setThreads(threads);
      rows.push({ engine: `openblas, ${threads} thread${threads > 1 ? "s" : ""}`, seconds: median(timeTrainer(n)), batches: n });
    }
  }
  setEngine("js");
  rows.push({ engine: "js (TypeScript loops, 1 core)", seconds: median(timeTrainer(1)), batches: 1 });
  setEngine("auto");

  const { tf, backend } = await initTf();
  const net = initNetwork({ N }, Rng.seeded(1, "weights"));
  const batch = randomReaches(B, Rng.seeded(1, "trials"));
  const x0 = new Float32Array(B * N).map(() => 0.05);
  const t0 = performance.now();
  const { grads } = tfLossGradient(tf, net, batch, x0);
  clipGradNorm(Object.values(grads), 0.2);
  rows.push({ engine: `tfjs ${backend} (autodiff; Adam not included)`, seconds: (performance.now() - t0) / 1000, batches: 1 });

  console.log(`pre-training batch: B=${B}, N=${N}, T=${T}; ${(FLOP / 1e9).toFixed(1)} GFLOP of matrix work per batch`);
  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`peak: OpenBLAS sgemm 256x400x400 with 2 threads, measured now: ${peak.toFixed(0)} GFLOP/s (=> ${(FLOP / peak / 1e9).toFixed(3)} s per batch at peak)`);
  console.log("");
  console.log("engine                                        s/batch   GFLOP/s   of peak   (median of n batches)");
  for (const r of rows) {
    const gf = FLOP / r.seconds / 1e9;
    console.log(`${r.engine.padEnd(44)} ${r.seconds.toFixed(3).padStart(8)} ${gf.toFixed(1).padStart(9)} ${((100 * gf) / peak).toFixed(0).padStart(8)}%   n=${r.batches}`);
  }
  console.log(`\nreference PyTorch on this machine (TOOLCHAIN.md): 1.5-2.2 s per batch; target <= 0.75 s. engine in use by default: ${engine().name}`);
}

main();
