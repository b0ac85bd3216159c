/**
 * GEMM throughput of the lib's engines: node --import tsx bench/gemm.ts [--quick]
 *
 * For each available engine (OpenBLAS with 1 and 2 threads, plain TypeScript) and precision, times
 * [256x400]x[400x400] in all four transpose combinations and [1x400]x[400x400] (NN and NT), and
 * prints the median time per call over several batches, the best batch, and GFLOP/s of the median.
 */
import * as os from "os";
import { FArray, engine, gemm, getThreads, nativeAvailable, setEngine, setThreads } from "../lib/src/kernels";

const quick = process.argv.includes("--quick");
const BATCHES = quick ? 3 : 9;
const BATCH_MS = quick ? 20 : 60;

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

function fill(a: FArray, seed: number): FArray {
  let s = seed;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

function timeCall(run: () => void): { median: number; best: number } {
  const t0 = performance.now();
  run();
  run();
  const per = Math.max((performance.now() - t0) / 2, 1e-4);
  const reps = Math.max(1, Math.round(BATCH_MS / per));
  const times: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const s = performance.now();
    for (let r = 0; r < reps; r++) run();
    times.push((performance.now() - s) / reps);
  }
  times.sort((x, y) => x - y);
  return { median: times[Math.floor(times.length / 2)], best: times[0] };
}

function fmtTime(ms: number): string {
  return ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} us`;
}

const shapes: { m: number; n: number; k: number; combos: [boolean, boolean][] }[] = [
  { m: 256, n: 400, k: 400, combos: [[false, false], [true, false], [false, true], [true, true]] },
  { m: 1, n: 400, k: 400, combos: [[false, false], [false, true]] },
];

function benchEngine(label: string): void {
  for (const T of [Float32Array, Float64Array] as Ctor[]) {
    for (const { m, n, k, combos } of shapes) {
      for (const [ta, tb] of combos) {
        const A = fill(new T(m * k), 1), B = fill(new T(k * n), 2), C = fill(new T(m * n), 3);
        const lda = ta ? m : k, ldb = tb ? k : n;
        const { median, best } = timeCall(() => gemm(ta, tb, m, n, k, 1, A, lda, B, ldb, 0.5, C, n));
        const gflops = (2 * m * n * k) / (median * 1e6);
        const op = `${ta ? "T" : "N"}${tb ? "T" : "N"}`;
        console.log(
          `${label.padEnd(13)} ${T.name.padEnd(12)} [${m}x${k}]x[${k}x${n}] ${op}  ` +
            `${fmtTime(median).padStart(9)}/call (best ${fmtTime(best).padStart(9)})  ${gflops.toFixed(2).padStart(6)} GFLOP/s`,
        );
      }
    }
  }
}

console.log(`load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(", ")}; ${os.cpus().length} CPUs (${os.cpus()[0]?.model})`);
const status = engine();
console.log(`default engine: ${status.name}${status.reason ? ` (${status.reason})` : ""}`);
if (nativeAvailable()) {
  setEngine("openblas");
  console.log(`OpenBLAS: ${engine().openblas!.config}, core ${engine().openblas!.corename}`);
  const before = getThreads();
  for (const threads of [1, 2]) {
    setThreads(threads);
    benchEngine(`openblas x${threads}`);
  }
  setThreads(before);
} else {
  console.log(`openblas: skipped (${status.reason})`);
}
setEngine("js");
benchEngine("js");
setEngine("auto");
console.log(`load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(", ")}`);
