/**
 * Kinematics of reaches: the hand's speed over the trial, and how far a reach strays sideways from the straight line to its target: the signed perpendicular
 * distance of the hand from the start-target line. Positive is to the left of the direction of travel
 * (counter-clockwise), the side a curl field with positive gain pushes the hand to. A force-field
 * after-effect shows as a deviation of the opposite sign once the field is removed.
 */
import { TrialBatch } from "../task";
import { integer, ParameterError } from "../validate";

/** Signed sideways distance of hand paths from the start-target line, as `lateralDeviation` returns it. */
export interface LateralDeviation {
  /** [B] the signed perpendicular distance of largest size along each trial's path. */
  peak: Float64Array;
  /** Mean of `peak` over the trials. */
  mean: number;
  /** [T+1] mean over trials of the signed distance at each step. */
  overTime: Float64Array;
}

/**
 * The lateral deviation of hand paths `hand` ([T+1, B, 2], `network.handPositions`) from the straight
 * line between each trial's start and the target's final position (`batch.position` at T-1, so rotated
 * targets count as rotated).
 */
export function lateralDeviation(hand: Float64Array, batch: TrialBatch): LateralDeviation {
  const { T, B } = batch;
  integer("hand.length", hand.length, (T + 1) * B * 2, (T + 1) * B * 2);
  const peak = new Float64Array(B);
  const overTime = new Float64Array(T + 1);
  for (let b = 0; b < B; b++) {
    const sx = batch.start[2 * b];
    const sy = batch.start[2 * b + 1];
    const dx = batch.position[((T - 1) * B + b) * 2] - sx;
    const dy = batch.position[((T - 1) * B + b) * 2 + 1] - sy;
    const len = Math.hypot(dx, dy);
    if (!(len > 0)) throw new ParameterError(`batch trial ${b}`, "has no displacement: its lateral deviation is undefined");
    for (let k = 0; k <= T; k++) {
      const px = hand[(k * B + b) * 2] - sx;
      const py = hand[(k * B + b) * 2 + 1] - sy;
      const d = (dx * py - dy * px) / len; // z of (unit direction) x (hand - start): + is to the left
      overTime[k] += d / B;
      if (Math.abs(d) > Math.abs(peak[b])) peak[b] = d;
    }
  }
  return { peak, mean: peak.reduce((s, v) => s + v, 0) / B, overTime };
}

/**
 * How curved the paths are: the signed perpendicular distance of each hand path from its own chord, the
 * straight line from its start to where the hand is at the last step (+ to the left of the direction of
 * travel). A straight path, even one turned away from its target (a curl field on the massless hand, a
 * rotation), has none; a path that bows out and comes back (a curl field on a hand with mass) has some.
 * Trials whose hand ends where it started (a chord of length 0) give NaN.
 */
export function pathCurvature(hand: Float64Array, T: number, B: number): {
  /** [B] the signed distance from the chord of largest size along each path. */
  peak: Float64Array;
  /** Mean of |peak| over the trials with a chord. */
  meanAbs: number;
  /** [B] the chord's length. */
  chord: Float64Array;
} {
  integer("hand.length", hand.length, (T + 1) * B * 2, (T + 1) * B * 2);
  const peak = new Float64Array(B);
  const chord = new Float64Array(B);
  let sum = 0;
  let n = 0;
  for (let b = 0; b < B; b++) {
    const sx = hand[2 * b];
    const sy = hand[2 * b + 1];
    const dx = hand[(T * B + b) * 2] - sx;
    const dy = hand[(T * B + b) * 2 + 1] - sy;
    const len = Math.hypot(dx, dy);
    chord[b] = len;
    if (!(len > 0)) {
      peak[b] = NaN;
      continue;
    }
    for (let k = 1; k < T; k++) {
      const d = (dx * (hand[(k * B + b) * 2 + 1] - sy) - dy * (hand[(k * B + b) * 2] - sx)) / len;
      if (Math.abs(d) > Math.abs(peak[b])) peak[b] = d;
    }
    sum += Math.abs(peak[b]);
    n++;
  }
  return { peak, meanAbs: n ? sum / n : NaN, chord };
}

