/**
 * The interface of rules that let the feedback weights W_fb learn while W_rec adapts (issue 23, item 4):
 * the paper keeps W_fb fixed; strong-feedback deep feedback control (Meulemans et al. 2022) lets forward
 * and feedback weights learn at the same time with local rules. A feedback rule runs beside the learning
 * rule in every learning trial (Adapter, AdaptConfig.feedbackRule); the control input and the local rules'
 * learning signal (W_fb e) both use the W_fb it leaves.
 *
 * Per trial the adaptation loop calls `reset`, then at every step `perturbDrive(k, drive)` (if the rule
 * has it) before the step k -> k+1 and `observe(k)` after it, and at the end of the trial `endTrial`,
 * which changes W_fb in place. W_fb changes between trials only, so that within a trial the control
 * input and the learning signal use the same W_fb.
 */
import { FArray } from "../kernels";
import { Network, Rollout } from "../network";
import { TrialContext } from "../rules/rule";

/** A learning rule for the feedback weights W_fb ([N, nOut], row-major). */
export interface FeedbackRule {
  /** e.g. "noise_mirror". */
  readonly name: string;
  /** Start of a trial: bind to the network (as the learner sees it, cursor map included) and its rollout. */
  reset(net: Network, ro: Rollout, context: TrialContext): void;
  /**
   * Optional: adds what the rule injects into the units' drives at step k (trial 0's W_rec r_k, [N]),
   * before the step k -> k+1 runs (e.g. exploration noise).
   */
  perturbDrive?(k: number, drive: FArray): void;
  /** After the step k -> k+1 (x_{k+1}, r_{k+1}, v_{k+1}, e_{k+1} of trial 0 exist). */
  observe(k: number): void;
  /**
   * End of the trial: changes `wFb` in place (entries where `mask` is 0 stay 0) and returns |dW_fb|_F.
   */
  endTrial(wFb: FArray, mask: FArray): number;
  /** Optional: a plain-JSON snapshot of state that spans trials, for resume. */
  saveState?(): unknown;
  /** Optional, with `saveState`: restores it. */
  loadState?(state: unknown): void;
}
