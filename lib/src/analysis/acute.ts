/**
 * The acute response to a visuomotor rotation (SPEC §5.2, result F1): fixed networks run on rotated
 * centre-out reaches with the control input on or off, and no plasticity. Everything is one forward pass
 * per (angle, condition); every pass starts from the same initial state, drawn afresh from the
 * `eval-init` stream of `seed` (the stream the pre-training evaluation uses), so conditions differ only in
 * network, feedback and rotation.
 */
import { Network, Rollout, handPositions, simulate, trialErrors } from "../network";
import { TrialBatch, centreOutAll, rotate } from "../task";
import { Rng } from "../rng";
import { finite, integer, ParameterError } from "../validate";
import { Perturbation, duringRollout, makePerturbation, perturbTargets } from "../perturbation";
import { cursorMap, handFromCursor } from "../cursor";
import { Named } from "../registry";

/** One way of running a network: which network, and whether its control input is on. */
export interface AcuteCondition {
  /** Name used in tables and legends (e.g. "fb network, feedback on"); unique within a call. */
  label: string;
  /** The network to run (not changed). */
  network: Network;
  /** Control input c_k = (M o W_fb) e_k added to the units (true) or not (false). */
  feedback: boolean;
}

/** Options of `acuteResponses`. */
export interface AcuteOptions {
  /** Unrotated trials (default: the 8 centre-out reaches, `task.centreOutAll()`). */
  batch?: TrialBatch;
  /** Seed of the `eval-init` stream that every rollout's initial state is drawn from (default 1). */
  seed?: number;
  /** Gain of a curl force field acting during every rollout (`SimulateOptions.curlGain`; default 0: none). */
  curlGain?: number;
  /**
   * Perturbations (perturbation.ts, built-in or a user's) in force during every rollout, after the
   * angle's target rotation: their `targets` transform the trials, their `push` acts on the hand at every
   * step, their `cursor` maps the hand to what it shows (cursor.ts). Given as objects or as stored
   * { name, options } forms.
   */
  perturbations?: (Perturbation | Named)[];
}

/** What one condition does at one rotation angle. */
export interface AcuteResponse {
  /** Counter-clockwise rotation of the targets, in degrees. */
  angle: number;
  /** The condition's label. */
  label: string;
  /** Whether the control input was on. */
  feedback: boolean;
  /** The rotated trials. */
  batch: TrialBatch;
  /** The forward pass on the rotated trials. */
  rollout: Rollout;
  /** [B] mean squared position error of each trial, over all T+1 stored steps (`network.trialErrors`). */
  trialErrors: Float64Array;
  /** Mean of `trialErrors` over the trials. */
  error: number;
  /** [T+1] mean over trials of the position error's length |e_k| (|e_0| = 0: E[0] is stored as 0). */
  errorNorm: Float64Array;
  /**
   * [T] mean over trials and units of |c_k,i|, the control input the units actually receive at step k:
   * all zeros when feedback is off (the rollout still computes c then, but does not apply it).
   */
  controlSize: Float64Array;
  /** [T+1, B, 2] hand positions (under a cursor map, recovered from the cursor's: `cursor.handFromCursor`). */
  hand: Float64Array;
  /** [T+1, B, 2] cursor positions, what the hand shows (`network.handPositions` of the rollout; the hand's without a cursor map). */
  cursor: Float64Array;
}

/**
 * Runs every condition on the trials rotated by every angle, angle-major: the result for angle index a
 * and condition index j is element a * conditions.length + j.
 */
