/**
 * FED, the presynaptic-trace rule in the style of Feulner et al. 2022 (SPEC §6.3):
 *
 *   p    <- a r_{k+1} + (1 - a) p,   p = a r_0 at the start of a trial
 *   dw_k  = (W_fb e_{k+1}) p^T
 *
 * Projection "transpose" uses W_out^T instead of W_fb (the reference's FED_t).
 */
import { FArray } from "../kernels";
import { Network, Rollout } from "../network";
import { ErrorProjection, LearningRule, newArray, projectError } from "./rule";

/**
 * The FED rule: the projected error times a leaky trace of the presynaptic rates. Its name is "fed", or
 * "fed_t" with projection "transpose".
 */
export class Fed implements LearningRule {
  readonly name: string;
  private net!: Network;
  private ro!: Rollout;
  private p!: FArray;
  private s!: FArray;
  private alpha = 0;

  /** @param options the error projection (default "feedback": W_fb) */
  constructor(
    readonly options: {
      /** W_fb ("feedback", default) or W_out^T ("transpose"). */
      projection?: ErrorProjection;
    } = {},
  ) {
    this.name = options.projection === "transpose" ? "fed_t" : "fed";
  }

  reset(net: Network, ro: Rollout): void {
    const N = net.config.N;
    if (!this.p || this.p.length !== N || this.p.constructor !== net.params.wRec.constructor) {
      this.p = newArray(net.params.wRec, N);
      this.s = newArray(net.params.wRec, N);
    }
    this.net = net;
    this.ro = ro;
    this.alpha = net.config.dt / net.config.tau;
    for (let j = 0; j < N; j++) this.p[j] = this.alpha * ro.r[j]; // r_0 of trial 0
  }

  advance(k: number): void {
    const N = this.net.config.N;
    const at = (k + 1) * this.ro.B * N;
    const r = this.ro.r;
    for (let j = 0; j < N; j++) this.p[j] = this.alpha * r[at + j] + (1 - this.alpha) * this.p[j];
  }

  lastUpdate(out: FArray): void {
    const N = this.net.config.N;
    const { s, p } = this;
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) out[i * N + j] = s[i] * p[j];
  }

  accumulate(k: number, out: FArray, scale: number): number {
    const N = this.net.config.N;
    const { s, p } = this;
    projectError(this.net, this.ro, k, this.options.projection ?? "feedback", s);
    let ss = 0;
    let pp = 0;
    for (let j = 0; j < N; j++) pp += p[j] * p[j];
    for (let i = 0; i < N; i++) {
      const si = scale * s[i];
      ss += s[i] * s[i];
      const row = i * N;
      for (let j = 0; j < N; j++) out[row + j] += si * p[j];
    }
    return Math.sqrt(ss * pp);
  }
}
