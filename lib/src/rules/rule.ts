/**
 * The interface every online learning rule implements (SPEC §6.3). Within a trial the adaptation loop
 * advances the network one step (k -> k+1), then asks the rule to advance its traces and to add its
 * update for the current error e_{k+1} into a buffer; W_rec <- W_rec + lr * dw_k before the next step.
 * Rules learn from trial 0 of the rollout (the reference's "batch element 0").
 */
import { FArray, alignedArray } from "../kernels";
import { Network, Rollout } from "../network";

/** What the adaptation loop tells a rule about the trial it starts (LearningRule.reset's third argument). */
export interface TrialContext {
  /** Trials done before this one in the run (0 for the first). */
  trial: number;
  /** The target index of trial 0 of the batch (targets.ts numbering). */
  targetId: number;
  /** The run's seed (AdaptConfig.seed), so that a rule's own random draws can be reproducible and resumable. */
  seed: number;
  /**
   * The go step of trial 0 (task.TrialBatch.go: the first step without the hold signal), so that a rule can
   * treat the preparatory period and the movement differently. Absent when the caller does not know it.
   */
  go?: number;
}

/**
 * An online learning rule for W_rec. The adaptation loop calls `reset` at the start of each trial, then at
 * every step `advance(k)` and `accumulate(k, ...)` (or `accumulateWithDrive`). Register one with
 * `registerRule` to use it everywhere a built-in rule goes.
 */
export interface LearningRule {
  /** e.g. "rflo", "bptt". */
  readonly name: string;
  /** Start of a trial: bind to the network and its rollout (at step 0) and clear all traces. */
  reset(net: Network, ro: Rollout, context?: TrialContext): void;
  /** Include step k -> k+1 (x_{k+1}, r_k, ...) in the traces. Call once per step, before `accumulate`. */
  advance(k: number): void;
  /**
   * Adds scale * dw_k into `out` ([N, N], row-major like W_rec), where dw_k is the rule's update
   * direction for the current error e_{k+1} (a descent direction: W_rec += lr * dw_k). Returns |dw_k|_F.
   */
  accumulate(k: number, out: FArray, scale: number): number;
  /**
   * Optional: `accumulate` fused with the next step's recurrent drive. The same update into `out`
   * (W_rec itself, in the adaptation loop), and drive = out · next ([N], next = r_{k+1} of trial 0) from
   * the updated `out`, computed in the same pass over it, so that the next forward step needs no pass of
   * its own over W_rec (network.stepRollout's `drive`). Returns |dw_k|_F.
   */
  accumulateWithDrive?(k: number, out: FArray, scale: number, next: FArray, drive: FArray): number;
  /**
   * Writes the unscaled dw_k of the last `accumulate` into `out` (overwriting it), without touching the
   * rule's state: for alignment measurements beside a learning update that `accumulate` applied itself.
   */
  lastUpdate(out: FArray): void;
  /**
   * Optional, for rules that learn from their own perturbations of the dynamics (node perturbation): adds
   * to `drive` ([N], W_rec r_k of trial 0, computed by the adaptation loop) what the rule injects into the
   * units' drives at step k (e.g. noise), before the step k -> k+1 runs. Called before `advance(k)`.
   */
  perturbDrive?(k: number, drive: FArray): void;
  /**
   * Optional, for rules with state that spans trials (e.g. a reward baseline): a plain-JSON snapshot that
   * Adapter.save stores, and `loadState` restores on resume, so that a resumed run ends as an uninterrupted one.
   */
  saveState?(): unknown;
  /** Optional, with `saveState`: restores the snapshot it returned (on resume, before the next trial's `reset`). */
  loadState?(state: unknown): void;
}

/** Which matrix carries the error to the units: the learned feedback weights, or W_out^T ("_t" rules). */
export type ErrorProjection = "feedback" | "transpose";

/** s = P e_{k+1} for trial 0, with P = W_fb (feedback) or W_out^T (transpose); written into `s` [N]. */
export function projectError(net: Network, ro: Rollout, k: number, projection: ErrorProjection, s: FArray): void {
  const { N, nOut } = net.config;
  const e = ro.e;
  const at = (k + 1) * ro.B * nOut; // trial 0 of step k+1
  if (projection === "feedback" && nOut === 2) {
    // The reaching task's case, with the error hoisted out of the loop (same arithmetic as below).
    const w = net.params.wFb;
    const e0 = e[at];
    const e1 = e[at + 1];
    for (let i = 0; i < N; i++) s[i] = w[2 * i] * e0 + w[2 * i + 1] * e1;
  } else if (projection === "feedback") {
    const w = net.params.wFb;
    for (let i = 0; i < N; i++) {
      let v = 0;
      for (let o = 0; o < nOut; o++) v += w[i * nOut + o] * e[at + o];
      s[i] = v;
    }
  } else {
    const w = net.params.wOut;
    for (let i = 0; i < N; i++) {
      let v = 0;
      for (let o = 0; o < nOut; o++) v += w[o * N + i] * e[at + o];
      s[i] = v;
    }
  }
}

/** A zeroed array of the same precision as `like`, starting on a cache line (kernels.alignedArray). */
export function newArray(like: FArray, n: number): FArray {
  return alignedArray(like instanceof Float64Array ? "float64" : "float32", n);
}
