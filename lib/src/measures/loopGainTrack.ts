/**
 * loop_gain, a registered measure built only on the public Measure interface and a public analysis: the
 * error-feedback loop's gain (analysis.loopGain: how much the hand's velocity changes per unit of fed-back
 * error within `window` steps, on the 8 centre-out reaches) of the weights being adapted, measured after
 * trial 1 and then after every `every` trials (columns loopGain, the magnitude of the gain's rotation part,
 * and loopPhaseDeg, its turn; NaN in the trials between). It shows whether learning strengthens or
 * weakens the controller that the network's own weights implement, trial by trial.
 *
 * It reads the weights only (analysis.loopGain works on a float64 copy), so a run gives the same weights
 * with it or without it. Its cost is that of analysis.loopGain, about 45 rollouts of the 8 reaches, at each
 * measured trial (1-2 s at N 400).
 */
import { loopGain } from "../analysis/loopGain";
import { integer } from "../validate";
import { Measure, TrialView } from "./measure";

/** Options of the loop_gain measure. */
export interface LoopGainTrackOptions {
  /** Measure after trial 1 and after every this many trials (default 25). */
  every?: number;
  /** The window of analysis.loopGain, in steps (default 10: 100 ms). */
  window?: number;
}

/** The loop's gain along adaptation. */
export class LoopGainTrack implements Measure {
  readonly name = "loop_gain";
  readonly trialColumns = ["loopGain", "loopPhaseDeg"] as const;
  /** Measured after trial 1 and after every this many trials. */
  readonly every: number;
  /** analysis.loopGain's window, in steps. */
  readonly window: number;

  constructor(options: LoopGainTrackOptions = {}) {
    this.every = integer("loop_gain.every", options.every ?? 25, 1);
    this.window = integer("loop_gain.window", options.window ?? 10, 1);
  }

  endTrial(view: TrialView, _updateNorm: number, done: number): Record<string, number> {
    if (done !== 1 && done % this.every !== 0) return { loopGain: NaN, loopPhaseDeg: NaN };
    const g = loopGain(view.net, { window: this.window });
    return { loopGain: g.magnitude, loopPhaseDeg: g.phaseDeg };
  }
}
