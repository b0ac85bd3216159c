/**
 * "noise_mirror": feedback weights that learn how the seen hand (the cursor) responds to the units, from
 * the units' own noise (a weight mirror, Akrout et al. 2019, in the noise-driven style of deep feedback
 * control's feedback learning, Meulemans et al. 2022).
 *
 * At every step each unit adds Gaussian noise xi_k,i (sd sigma) to its drive, and W_fb row i correlates
 * it with the change of the seen velocity one step later:
 *
 *   G = sum_k xi_k (v_{k+1} - v_k)^T / (sigma^2 alpha T)      [N, nOut], alpha = dt / tau
 *
 * Since x_{k+1} = (1 - alpha) x_k + alpha (drive_k + xi_k + ...), E[G] = mean_k relu'(x_{k+1}) (C W_out)^T
 * to first order in sigma: the transpose of the cursor's Jacobian with respect to the drives, averaged
 * over the trial's gating. Feedback W_fb proportional to that Jacobian's transpose makes the loop gain
 * C W_out D W_fb positive semi-definite whatever the cursor map C, which is what control needs to push the
 * cursor toward the target. At the end of each trial
 *
 *   W_fb <- rho (W_fb + eta rho G / |G|) / |W_fb + eta rho G / |G||,     rho = |W_fb| (Frobenius)
 *
 * masked by the feedback mask: W_fb moves by the fraction eta of its norm toward the trial's estimate and
 * keeps its norm, so the controller's overall gain stays the pre-trained one and only its direction
 * learns. Every quantity a unit uses is its own noise and the seen velocity (one signal per output).
 */
import { FArray } from "../kernels";
import { Network, Rollout } from "../network";
import { Rng } from "../rng";
import { TrialContext } from "../rules/rule";
import { inRange, positive } from "../validate";
import { FeedbackRule } from "./feedbackRule";

/** Options of `NoiseMirror`. */
export interface NoiseMirrorOptions {
  /** Standard deviation of the noise added to each unit's drive at every step (learning trials only). */
  sigma: number;
  /**
   * Fraction of |W_fb| by which one trial moves W_fb toward its estimate (before the norm is restored).
   * 0 keeps W_fb fixed with the noise still injected: the control for what the noise alone does.
   */
  eta: number;
}

/** The noise-driven feedback-weight rule (see the module comment). */
export class NoiseMirror implements FeedbackRule {
  readonly name = "noise_mirror";
  private net!: Network;
  private ro!: Rollout;
  private rng!: Rng;
  /** This trial's noise, [T, N]. */
  private xi = new Float64Array(0);
  /** sum_k xi_k (v_{k+1} - v_k)^T, [N, nOut]. */
  private h = new Float64Array(0);
  private steps = 0;

  /**
   * @param options noise sd and rate
   * @throws ParameterError for a sigma that is not a finite number > 0, or an eta outside [0, 1]
   */
  constructor(readonly options: NoiseMirrorOptions) {
    positive("sigma", options.sigma);
    inRange("eta", options.eta, 0, 1);
  }

  reset(net: Network, ro: Rollout, context: TrialContext): void {
    const { N, nOut } = net.config;
    this.net = net;
    this.ro = ro;
    // Its own stream per trial: reproducible, and resumable without state of its own.
    this.rng = Rng.seeded(context.seed, `noise-mirror-${context.trial}`);
    if (this.xi.length !== ro.T * N) this.xi = new Float64Array(ro.T * N);
    if (this.h.length !== N * nOut) this.h = new Float64Array(N * nOut);
    this.h.fill(0);
    this.steps = 0;
  }

  perturbDrive(k: number, drive: FArray): void {
    const N = this.net.config.N;
    const s = this.options.sigma;
    for (let i = 0; i < N; i++) {
      const n = s * this.rng.normal();
      this.xi[k * N + i] = n;
      drive[i] += n;
    }
  }

  observe(k: number): void {
    const { N, nOut } = this.net.config;
    const BO = this.ro.B * nOut;
    const v = this.ro.v;
    for (let o = 0; o < nOut; o++) {
      const dv = v[(k + 1) * BO + o] - v[k * BO + o]; // trial 0
      for (let i = 0; i < N; i++) this.h[i * nOut + o] += this.xi[k * N + i] * dv;
    }
    this.steps++;
  }

  /** The trial's estimate G of the cursor Jacobian's transpose (see the module comment), [N, nOut]. */
  estimate(): Float64Array {
    const { dt, tau } = this.net.config;
    const scale = 1 / (this.options.sigma ** 2 * (dt / tau) * Math.max(this.steps, 1));
    return this.h.map((x) => x * scale);
  }

  endTrial(wFb: FArray, mask: FArray): number {
    const g = this.estimate();
    let rho2 = 0;
    let g2 = 0;
    for (let i = 0; i < wFb.length; i++) {
      g[i] *= mask[i];
      rho2 += wFb[i] * wFb[i];
      g2 += g[i] * g[i];
    }
    if (!(g2 > 0) || !(rho2 > 0) || this.options.eta === 0) return 0;
    const rho = Math.sqrt(rho2);
    const step = (this.options.eta * rho) / Math.sqrt(g2);
    const next = new Float64Array(wFb.length);
    let n2 = 0;
    for (let i = 0; i < wFb.length; i++) {
      next[i] = wFb[i] + step * g[i];
      n2 += next[i] * next[i];
    }
    const back = rho / Math.sqrt(n2);
    let d2 = 0;
    for (let i = 0; i < wFb.length; i++) {
      const w = next[i] * back;
      const stored = wFb instanceof Float32Array ? Math.fround(w) : w;
      d2 += (stored - wFb[i]) ** 2;
      wFb[i] = stored;
    }
    return Math.sqrt(d2);
  }
}