export function acuteResponses(conditions: AcuteCondition[], angles: number[], options: AcuteOptions = {}): AcuteResponse[] {
  if (!Array.isArray(conditions) || conditions.length === 0) throw new ParameterError("conditions", "must be a non-empty array");
  if (!Array.isArray(angles) || angles.length === 0) throw new ParameterError("angles", "must be a non-empty array");
  const labels = new Set<string>();
  conditions.forEach((c, j) => {
    if (typeof c.label !== "string" || c.label === "") throw new ParameterError(`conditions[${j}].label`, "must be a non-empty string");
    if (labels.has(c.label)) throw new ParameterError(`conditions[${j}].label`, `must be unique, ${JSON.stringify(c.label)} appears twice`);
    labels.add(c.label);
    if (typeof c.feedback !== "boolean") throw new ParameterError(`conditions[${j}].feedback`, `must be a boolean, got ${c.feedback}`);
  });
  angles.forEach((a, i) => {
    finite(`angles[${i}]`, a);
    if (angles.indexOf(a) !== i) throw new ParameterError(`angles[${i}]`, `must be unique, ${a} appears twice`);
  });
  const seed = integer("seed", options.seed ?? 1, 0);
  const base = options.batch ?? centreOutAll();
  const curlGain = finite("curlGain", options.curlGain ?? 0);
  // A stored form has options and no hooks; an object with targets or push is a perturbation already.
  const perturbations = (options.perturbations ?? []).map((p) => ("targets" in p || "push" in p || "cursor" in p ? (p as Perturbation) : makePerturbation(p as Named)));
  const during = duringRollout(perturbations);
  const map = cursorMap(perturbations);

  const out: AcuteResponse[] = [];
  for (const angle of angles) {
    const batch = perturbTargets(angle === 0 ? base : rotate(base, angle), perturbations);
    for (const c of conditions) {
      const rollout = simulate(c.network, batch, { feedback: c.feedback, init: Rng.seeded(seed, "eval-init"), curlGain, perturbations: during });
      const errs = trialErrors(rollout);
      const cursor = handPositions(rollout, batch);
      out.push({
        angle,
        label: c.label,
        feedback: c.feedback,
        batch,
        rollout,
        trialErrors: errs,
        error: errs.reduce((s, v) => s + v, 0) / errs.length,
        errorNorm: meanErrorNorm(rollout),
        controlSize: meanControlSize(rollout),
        hand: handFromCursor(cursor, batch.start, map),
        cursor,
      });
    }
  }
  return out;
}

/** The response of condition `label` at `angle`; throws when there is none. */
export function responseAt(responses: AcuteResponse[], angle: number, label: string): AcuteResponse {
  const r = responses.find((x) => x.angle === angle && x.label === label);
  if (!r) throw new ParameterError("angle, label", `no response for angle ${angle} and label ${JSON.stringify(label)}`);
  return r;
}

/**
 * One row per angle (in first-seen order): `angle`, then each condition's mean squared position error
 * under its label.
 */
export function errorsByAngle(responses: AcuteResponse[]): Array<Record<string, number>> {
  const rows = new Map<number, Record<string, number>>();
  for (const r of responses) {
    if (!rows.has(r.angle)) rows.set(r.angle, { angle: r.angle });
    rows.get(r.angle)![r.label] = r.error;
  }
  return [...rows.values()];
}

/** [T+1] mean over trials of |e_k|. */
export function meanErrorNorm(ro: Rollout): Float64Array {
  const { T, B, nOut } = ro;
  const out = new Float64Array(T + 1);
  for (let k = 0; k <= T; k++) {
    let s = 0;
    for (let b = 0; b < B; b++) {
      let sq = 0;
      for (let d = 0; d < nOut; d++) sq += ro.e[(k * B + b) * nOut + d] ** 2;
      s += Math.sqrt(sq);
    }
    out[k] = s / B;
  }
  return out;
}

/** [T] mean over trials and units of |c_k,i| as applied (zeros when the rollout ran with feedback off). */
export function meanControlSize(ro: Rollout): Float64Array {
  const { T, B, N } = ro;
  const out = new Float64Array(T);
  if (!ro.feedback) return out;
  for (let k = 0; k < T; k++) {
    let s = 0;
    const c = ro.c.subarray(k * B * N, (k + 1) * B * N);
    for (let i = 0; i < c.length; i++) s += Math.abs(c[i]);
    out[k] = s / c.length;
  }
  return out;
}
