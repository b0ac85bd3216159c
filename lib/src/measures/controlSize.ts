/**
 * control_size, a registered measure built only on the public Measure interface (as a user's would be): the
 * size of the control input c_k = (M o W_fb) eps_k in each learning trial, as the root mean square over
 * the trial's steps and units (column controlRms), and its share of the recurrent drive's (controlShare =
 * rms(c) / rms(W_rec r_k)). In the paper's account control shrinks as the network learns, because the error
 * it answers shrinks; this measure shows it trial by trial. Without control (an RFLO or BPTT run) c is what
 * the controller would have put in: the network computes it either way.
 */
import type { Rollout } from "../network";
import { Measure, TrialView } from "./measure";

/** Root mean square of the control input over a learning trial, and its ratio to the recurrent drive's. */
export class ControlSize implements Measure {
  readonly name = "control_size";
  readonly trialColumns = ["controlRms", "controlShare"] as const;
  private c2 = 0;
  private d2 = 0;

  startTrial(): void {
    this.c2 = 0;
    this.d2 = 0;
  }

  beforeUpdate(k: number, view: TrialView): void {
    // Trial 0 of the batch, step k: c_k, and W_rec r_k with the weights this step used.
    const ro: Rollout = view.ro;
    const N = ro.N;
    const c = ro.c.subarray(k * ro.B * N, k * ro.B * N + N);
    const r = ro.r.subarray(k * ro.B * N, k * ro.B * N + N);
    const w = view.net.params.wRec;
    for (let i = 0; i < N; i++) {
      this.c2 += c[i] * c[i];
      let d = 0;
      for (let j = 0; j < N; j++) d += w[i * N + j] * r[j];
      this.d2 += d * d;
    }
  }

  endTrial(view: TrialView): Record<string, number> {
    const n = view.ro.T * view.ro.N;
    return { controlRms: Math.sqrt(this.c2 / n), controlShare: this.d2 > 0 ? Math.sqrt(this.c2 / this.d2) : NaN };
  }
}
