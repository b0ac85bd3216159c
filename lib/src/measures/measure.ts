/**
 * The interface of a measurement that watches adaptation (adapt.Adapter) without taking part in it: it
 * sees every learning trial step by step and every test, and returns the columns it adds to their records.
 * The Adapter's own measurements (the comparison rule's alignment, the whole-trial gradient's alignment,
 * efficiency windows, the test gradient) are measures too (measures/); a user's measure, written in a
 * notebook cell or a plugin file and registered by name (measures/index.ts), attaches the same way.
 *
 * A measure must not change the network, the rollout or the rule: with or without it, a run gives the same
 * weights bit for bit (lib/test/measures.test.ts checks this for every built-in one).
 */
import type { Tensor } from "../checkpoint";
import type { FArray } from "../kernels";
import type { Network, Rollout } from "../network";
import type { TrialContext } from "../rules";
import type { TrialBatch } from "../task";

/** What a measure sees of a learning trial. Everything in it is read-only for the measure. */
export interface TrialView {
  /** The network as the learner sees it (Adapter.seen): net.params.wRec is the weights being adapted. */
  net: Network;
  /** The trial's rollout, filled up to the current step. */
  ro: Rollout;
  /** The trial (batch of 1), perturbed as the learner sees it. */
  batch: TrialBatch;
  /** [N] the trial's initial pre-activations. */
  x0: FArray;
  /** Trials done before this one. */
  trial: number;
  /** What the rules were told about the trial (its target, the run's seed, the go step). */
  context: TrialContext;
  /** [N, N] W_rec at the trial's start. */
  wStart: FArray;
  /** The learning rate applied (W_rec += lr dw_k). */
  lr: number;
  /**
   * [N, N] sum of the rule's unscaled dw_k over the steps so far (float64), kept by the Adapter when a
   * measure asks for it (Measure.usesSummedUpdate), else null.
   */
  summed: Float64Array | null;
}

/** What a measure carries across trials, for Adapter.save and resume: plain JSON and named tensors. */
export interface MeasureState {
  /** JSON values. */
  metrics?: Record<string, unknown>;
  /** Arrays, by name. */
  tensors?: Record<string, Tensor>;
}

/**
 * A measurement attached to an Adapter. Every method is optional; the Adapter calls them in this order in
 * each trial: startTrial, then per step k beforeUpdate(k) and afterUpdate(k, dw), then endTrial.
 */
export interface Measure {
  /** Lower-case name (a registered measure's registry name). */
  readonly name: string;
  /** The trial-record columns it fills, in order: every trial record has them (NaN where it measured nothing). */
  readonly trialColumns?: readonly string[];
  /** The test-record columns it fills. */
  readonly testColumns?: readonly string[];
  /** Ask the Adapter to keep TrialView.summed (sum_k dw_k): one extra pass over W_rec's size per step. */
  readonly usesSummedUpdate?: boolean;
  /** Start of a trial, after the rule's reset (step 0 of the rollout exists). */
  startTrial?(view: TrialView): void;
  /** After step k's state (x_{k+1}, e_{k+1}) exists and before the rule's update: wRec holds the weights used so far. */
  beforeUpdate?(k: number, view: TrialView): void;
  /** After the update, with the rule's unscaled dw_k (asking for it costs the rule's lastUpdate at every step). */
  afterUpdate?(k: number, dw: FArray): void;
  /**
   * End of the trial, after the feedback rule: `updateNorm` is |W_rec(after) - W_rec(before)|_F and `done` the
   * trials done now. Returns its trial columns' values.
   */
  endTrial?(view: TrialView, updateNorm: number, done: number): Record<string, number> | void;
  /** At a test (feedback off, the whole test set): its rollout and the trials done. Returns its test columns' values. */
  test?(ro: Rollout, done: number): Record<string, number> | void;
  /** What it carries across trials (for Adapter.save). */
  saveState?(): MeasureState;
  /** Restores saveState's result (Adapter.resume), with the trial and test logs already restored. */
  loadState?(state: MeasureState): void;
}