/**
 * [T+1] mean over trials of the hand speed |v_k| (`rollout.v`, network output plus pushes); with
 * `before`, also the mean speed over the steps k < before[b] of each trial b (e.g. its go step), the
 * hand's drift while it should hold still.
 */
export function meanSpeed(
  v: ArrayLike<number>,
  T: number,
  B: number,
  before?: ArrayLike<number>,
): {
  /** [T+1] mean hand speed over trials at each step. */
  overTime: Float64Array;
  /** Mean speed over the steps before each trial's `before` step (NaN without `before`, or with no such step). */
  beforeMean: number;
} {
  integer("v.length", v.length, (T + 1) * B * 2, (T + 1) * B * 2);
  if (before !== undefined) integer("before.length", before.length, B, B);
  const overTime = new Float64Array(T + 1);
  let sum = 0;
  let count = 0;
  for (let k = 0; k <= T; k++) {
    for (let b = 0; b < B; b++) {
      const s = Math.hypot(v[(k * B + b) * 2], v[(k * B + b) * 2 + 1]);
      overTime[k] += s / B;
      if (before && k < before[b]) {
        sum += s;
        count++;
      }
    }
  }
  return { overTime, beforeMean: count ? sum / count : NaN };
}

/** Where reaches end relative to their targets, as `endpoints` returns it. */
export interface Endpoints {
  /** [B] signed angle (degrees, + counter-clockwise) from the start->target direction to the start->hand direction at the last step. */
  angleDeg: Float64Array;
  /** [B] distance of the hand's last position from the start, over the start-target distance. */
  lengthRatio: Float64Array;
  /** Mean of `angleDeg` over the trials. */
  meanAngleDeg: number;
  /** Mean of `lengthRatio` over the trials. */
  meanLengthRatio: number;
}

/**
 * Where the reaches end, relative to their targets (`batch.position` at T-1, so rotated targets count
 * as rotated): the angle by which the reach is turned and how long it is, per trial and on average.
 */
export function endpoints(hand: Float64Array, batch: TrialBatch): Endpoints {
  const { T, B } = batch;
  integer("hand.length", hand.length, (T + 1) * B * 2, (T + 1) * B * 2);
  const angleDeg = new Float64Array(B);
  const lengthRatio = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    const sx = batch.start[2 * b];
    const sy = batch.start[2 * b + 1];
    const tx = batch.position[((T - 1) * B + b) * 2] - sx;
    const ty = batch.position[((T - 1) * B + b) * 2 + 1] - sy;
    const hx = hand[(T * B + b) * 2] - sx;
    const hy = hand[(T * B + b) * 2 + 1] - sy;
    const len = Math.hypot(tx, ty);
    if (!(len > 0)) throw new ParameterError(`batch trial ${b}`, "has no displacement: its endpoint angle is undefined");
    angleDeg[b] = (Math.atan2(tx * hy - ty * hx, tx * hx + ty * hy) * 180) / Math.PI;
    lengthRatio[b] = Math.hypot(hx, hy) / len;
  }
  const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / B;
  return { angleDeg, lengthRatio, meanAngleDeg: mean(angleDeg), meanLengthRatio: mean(lengthRatio) };
}

/**
 * The share of the squared position error (`rollout.e`, [T+1, B, 2]) that falls on the steps k < before[b]
 * of each trial b (e.g. its go step), summed over trials: 0 when all of the error is in the movement.
 */
export function errorShareBefore(e: ArrayLike<number>, T: number, B: number, before: ArrayLike<number>): number {
  integer("e.length", e.length, (T + 1) * B * 2, (T + 1) * B * 2);
  integer("before.length", before.length, B, B);
  let early = 0;
  let all = 0;
  for (let k = 0; k <= T; k++) {
    for (let b = 0; b < B; b++) {
      const e2 = e[(k * B + b) * 2] ** 2 + e[(k * B + b) * 2 + 1] ** 2;
      all += e2;
      if (k < before[b]) early += e2;
    }
  }
  if (!(all > 0)) throw new ParameterError("e", "has no error at all: the share before go is undefined");
  return early / all;
}
