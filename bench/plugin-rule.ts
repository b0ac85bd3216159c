/**
 * A rule written outside the lib, from the public building blocks only, against the built-in one
 * (issue: "fast building blocks for rule authors"). Per adaptation trial at N=400, T=125, batch 1, one
 * core, each as a ratio to the built-in RFLO measured in the same run:
 *   - built-in RFLO (fuses its trace, update and the next step's recurrent drive in one pass: kernels.rfloStep);
 *   - plugin RFLO from the public kernels: kernels.rfloStep (the trace decay and the row-scaled update of
 *     W_rec in one pass), target within 1.5x; and from two separate kernels, kernels.outerTrace for the
 *     trace and kernels.rowScaleAdd for the update (two passes);
 *   - the same rule in plain TypeScript loops over typed arrays, for contrast;
 *   - node perturbation (plugins/node-perturbation.ts), which adds a recurrent product per step.
 *   node --import tsx bench/plugin-rule.ts [--quick]
 */
import * as fs from "fs";
import { Adapter, adaptConfig } from "../lib/src/adapt";
import { loadNetwork } from "../lib/src/checkpoint";
import { FArray, outerTrace, rfloStep, rowScaleAdd, setThreads } from "../lib/src/kernels";
import { Network, Rollout, initNetwork } from "../lib/src/network";
import { dataPath, projectPath } from "../lib/src/paths";
import { Rng } from "../lib/src/rng";
import { LearningRule, newArray, projectError } from "../lib/src/rules";
import { loadPlugin } from "../lib/src/plugin";

const quick = process.argv.includes("--quick");
const file = dataPath("pretrained", "pretrain-fb-seed1.safetensors");
const net = fs.existsSync(file) ? loadNetwork(file).network : initNetwork({ N: 400 }, Rng.seeded(1, "weights"));

/** RFLO from the public kernels: P <- a relu'(x_{k+1}) r_k^T + (1-a) P; out += scale diag(W_fb e) P. */
class PublicRflo implements LearningRule {
  readonly name: string = "bench_public_rflo";
  private P!: FArray;
  private s!: FArray;
  private net!: Network;
  private ro!: Rollout;
  reset(net: Network, ro: Rollout) {
    const N = net.config.N;
    if (!this.P) [this.P, this.s] = [newArray(net.params.wRec, N * N), newArray(net.params.wRec, N)];
    this.P.fill(0);
    [this.net, this.ro] = [net, ro];
  }
  advance(k: number) {
    const N = this.net.config.N;
    outerTrace(this.P, N, N, this.ro.x.subarray((k + 1) * N, (k + 2) * N), this.ro.r.subarray(k * N, (k + 1) * N), this.net.config.dt / this.net.config.tau);
  }
  accumulate(k: number, out: FArray, scale: number) {
    const N = this.net.config.N;
    projectError(this.net, this.ro, k, "feedback", this.s);
    return Math.sqrt(rowScaleAdd(out, this.P, N, N, this.s, scale));
  }
  lastUpdate(out: FArray) {
    out.fill(0);
    rowScaleAdd(out, this.P, this.net.config.N, this.net.config.N, this.s, 1);
  }
}

/** RFLO from the one-pass public kernel: the trace update waits for `accumulate`, which fuses it with the update. */
class FusedPublicRflo extends PublicRflo {
  readonly name: string = "bench_fused_public_rflo";
  private k = -1;
  advance(k: number) {
    this.k = k;
  }
  accumulate(k: number, out: FArray, scale: number) {
    const self = this as unknown as { net: Network; ro: Rollout; P: FArray; s: FArray };
    const N = self.net.config.N;
    projectError(self.net, self.ro, k, "feedback", self.s);
    const gate = self.ro.x.subarray((this.k + 1) * N, (this.k + 2) * N);
    const pre = self.ro.r.subarray(this.k * N, (this.k + 1) * N);
    return Math.sqrt(rfloStep(self.P, out, N, N, gate, pre, self.net.config.dt / self.net.config.tau, self.s, scale));
  }
}

/** The same rule in plain TypeScript loops. */
class LoopRflo extends PublicRflo {
  readonly name: string = "bench_loop_rflo";
  advance(k: number) {
    const N = this.net_().config.N;
    const a = this.net_().config.dt / this.net_().config.tau;
    const P = this.P_();
    const x = this.ro_().x;
    const r = this.ro_().r;
    for (let i = 0; i < N; i++) {
      const g = x[(k + 1) * N + i] > 0 ? a : 0;
      for (let j = 0; j < N; j++) P[i * N + j] = g * r[k * N + j] + (1 - a) * P[i * N + j];
    }
  }
  accumulate(k: number, out: FArray, scale: number) {
    const N = this.net_().config.N;
    const s = this.s_();
    projectError(this.net_(), this.ro_(), k, "feedback", s);
    const P = this.P_();
    let n2 = 0;
    for (let i = 0; i < N; i++) {
      const si = s[i];
      for (let j = 0; j < N; j++) {
        const d = si * P[i * N + j];
        out[i * N + j] += scale * d;
        n2 += d * d;
      }
    }
    return Math.sqrt(n2);
  }
  private net_() { return (this as unknown as { net: Network }).net; }
  private ro_() { return (this as unknown as { ro: Rollout }).ro; }
  private P_() { return (this as unknown as { P: FArray }).P; }
  private s_() { return (this as unknown as { s: FArray }).s; }
}

function perTrial(rule: Parameters<typeof adaptConfig>[0] extends infer O ? O extends { rule?: infer R } ? R : never : never, trials: number): number {
  const a = new Adapter(net, adaptConfig({ rule, control: true, lr: 5e-5, trials }));
  a.trial();
  const times: number[] = [];
  for (let i = 0; i < trials; i++) {
    const t0 = performance.now();
    a.trial();
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)];
}

setThreads(1);
loadPlugin(projectPath("plugins", "node-perturbation.ts"));
const trials = quick ? 20 : 100;
// Interleaved rounds, so that a change in the machine's load hits every variant alike.
const names = ["built-in RFLO", "plugin RFLO (public kernels.rfloStep)", "plugin RFLO (outerTrace + rowScaleAdd)", "plugin RFLO (plain TypeScript loops)", "node perturbation (plugin)"] as const;
const makers = [() => "rflo", () => () => new FusedPublicRflo(), () => () => new PublicRflo(), () => () => new LoopRflo(), () => "node_perturbation"] as const;
const best = names.map(() => Infinity);
for (let round = 0; round < 3; round++) makers.forEach((m, i) => (best[i] = Math.min(best[i], perTrial(m() as never, trials))));
console.log(`adaptation trial, N=${net.config.N}, T=125, batch 1, one thread; best of 3 medians over ${trials} trials`);
names.forEach((n, i) => console.log(`  ${n.padEnd(40)} ${best[i].toFixed(2)} ms/trial  ${(best[i] / best[0]).toFixed(2)}x built-in`));
