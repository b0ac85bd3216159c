/**
 * RFLO whose eligibility trace also passes through a first-order lag of time constant `tau` (seconds), the
 * lag that a plant puts between the network's command and the hand's velocity:
 *
 *   P <- a relu'(x_{k+1}) r_k^T + (1 - a) P      RFLO's trace, a = dt / tau_network
 *   Q <- b P + (1 - b) Q                          the trace seen through the lag, b = dt / tau
 *   dw_k = diag(W_fb e_{k+1}) Q
 *
 * Why: RFLO credits a synapse with the error of the same step through P, which stands for how the unit's
 * rate, and so the readout, depends on the weight. On the paper's massless hand the readout is the hand's
 * velocity. Through the point mass (plant/pointMass.ts) the readout is a force, and the hand's velocity is
 * the force low-passed with the time constant m / b = 0.1 s: the velocity's dependence on a weight is then
 * P low-passed by the same lag, which is Q. With `tau` equal to dt (b = 1) Q = P and the rule is RFLO.
 *
 * Written as a user would, against the public package and its kernels: the lag is one more pass of
 * kernels.outerTrace over the N x N trace, viewed as one row (gate 1, "presynaptic" P), so it runs in the
 * native addon like RFLO's own trace.
 *
 *   npm run adapt -- --plugin plugins/rflo-lag.ts --conditions rflo_lag+c,rflo_lag --rule-options tau=0.1
 *
 * Issue 24: through a plant with mass RFLO+c ends above RFLO. Does a trace that matches the plant's lag
 * change that?
 */
import { kernels, network, rules } from "fbcontrol";

type FArray = kernels.FArray;

export interface RfloLagOptions {
  /** The lag's time constant in seconds (default 0.1: the point mass's m / b); at dt the rule is RFLO. */
  tau: number;
}

export class RfloLag implements rules.LearningRule {
  readonly name = "rflo_lag";
  private net!: network.Network;
  private ro!: network.Rollout;
  private P!: FArray;
  private Q!: FArray;
  private s!: FArray;
  private one!: FArray;
  private alpha = 0;
  private beta = 0;

  constructor(readonly options: RfloLagOptions) {
    if (!(typeof options.tau === "number" && options.tau > 0)) throw new Error(`rflo_lag: tau must be a positive number of seconds, got ${JSON.stringify(options.tau)}`);
  }

  reset(net: network.Network, ro: network.Rollout): void {
    const N = net.config.N;
    if (!this.P || this.P.length !== N * N || this.P.constructor !== net.params.wRec.constructor) {
      const make = (n: number) => new (net.params.wRec.constructor as new (n: number) => FArray)(n);
      this.P = make(N * N);
      this.Q = make(N * N);
      this.s = make(N);
      this.one = make(1);
      this.one[0] = 1;
    }
    this.P.fill(0);
    this.Q.fill(0);
    this.net = net;
    this.ro = ro;
    this.alpha = net.config.dt / net.config.tau;
    this.beta = Math.min(1, net.config.dt / this.options.tau);
  }

  /** P from trial 0's relu'(x_{k+1}) and r_k, then Q through the lag. */
  advance(k: number): void {
    const N = this.net.config.N;
    const BN = this.ro.B * N;
    kernels.outerTrace(this.P, N, N, this.ro.x.subarray((k + 1) * BN, (k + 1) * BN + N), this.ro.r.subarray(k * BN, k * BN + N), this.alpha);
    kernels.outerTrace(this.Q, 1, N * N, this.one, this.P, this.beta);
  }

  accumulate(k: number, out: FArray, scale: number): number {
    rules.projectError(this.net, this.ro, k, "feedback", this.s);
    const N = this.net.config.N;
    return Math.sqrt(kernels.rowScaleAdd(out, this.Q, N, N, this.s, scale));
  }

  lastUpdate(out: FArray): void {
    out.fill(0);
    kernels.rowScaleAdd(out, this.Q, this.net.config.N, this.net.config.N, this.s, 1);
  }
}

rules.registerRule({
  name: "rflo_lag",
  description: "RFLO with its eligibility trace passed through a first-order lag of tau seconds (a plant's lag between command and hand velocity; tau = dt is RFLO)",
  defaults: { tau: 0.1 },
  defaultLr: { control: 5e-5, plain: 5e-5 },
  create: (o) => new RfloLag(o as unknown as RfloLagOptions),
});
