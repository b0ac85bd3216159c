/**
 * Seconds per pre-training batch (forward, backward, clipping, Adam) at the full size, B=256, N=400,
 * T=125, for every engine the lib can use here: node --import tsx bench/pretrain.ts [--quick]
 *
 * Each time is printed beside the floor measured in the same run (bench/floors.c: the batch's 3T
 * products [256 x 400] x [400 x 400] at the 2-thread OpenBLAS sgemm rate) and the ratio time / floor,
 * which is what to compare between machines. GFLOP/s counts the matrix work of one batch.
 */
import * as os from "os";
import { engine, nativeAvailable, setEngine, setThreads } from "../lib/src/kernels";
import { Pretrainer, pretrainConfig } from "../lib/src/train";
import { describeTf, initTf } from "../lib/src/backend";
import { TfPretrainer } from "../lib/src/tftrain";
import { measureFloors } from "./floors";

const quick = process.argv.includes("--quick");
const B = 256, N = 400, T = 125, nIn = 3, nOut = 2;
const FLOP = T * 2 * B * N * (3 * N + 2 * nIn + 4 * nOut) + 2 * (T + 1) * B * N * nOut;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeTrainer(batches: number): number[] {
  const p = Pretrainer.create(pretrainConfig({ seed: 1, batches: batches + 1, evalEvery: 1_000_000 }));
  p.step(); // warm-up
  const secs: number[] = [];
  for (let i = 0; i < batches; i++) secs.push(p.step().seconds);
  return secs;
}

async function main() {
  const floors = measureFloors();
  const floor = "missing" in floors ? undefined : floors.pretrainBatch;
  const rows: { engine: string; seconds: number; batches: number }[] = [];
  const n = quick ? 2 : 5;
  if (nativeAvailable()) {
    for (const threads of [2, 1]) {
      setEngine("openblas");
      setThreads(threads);
      rows.push({ engine: `openblas addon, ${threads} thread${threads > 1 ? "s" : ""}`, seconds: median(timeTrainer(n)), batches: n });
    }
  }
  setEngine("js");
  rows.push({ engine: "js (TypeScript loops, 1 core)", seconds: median(timeTrainer(1)), batches: 1 });
  setEngine("auto");

  // The tfjs engine: the whole batch (forward, autodiff backward, clipping, Adam) on the best backend present.
  const session = await initTf();
  const p = Pretrainer.create(pretrainConfig({ seed: 1, batches: 2, evalEvery: 1_000_000 }));
  const tfe = TfPretrainer.fromPretrainer(session.tf, p);
  const tfSeconds = tfe.step(p.trials, p.init).seconds;
  tfe.dispose();
  rows.push({ engine: `tfjs engine on ${session.backend}`, seconds: tfSeconds, batches: 1 });

  console.log(`pre-training batch: B=${B}, N=${N}, T=${T}; ${(FLOP / 1e9).toFixed(1)} GFLOP of matrix work per batch`);
  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  if ("missing" in floors) console.log(`floor: not measured (${floors.missing})`);
  else console.log(`floor, measured now: 3T = ${3 * T} sgemm 256x400x400 at ${floors.sgemm_gflops.toFixed(0)} GFLOP/s (2 threads) = ${floors.pretrainBatch.toFixed(3)} s per batch`);
  console.log("");
  console.log("engine                                  s/batch    floor    ratio   GFLOP/s   (median of n batches)");
  for (const r of rows) {
    const gf = FLOP / r.seconds / 1e9;
    const ratio = floor === undefined ? "   -" : (r.seconds / floor).toFixed(2).padStart(6) + "x";
    console.log(`${r.engine.padEnd(38)} ${r.seconds.toFixed(3).padStart(8)} ${floor === undefined ? "     -" : floor.toFixed(3).padStart(8)} ${ratio} ${gf.toFixed(1).padStart(9)}   n=${r.batches}`);
  }
  console.log(`tfjs backends here: ${describeTf(session)}`);
  if (session.backend !== "tensorflow-gpu") console.log("GPU: none here (tfjs-node-gpu is not installed), so there is no GPU figure; run npm run bench on a CUDA machine with it.");
  console.log(`engine in use by default: ${engine()}`);
}

main();
