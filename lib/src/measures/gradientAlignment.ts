/**
 * The whole-trial gradient's alignment (AdaptConfig.trialGradient): after every trial, the BPTT gradient
 * G = -dL_trial/dW_rec at the trial's starting weights (same initial state, target, control and realised
 * pushes; analysis/trialGradient.ts) against the summed update sum_k dw_k: column globalAlignmentTrial
 * (F4c). One extra forward and backward pass per trial.
 */
import { cosine } from "../analysis/alignment";
import { TrialGradientWork, trialGradient } from "../analysis/trialGradient";
import { Network } from "../network";
import { Mat2, seenThrough } from "../cursor";
import type { Perturbation } from "../perturbation";
import { Measure, TrialView } from "./measure";

/** cos(sum_k dw_k, -dL_trial/dW_rec at the trial's starting weights), every trial. */
export class GradientAlignment implements Measure {
  readonly name = "trial_gradient";
  readonly trialColumns = ["globalAlignmentTrial"] as const;
  readonly usesSummedUpdate = true;
  private readonly work: TrialGradientWork = {};

  /**
   * @param net the network being adapted, not seen through the cursor (its W_rec is replaced by the trial's starting one)
   * @param cursor the cursor map in force, or null
   * @param control whether the control input is on in learning trials
   * @param plantCursor the cursor perturbations, for a network that drives a plant (not seen through them)
   */
  constructor(
    private readonly net: Network,
    private readonly cursor: Mat2 | null,
    private readonly control: boolean,
    private readonly plantCursor: readonly Perturbation[],
  ) {}

  endTrial(view: TrialView): Record<string, number> {
    const atStart: Network = seenThrough({ config: this.net.config, params: { ...this.net.params, wRec: view.wStart } }, this.cursor);
    // A curl field's pushes are those the trial realised, taken as external input (as the rules take them).
    const ro = view.ro;
    const realised = ro.pushers.length ? { ...view.batch, pushes: Float64Array.from(ro.push) } : view.batch;
    const g = trialGradient(atStart, realised, { x0: view.x0, feedback: this.control, perturbations: this.plantCursor }, this.work);
    return { globalAlignmentTrial: cosine(view.summed!, g) };
  }
}
