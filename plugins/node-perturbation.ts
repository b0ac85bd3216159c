/**
 * Node perturbation (Fiete & Seung 2006; Miconi 2017, eLife, for recurrent networks), added the way a user
 * adds a rule: a plugin file that imports only the public package "fbcontrol" and registers the rule.
 *
 *   npm run adapt -- --plugin plugins/node-perturbation.ts --conditions node_perturbation+c,node_perturbation --lr 1e-3
 *
 * In every learning trial the rule adds Gaussian noise xi_k ~ N(0, sigma^2) to each unit's drive at every
 * step (x_{k+1} = (1-a) x_k + a (W_in u_k + W_rec r_k + xi_k + ...)), keeps the eligibility
 * E = sum_k xi_k r_k^T (the noise times the presynaptic rates it met), and at the trial's last step
 * updates
 *
 *   dW = -(L - Lbar_target) / sigma^2 * E,
 *
 * where L is the trial's loss mean_k |e_{k+1}|^2 (with the control input on when "+c") and Lbar_target a
 * running average of the loss on earlier trials to the same target (the reward prediction; Miconi keeps one
 * per trial type): Lbar <- Lbar + baselineRate (L - Lbar). The first trial to each target only sets its
 * baseline. Only the error's size reaches the synapses: no feedback weights, no W_out, no gradient.
 *
 * The noise of trial t comes from the stream Rng.seeded(seed, "node-perturbation:" + t), so a run is
 * reproducible and a resumed run draws what an uninterrupted one draws; the baselines are saved with it.
 */
import { kernels, network, rules, Rng } from "fbcontrol";

type FArray = kernels.FArray;

export interface NodePerturbationOptions {
  /** Noise standard deviation in the units' drive (same units as W_rec r). */
  sigma: number;
  /** Step size of the per-target running average of the loss (the baseline). */
  baselineRate: number;
}

export class NodePerturbation implements rules.LearningRule {
  readonly name = "node_perturbation";
  private E!: FArray;
  private xi!: FArray;
  private dwScale = 0;
  private net!: network.Network;
  private ro!: network.Rollout;
  private noise!: Rng;
  private target = 0;
  private lossSum = 0;
  private readonly baseline = new Map<number, number>();

  constructor(readonly options: NodePerturbationOptions) {
    if (!(options.sigma > 0)) throw new Error(`node_perturbation: sigma must be > 0, got ${options.sigma}`);
    if (!(options.baselineRate > 0 && options.baselineRate <= 1)) throw new Error(`node_perturbation: baselineRate must be in (0, 1], got ${options.baselineRate}`);
  }

  reset(net: network.Network, ro: network.Rollout, context?: rules.TrialContext): void {
    if (!context) throw new Error("node_perturbation needs the trial context (run it through the adaptation loop)");
    const N = net.config.N;
    if (!this.E || this.E.length !== N * N || this.E.constructor !== net.params.wRec.constructor) {
      this.E = rules.newArray(net.params.wRec, N * N);
      this.xi = rules.newArray(net.params.wRec, N);
    }
    this.E.fill(0);
    this.net = net;
    this.ro = ro;
    this.noise = Rng.seeded(context.seed, `node-perturbation:${context.trial}`);
    this.target = context.targetId;
    this.lossSum = 0;
    this.dwScale = 0;
  }

  /** xi_k into the drive of step k. */
  perturbDrive(k: number, drive: FArray): void {
    const s = this.options.sigma;
    for (let i = 0; i < this.xi.length; i++) this.xi[i] = s * this.noise.normal();
    kernels.axpy(1, this.xi, drive);
  }

  /** E += xi_k r_k^T (a rank-1 product through the public gemm: [N, 1] x [1, N]). */
  advance(k: number): void {
    const N = this.net.config.N;
    kernels.gemm(false, false, N, N, 1, 1, this.xi, 1, this.ro.r.subarray(k * N, (k + 1) * N), N, 1, this.E, N);
  }

  accumulate(k: number, out: FArray, scale: number): number {
    const e = this.ro.e;
    const at = (k + 1) * this.ro.B * 2;
    this.lossSum += e[at] * e[at] + e[at + 1] * e[at + 1];
    if (k + 1 < this.ro.T) {
      this.dwScale = 0;
      return 0;
    }
    // The trial's loss as taskLoss computes it: mean over the T+1 stored steps (E[0] = 0) and both dimensions.
    const loss = this.lossSum / (2 * (this.ro.T + 1));
    const base = this.baseline.get(this.target);
    this.baseline.set(this.target, base === undefined ? loss : base + this.options.baselineRate * (loss - base));
    if (base === undefined) {
      this.dwScale = 0;
      return 0;
    }
    const sigma2 = this.options.sigma * this.options.sigma;
    this.dwScale = -(loss - base) / sigma2;
    return Math.abs(this.dwScale) * Math.sqrt(kernels.axpyNorm2(scale * this.dwScale, this.E, out));
  }

  lastUpdate(out: FArray): void {
    out.fill(0);
    if (this.dwScale !== 0) kernels.axpy(this.dwScale, this.E, out);
  }

  saveState(): unknown {
    return { baseline: [...this.baseline.entries()] };
  }

  loadState(state: unknown): void {
    this.baseline.clear();
    for (const [t, v] of (state as { baseline: [number, number][] }).baseline) this.baseline.set(t, v);
  }
}

rules.registerRule({
  name: "node_perturbation",
  description: "node perturbation (Fiete & Seung 2006; Miconi 2017): noise in the drives, eligibility noise x rates, update by the loss minus a per-target running baseline",
  defaults: { sigma: 0.1, baselineRate: 0.3 },
  create: (o) => new NodePerturbation(o as unknown as NodePerturbationOptions),
});
