/**
 * The whole-trial gradient (SPEC §7.2's second natural definition of global alignment, result F4c):
 *
 *   G = -dL_trial / dW_rec,   L_trial = sum_{j=1..T} |e_j|^2 / 2  (summed over the batch's trials)
 *
 * at fixed weights: one forward pass with the given initial state and feedback setting, the fed-back
 * error treated as an external input (as during adaptation), and one backward pass through the whole trial.
 * It is the descent direction that the online updates sum_k dw_k would follow if the weights did not move
 * within the trial.
 */
import type { Perturbation } from "../perturbation";
import { ParameterError } from "../validate";
import { FArray } from "../kernels";
import { GradWorkspace, Grads, lossGradient, zeroGrads } from "../loss";
import { Network, Rollout, simulate } from "../network";
import { TrialBatch } from "../task";

/** The trial's initial state and control setting for `trialGradient`. */
export interface TrialGradientOptions {
  /** Initial pre-activations [B, N]. */
  x0: ArrayLike<number>;
  /** Control input on during the trial. */
  feedback: boolean;
  /**
   * Perturbations in force during the rollout: the cursor maps of a network that drives a plant (a
   * massless network is passed already seen through its map), never pushers (pass the realised pushes in
   * the batch instead).
   */
  perturbations?: readonly Perturbation[];
}

/** Reusable buffers for repeated calls with the same shapes (e.g. once per adaptation trial). */
export interface TrialGradientWork {
  /** The last rollout (reused by the next simulation). */
  ro?: Rollout;
  /** The gradient buffers; grads.wRec is the returned G. */
  grads?: Grads;
  /** The loss gradient's scratch buffers. */
  loss?: GradWorkspace;
}

/** G = -dL_trial/dW_rec ([N, N], the network's dtype; overwritten on the next call with the same `work`). */
export function trialGradient(net: Network, batch: TrialBatch, options: TrialGradientOptions, work: TrialGradientWork = {}): FArray {
  if (options.perturbations?.some((p) => p.push)) throw new ParameterError("perturbations", "must not push the hand: pass the realised pushes in the batch");
  work.ro = simulate(net, batch, { feedback: options.feedback, detachFeedback: true, x0: options.x0, reuse: work.ro, perturbations: options.perturbations });
  work.grads ??= zeroGrads(net);
  const none = { rateWeight: 0, paramWeight: 0, recWeight: 0 };
  work.loss = lossGradient(net, work.ro, work.grads, none, work.loss).work;
  // lossGradient differentiates mean(E^2) over the T+1 stored steps, trials and outputs.
  const scale = -(work.ro.e.length / 2);
  const g = work.grads.wRec;
  for (let i = 0; i < g.length; i++) g[i] *= scale;
  return g;
}
