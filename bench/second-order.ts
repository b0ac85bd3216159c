/**
 * The second-order analysis at N = 400 (F5b): one exact Hessian-vector product as a multiple of one step
 * gradient's time (both through the same trial prefix), then one damped Newton solve (MINRES) with its time,
 * iteration count and true residual.
 *   node --import tsx bench/second-order.ts [--quick]
 */
import * as fs from "fs";
import * as os from "os";
import { StepHessian } from "../lib/src/analysis/hessian";
import { minres } from "../lib/src/analysis/krylov";
import { loadNetwork } from "../lib/src/checkpoint";
import { engine, setThreads } from "../lib/src/kernels";
import { initNetwork, simulate } from "../lib/src/network";
import { dataPath } from "../lib/src/paths";
import { Rng } from "../lib/src/rng";
import { centreOut, rotate } from "../lib/src/task";

const quick = process.argv.includes("--quick");
setThreads(1);
const file = dataPath("pretrained", "pretrain-fb-seed1.safetensors");
const net = fs.existsSync(file) ? loadNetwork(file).network : initNetwork({ N: 400 }, Rng.seeded(1, "weights"));
const batch = rotate(centreOut([3]), 30);
const ro = simulate(net, batch, { feedback: true, init: Rng.seeded(1, "bench") });
const k = 60;
const H = new StepHessian({ net, batch, x0: ro.x.subarray(0, net.config.N), eps: ro.eps, feedback: true, k });

const time = (f: () => void, reps: number) => {
  f();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / reps / 1000;
};
const fresh = () => new StepHessian({ net, batch, x0: ro.x.subarray(0, net.config.N), eps: ro.eps, feedback: true, k }).gradient();
const v = Float64Array.from({ length: H.dim }, (_, i) => Math.sin(i));
const out = new Float64Array(H.dim);
const tGrad = time(fresh, quick ? 3 : 10);
const tHvp = time(() => H.hvp(v, out), quick ? 3 : 10);
console.log(`second-order analysis, N=${net.config.N}, step k=${k}, float64, one thread; engine ${engine()}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.log(`step gradient (forward replay + reverse pass)   ${tGrad.toFixed(4)} s`);
console.log(`Hessian-vector product (forward-over-reverse)   ${tHvp.toFixed(4)} s   = ${(tHvp / tGrad).toFixed(2)} gradients`);
const g = H.gradient().map((x) => -x);
for (const lambda of quick ? [10] : [10, 1]) {
  const t0 = performance.now();
  const r = minres((a, b) => H.hvp(a, b), g, { shift: lambda, tol: 1e-6, maxIterations: quick ? 200 : 2000 });
  console.log(`MINRES, lambda ${String(lambda).padEnd(4)} ${((performance.now() - t0) / 1000).toFixed(2).padStart(7)} s, ${String(r.iterations).padStart(5)} iterations, true residual ${r.residual.toExponential(2)}${r.converged ? "" : " (NOT converged)"}`);
}
