/**
 * Generalization after adaptation (an extension): the test error, feedback off, on reaches the
 * adaptation never trained, under the same rotation. Adaptation trains on the 8 centre-out targets;
 * the untrained reaches are the 8 targets half-way between them (of 16 at 22.5° spacing) and random
 * reaches across the workspace. The generalization gap is the error on untrained reaches minus the error
 * on the 8 trained targets.
 */
import { Network, simulate, taskLoss } from "../network";
import { Rng } from "../rng";
import { ReachConfig, TrialBatch, centreOut, centreOutAll, randomReaches, rotate } from "../task";
import { integer } from "../validate";

/** The three test sets of the generalization analysis, all rotated by the same angle. */
export interface GeneralizationSets {
  /** The 8 centre-out targets adaptation trains on, rotated. */
  trained: TrialBatch;
  /** The 8 targets half-way between them (odd targets of 16 at 22.5°), rotated. */
  between: TrialBatch;
  /** Random reaches across the workspace (start and end uniform, SPEC §3.1), rotated. */
  random: TrialBatch;
}

/** The three test sets at a rotation; `random` reaches come from stream "generalization" of `seed`. */
export function generalizationSets(rotationDeg: number, options: { randomReaches?: number; seed?: number; reach?: Partial<ReachConfig> } = {}): GeneralizationSets {
  const reach = options.reach ?? {};
  const n = integer("randomReaches", options.randomReaches ?? 100, 1);
  const odd = Array.from({ length: 8 }, (_, i) => 2 * i + 1);
  return {
    trained: rotate(centreOutAll({ ...reach, nTargets: 8 }), rotationDeg),
    between: rotate(centreOut(odd, { ...reach, nTargets: 16 }), rotationDeg),
    random: rotate(randomReaches(n, Rng.seeded(options.seed ?? 1, "generalization"), reach), rotationDeg),
  };
}

/** Test errors (mean squared position error) on the three generalization sets, and the gaps. */
export interface GeneralizationErrors {
  /** On the 8 trained targets. */
  trained: number;
  /** On the 8 targets half-way between them. */
  between: number;
  /** On the random reaches. */
  random: number;
  /** between - trained. */
  gapBetween: number;
  /** random - trained. */
  gapRandom: number;
}

/** Test errors (network.taskLoss, feedback off unless asked) of a network on the three sets; initial states from stream "eval-init" of `seed`. */
export function generalizationErrors(net: Network, sets: GeneralizationSets, options: { feedback?: boolean; seed?: number } = {}): GeneralizationErrors {
  const err = (b: TrialBatch) => taskLoss(simulate(net, b, { feedback: options.feedback ?? false, init: Rng.seeded(options.seed ?? 1, "eval-init") }));
  const trained = err(sets.trained);
  const between = err(sets.between);
  const random = err(sets.random);
  return { trained, between, random, gapBetween: between - trained, gapRandom: random - trained };
}
