/**
 * The reaching task (SPEC §3, §5.1): random reaches and centre-out reaches with
 * a sigmoidal position profile, their velocity targets, the 3 network input
 * channels, optional velocity pushes (§3.6) and the visuomotor rotation.
 *
 * Every generator is a pure function of (parameters, rng). Arrays are
 * time-major and row-major: entry (t, b, c) of a [T, B, C] array is at
 * (t * B + b) * C + c. Data are float64, as in the reference's numpy generator.
 */
import { Rng } from "./rng";
import { finite, integer, oneOf, positive, ParameterError } from "./validate";

/**
 * The timing and geometry of the reach (all tasks). Defaults: `DEFAULT_REACH`; `reachConfig(overrides)` validates
 * one.
 */
export interface ReachConfig {
  /** Steps per trial (reference: 125). */
  T: number;
  /** Step size in seconds (0.01). */
  dt: number;
  /** Step of peak speed, "go_on" in the reference (70; the reference CLI fixes it, so there is no instructed delay: SPEC §3.3). */
  goTime: number;
  /** Half-length of the sigmoid ramp in steps ("go_to_peak", 50): movement runs over [goTime-50, goTime+50). */
  rampHalfWidth: number;
  /** Steepness of the sigmoid ("vel", 10). */
  steepness: number;
  /** Step at which the target cue (input channels 0-1) turns on ("stim_on", 20). */
  stimOn: number;
  /** Random reaches draw start and end from U(-workspace, workspace)^2 (6). */
  workspace: number;
  /** Centre-out target radius (5). */
  radius: number;
  /** Number of centre-out targets, at angles 2*pi*i/nTargets (8). */
  nTargets: number;
  /**
   * The reference velocity fed to the error integrator lags the target velocity by this many steps.
   * The reference code uses 1 for training batches and 0 for its test sets (SPEC §3.4); we use 1
   * everywhere by default (DEVIATIONS.md, item 2).
   */
  referenceShift: number;
  /**
   * The instructed-delay variant (issue 14; absent in the paper's task): a preparatory period of a
   * per-trial length between the target cue and a go cue, and a 4th input channel carrying the go cue.
   * Absent (the default), the task is the paper's, with 3 input channels.
   */
  preparation?: PreparationConfig;
}

/** The preparatory period of the instructed-delay variant. */
export interface PreparationConfig {
  /** The go cue comes delayMin..delayMax steps after the target cue (stimOn), a uniform integer per trial (30, 70: 300-700 ms). */
  delayMin: number;
  /** Latest go cue, in steps after stimOn (70); see delayMin. */
  delayMax: number;
  /** Steps the go-cue pulse on input channel 3 lasts (10); its height is the hold signal's. */
  goCueSteps: number;
  /** Delay of every trial in the fixed centre-out test sets, which draw nothing (50). */
  testDelay: number;
}

/**
 * The paper's reach: T 125 steps of 10 ms, peak speed at step 70, 8 centre-out targets at radius 5, random reaches in a
 * workspace of ±6, reference shift 1.
 */
export const DEFAULT_REACH: Readonly<ReachConfig> = Object.freeze({
  T: 125,
  dt: 0.01,
  goTime: 70,
  rampHalfWidth: 50,
  steepness: 10,
  stimOn: 20,
  workspace: 6,
  radius: 5,
  nTargets: 8,
  referenceShift: 1,
});

/** Velocity pushes of the "random_pushed" task (SPEC §3.6). Defaults: `DEFAULT_PUSH`. */
export interface PushConfig {
  /** Per trial and per output dimension, probability of one push ("pratio", 0.25). */
  probability: number;
  /** Added velocity during the push (10). */
  amplitude: number;
  /** The push covers steps [c - halfWidth, c + halfWidth) (5). */
  halfWidth: number;
  /** Push centre c is uniform over the integers in [onsetMin, onsetMax) (20, 190); pushes past T are cut off. */
  onsetMin: number;
  /** End (exclusive) of the range of push centres, in steps (190); see onsetMin. */
  onsetMax: number;
}

/**
 * The reference's pushes: probability 0.25 per trial and output dimension, amplitude 10, 10 steps long, centred in
 * [20, 190).
 */
export const DEFAULT_PUSH: Readonly<PushConfig> = Object.freeze({
  probability: 0.25,
  amplitude: 10,
  halfWidth: 5,
  onsetMin: 20,
  onsetMax: 190,
});

/**
 * The instructed-delay variant's preparatory period: go 30-70 steps after the target cue, a 10-step go cue, test-set
 * delay 50.
 */
export const DEFAULT_PREPARATION: Readonly<PreparationConfig> = Object.freeze({ delayMin: 30, delayMax: 70, goCueSteps: 10, testDelay: 50 });

/**
 * Named variants of the reach (all tasks): "standard" is the paper's; "instructed_delay" adds the
 * preparatory period with the default range and T = 200, so that the latest go (step 90) leaves room
 * for the 100-step movement.
 */
export const REACH_VARIANTS = {
  /** The paper's task: `DEFAULT_REACH` unchanged. */
  standard: {} as Partial<ReachConfig>,
  /** A preparatory period (`DEFAULT_PREPARATION`), a go-cue input channel and T = 200. */
  instructed_delay: { T: 200, preparation: { ...DEFAULT_PREPARATION } } as Partial<ReachConfig>,
} as const;
/** The name of a reach variant: "standard" or "instructed_delay". */
export type ReachVariant = keyof typeof REACH_VARIANTS;
/** The names of `REACH_VARIANTS`, in order. */
export const REACH_VARIANT_NAMES = Object.keys(REACH_VARIANTS) as ReachVariant[];

/** The reach config of a named variant, with `overrides` on top (validated). */
export function reachVariant(name: ReachVariant, overrides: Partial<ReachConfig> = {}): ReachConfig {
  const v = REACH_VARIANTS[oneOf("variant", name, REACH_VARIANT_NAMES)];
  return reachConfig({ ...v, ...overrides, preparation: overrides.preparation ?? v.preparation });
}

/** The name of the variant a reach config belongs to. */
export function variantOf(c: ReachConfig): ReachVariant {
  return c.preparation ? "instructed_delay" : "standard";
}

/**
 * The task names `makeTrials` accepts: random reaches, random reaches with velocity pushes, and centre-out reaches.
 */
export const TASK_NAMES = ["random", "random_pushed", "centre_out"] as const;
/** A task name: "random", "random_pushed" or "centre_out". */
export type TaskName = (typeof TASK_NAMES)[number];

/** Number of input channels the network sees in the paper's task: target displacement (2) and the hold signal (1). */
export const N_INPUTS = 3;
/** Input channels of a reach config: 3, plus the go cue (channel 3) in the instructed-delay variant. */
export function inputChannels(c: ReachConfig): number {
  return c.preparation ? N_INPUTS + 1 : N_INPUTS;
}
/** Number of network outputs: the hand's x and y velocity. */
export const N_OUTPUTS = 2;

/**
 * A batch of B trials: the network's inputs, the targets and the reach geometry, time-major float64 arrays (see the
 * module comment for the layout).
 */
export interface TrialBatch {
  /** The task the trials were drawn from ("random_pushed" once pushes are added). */
  task: TaskName;
  /** The reach config the trials were made with. */
  config: ReachConfig;
  /** Steps per trial. */
  T: number;
  /** Number of trials. */
  B: number;
  /** Input channels: 3, or 4 in the instructed-delay variant. */
  nIn: number;
  /**
   * [T, B, nIn] network input: channels 0-1 = end - start from stimOn on, channel 2 = hold signal
   * before the go step; in the instructed-delay variant channel 3 = the go cue, on for goCueSteps from go.
   */
  inputs: Float64Array;
  /** [T, B, 2] target velocity (rotated when rotationDeg != 0). */
  velocity: Float64Array;
  /** [T, B, 2] target position (rotated about the start when rotationDeg != 0); for plots, not used by the network. */
  position: Float64Array;
  /** [T, B, 2] reference velocity for the error integrator: velocity shifted by config.referenceShift steps. */
  reference: Float64Array;
  /** [T, B, 2] external velocity pushes added to the network's output (zeros unless pushed). */
  pushes: Float64Array;
  /** [B, 2] start and (unrotated) end positions. */
  start: Float64Array;
  /** [B, 2] end positions of the reaches, before any rotation. */
  end: Float64Array;
  /** [B] centre-out target index, or -1 for random reaches. */
  targetId: Int32Array;
  /**
   * [B] the go step: the first step without the hold signal. The paper's task: goTime - rampHalfWidth
   * for every trial, where the movement ramp starts. Instructed delay: stimOn + the trial's delay, and
   * the ramp starts one step later, so the target velocity is exactly 0 at every step before go.
   */
  go: Int32Array;
  /** Counter-clockwise rotation applied to velocity, position and reference, in degrees. */
  rotationDeg: number;
}

/** Validates a partial config and fills in the defaults. */
export function reachConfig(overrides: Partial<ReachConfig> = {}): ReachConfig {
  const c: ReachConfig = { ...DEFAULT_REACH, ...overrides };
  integer("T", c.T, 1);
  positive("dt", c.dt);
  integer("rampHalfWidth", c.rampHalfWidth, 1);
  integer("goTime", c.goTime, c.rampHalfWidth, c.T - c.rampHalfWidth);
  positive("steepness", c.steepness);
  integer("stimOn", c.stimOn, 0, c.T);
  positive("workspace", c.workspace);
  positive("radius", c.radius);
  integer("nTargets", c.nTargets, 1);
  integer("referenceShift", c.referenceShift, 0, c.T);
  if (c.preparation === undefined) delete c.preparation;
  else {
    const p: PreparationConfig = { ...DEFAULT_PREPARATION, ...c.preparation };
    integer("preparation.delayMin", p.delayMin, 0);
    integer("preparation.delayMax", p.delayMax, p.delayMin);
    const need = c.stimOn + p.delayMax + 1 + 2 * c.rampHalfWidth;
    if (c.T < need) throw new ParameterError("T", `the instructed-delay task needs T >= stimOn + delayMax + 1 + 2*rampHalfWidth = ${need}, got ${c.T}`);
    integer("preparation.goCueSteps", p.goCueSteps, 1);
    integer("preparation.testDelay", p.testDelay, p.delayMin, p.delayMax);
    c.preparation = p;
  }
  return c;
}

function validPush(overrides: Partial<PushConfig>): PushConfig {
  const p: PushConfig = { ...DEFAULT_PUSH, ...overrides };
  if (!(p.probability >= 0 && p.probability <= 1)) {
    throw new ParameterError("push.probability", `must be in [0, 1], got ${p.probability}`);
  }
  finite("push.amplitude", p.amplitude);
  integer("push.halfWidth", p.halfWidth, 1);
  integer("push.onsetMin", p.onsetMin, 0);
  integer("push.onsetMax", p.onsetMax, p.onsetMin + 1);
  return p;
}

/** The sigmoidal position profile's fraction of the way covered at step t (0 before the ramp, 1 after). */
export function rampFraction(t: number, c: ReachConfig): number {
  return rampAt(t - (c.goTime - c.rampHalfWidth), c);
}

/** The fraction covered `i` steps after the ramp starts. */
function rampAt(i: number, c: ReachConfig): number {
  const width = 2 * c.rampHalfWidth;
  if (i < 0) return 0;
  if (i >= width) return 1;
  const xx = -1 + (2 * i) / width; // linspace(-1, 1, 2*halfWidth, endpoint=False)
  return 1 / (1 + Math.exp(-c.steepness * xx));
}

function emptyBatch(task: TaskName, c: ReachConfig, B: number): TrialBatch {
  const T = c.T;
  return {
    task,
    config: c,
    T,
    B,
    nIn: inputChannels(c),
    inputs: new Float64Array(T * B * inputChannels(c)),
    velocity: new Float64Array(T * B * 2),
    position: new Float64Array(T * B * 2),
    reference: new Float64Array(T * B * 2),
    pushes: new Float64Array(T * B * 2),
    start: new Float64Array(B * 2),
    end: new Float64Array(B * 2),
    targetId: new Int32Array(B).fill(-1),
    go: new Int32Array(B).fill(c.goTime - c.rampHalfWidth),
    rotationDeg: 0,
  };
}

/** Instructed delay: sets each trial's go step from `delays` (steps after stimOn). */
function setDelays(batch: TrialBatch, delays: ArrayLike<number>): void {
  const p = batch.config.preparation!;
  for (let b = 0; b < batch.B; b++) batch.go[b] = batch.config.stimOn + integer(`delays[${b}]`, delays[b], p.delayMin, p.delayMax);
}

/** Instructed delay: B delays drawn uniformly from [delayMin, delayMax], after every other draw of the generator. */
function drawDelays(batch: TrialBatch, rng: Rng): void {
  const p = batch.config.preparation;
  if (p) setDelays(batch, Array.from({ length: batch.B }, () => p.delayMin + rng.int(p.delayMax - p.delayMin + 1)));
}

/** Fills positions, velocities, reference and inputs from batch.start / batch.end. */
function fillTrajectories(batch: TrialBatch, holdSignal: number): TrialBatch {
  const { T, B, nIn, config: c } = batch;
  const frac = new Float64Array(T);
  const lag = c.preparation ? 1 : 0;
  let fracGo = NaN; // the go step `frac` was computed for: once for the paper's task, per go step otherwise
  for (let b = 0; b < B; b++) {
    const go = batch.go[b];
    if (go !== fracGo) for (let t = 0; t < T; t++) frac[t] = rampAt(t - go - lag, c);
    fracGo = go;
    for (let d = 0; d < 2; d++) {
      const s = batch.start[2 * b + d];
      const delta = batch.end[2 * b + d] - s;
      const at = (t: number) => (t * B + b) * 2 + d;
      for (let t = 0; t < T; t++) batch.position[at(t)] = s + frac[t] * delta;
      // np.gradient: central differences inside, one-sided at both ends.
      for (let t = 0; t < T; t++) {
        const lo = Math.max(t - 1, 0);
        const hi = Math.min(t + 1, T - 1);
        batch.velocity[at(t)] = hi === lo ? 0 : (batch.position[at(hi)] - batch.position[at(lo)]) / ((hi - lo) * c.dt);
      }
      for (let t = c.stimOn; t < T; t++) batch.inputs[(t * B + b) * nIn + d] = delta;
    }
    for (let t = 0; t < go; t++) batch.inputs[(t * B + b) * nIn + 2] = holdSignal;
    if (c.preparation) {
      for (let t = go; t < Math.min(go + c.preparation.goCueSteps, T); t++) batch.inputs[(t * B + b) * nIn + 3] = holdSignal;
    }
  }
  fillReference(batch);
  return batch;
}

function fillReference(batch: TrialBatch): void {
  const { T, B } = batch;
  const shift = batch.config.referenceShift;
  batch.reference.fill(0);
  batch.reference.set(batch.velocity.subarray(0, (T - shift) * B * 2), shift * B * 2);
}

/** B random reaches: start and end i.i.d. U(-workspace, workspace)^2 (SPEC §3.1). The hold signal is `workspace`. */
export function randomReaches(B: number, rng: Rng, config: Partial<ReachConfig> = {}): TrialBatch {
  integer("B", B, 1);
  const c = reachConfig(config);
  const batch = emptyBatch("random", c, B);
  for (let b = 0; b < B; b++) {
    batch.start[2 * b] = rng.uniformIn(-c.workspace, c.workspace);
    batch.start[2 * b + 1] = rng.uniformIn(-c.workspace, c.workspace);
    batch.end[2 * b] = rng.uniformIn(-c.workspace, c.workspace);
    batch.end[2 * b + 1] = rng.uniformIn(-c.workspace, c.workspace);
  }
  drawDelays(batch, rng);
  return fillTrajectories(batch, c.workspace);
}

/**
 * Centre-out reaches from (0, 0) to the given target indices (angle 2*pi*i/nTargets, radius `radius`).
 * The hold signal is `radius`. Instructed delay: `delays` per trial (default preparation.testDelay).
 */
export function centreOut(targetIds: ArrayLike<number>, config: Partial<ReachConfig> = {}, delays?: ArrayLike<number>): TrialBatch {
  const c = reachConfig(config);
  integer("targetIds.length", targetIds.length, 1);
  const ends = new Float64Array(2 * targetIds.length);
  for (let b = 0; b < targetIds.length; b++) {
    const id = integer(`targetIds[${b}]`, targetIds[b], 0, c.nTargets - 1);
    const angle = (2 * Math.PI * id) / c.nTargets;
    ends[2 * b] = c.radius * Math.cos(angle);
    ends[2 * b + 1] = c.radius * Math.sin(angle);
  }
  return reachesTo(ends, targetIds, c, delays);
}

/**
 * Reaches from the centre (0, 0) to arbitrary end points `ends` ([B, 2]), labelled `targetIds` ([B]):
 * the building block of target sets (targets.ts). The hold signal is config.radius, as for centre-out
 * reaches. Instructed delay: `delays` per trial (default preparation.testDelay).
 */
export function reachesTo(ends: ArrayLike<number>, targetIds: ArrayLike<number>, config: Partial<ReachConfig> = {}, delays?: ArrayLike<number>): TrialBatch {
  const c = reachConfig(config);
  integer("targetIds.length", targetIds.length, 1);
  if (ends.length !== 2 * targetIds.length) throw new ParameterError("ends", `must have 2 entries per trial (${2 * targetIds.length}), got ${ends.length}`);
  const batch = emptyBatch("centre_out", c, targetIds.length);
  for (let b = 0; b < targetIds.length; b++) {
    batch.targetId[b] = integer(`targetIds[${b}]`, targetIds[b], 0);
    batch.end[2 * b] = finite(`ends[${2 * b}]`, ends[2 * b]);
    batch.end[2 * b + 1] = finite(`ends[${2 * b + 1}]`, ends[2 * b + 1]);
  }
  if (c.preparation) {
    if (delays !== undefined && delays.length !== batch.B) throw new ParameterError("delays", `must have one entry per trial (${batch.B}), got ${delays.length}`);
    setDelays(batch, delays ?? new Array(batch.B).fill(c.preparation.testDelay));
  } else if (delays !== undefined) {
    throw new ParameterError("delays", "apply only to the instructed-delay variant (reach.preparation)");
  }
  return fillTrajectories(batch, c.radius);
}

/** All nTargets centre-out reaches, in target order (instructed delay: all with `delay`, default preparation.testDelay). */
export function centreOutAll(config: Partial<ReachConfig> = {}, delay?: number): TrialBatch {
  const c = reachConfig(config);
  const ids = Array.from({ length: c.nTargets }, (_, i) => i);
  return centreOut(ids, c, delay === undefined ? undefined : ids.map(() => delay));
}

/** B centre-out reaches to targets drawn uniformly from the nTargets (instructed delay: then B delays). */
export function centreOutRandom(B: number, rng: Rng, config: Partial<ReachConfig> = {}): TrialBatch {
  integer("B", B, 1);
  const c = reachConfig(config);
  const ids = Array.from({ length: B }, () => rng.int(c.nTargets));
  if (!c.preparation) return centreOut(ids, c);
  const p = c.preparation;
  return centreOut(ids, c, ids.map(() => p.delayMin + rng.int(p.delayMax - p.delayMin + 1)));
}

/**
 * Visuomotor rotation by `angleDeg` (SPEC §5.1): target velocity, position and reference turn
 * counter-clockwise by +angle about the start; the network's cue input is NOT rotated, so the
 * network must learn to produce R(angle) v* for the same cue. Returns a new batch.
 */
export function rotate(batch: TrialBatch, angleDeg: number): TrialBatch {
  finite("angleDeg", angleDeg);
  const phi = (angleDeg * Math.PI) / 180;
  const cos = Math.cos(phi);
  const sin = Math.sin(phi);
  const out: TrialBatch = {
    ...batch,
    velocity: new Float64Array(batch.velocity.length),
    position: new Float64Array(batch.position.length),
    reference: new Float64Array(batch.reference.length),
    rotationDeg: batch.rotationDeg + angleDeg,
  };
  const { T, B } = batch;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const i = (t * B + b) * 2;
      const vx = batch.velocity[i];
      const vy = batch.velocity[i + 1];
      out.velocity[i] = cos * vx - sin * vy;
      out.velocity[i + 1] = sin * vx + cos * vy;
      const px = batch.position[i] - batch.start[2 * b];
      const py = batch.position[i + 1] - batch.start[2 * b + 1];
      out.position[i] = batch.start[2 * b] + cos * px - sin * py;
      out.position[i + 1] = batch.start[2 * b + 1] + sin * px + cos * py;
    }
  }
  fillReference(out);
  return out;
}

/**
 * Velocity pushes (SPEC §3.6): for each trial and output dimension independently, with probability
 * `probability`, a push of `amplitude` over steps [c - halfWidth, c + halfWidth), c uniform in
 * [onsetMin, onsetMax), cut off at T. Returns a new batch with task "random_pushed" for random reaches.
 */
export function addPushes(batch: TrialBatch, rng: Rng, push: Partial<PushConfig> = {}): TrialBatch {
  const p = validPush(push);
  const { T, B } = batch;
  const pushes = new Float64Array(batch.pushes);
  for (let b = 0; b < B; b++) {
    for (let d = 0; d < 2; d++) {
      if (!rng.bernoulli(p.probability)) continue;
      const centre = p.onsetMin + rng.int(p.onsetMax - p.onsetMin);
      for (let t = Math.max(centre - p.halfWidth, 0); t < Math.min(centre + p.halfWidth, T); t++) {
        pushes[(t * B + b) * 2 + d] = p.amplitude;
      }
    }
  }
  return { ...batch, task: batch.task === "random" ? "random_pushed" : batch.task, pushes };
}

/** What `makeTrials` draws: a task, an optional rotation, and overrides of the reach and push configs. */
export interface TrialSpec {
  /** The task: "random", "random_pushed" or "centre_out" (any other name is rejected). */
  task: TaskName;
  /** Visuomotor rotation in degrees (counter-clockwise), 0 by default. */
  rotationDeg?: number;
  /** Overrides of `DEFAULT_REACH` (validated by `reachConfig`). */
  reach?: Partial<ReachConfig>;
  /** Overrides of `DEFAULT_PUSH`, for "random_pushed" only. */
  push?: Partial<PushConfig>;
}

/** A batch of `B` trials of a named task, rotated by spec.rotationDeg. Unknown task names are rejected. */
export function makeTrials(spec: TrialSpec, B: number, rng: Rng): TrialBatch {
  const task = oneOf("task", spec.task, TASK_NAMES);
  const rotation = finite("rotationDeg", spec.rotationDeg ?? 0);
  let batch: TrialBatch;
  if (task === "centre_out") batch = centreOutRandom(B, rng, spec.reach);
  else batch = randomReaches(B, rng, spec.reach);
  if (task === "random_pushed") batch = addPushes(batch, rng, spec.push);
  return rotation === 0 ? batch : rotate(batch, rotation);
}

/** Entry (t, b, channel) of a time-major [T, B, C] array as a small helper for notebooks and tests. */
export function at(array: ArrayLike<number>, B: number, C: number, t: number, b: number, channel: number): number {
  return array[(t * B + b) * C + channel];
}

/** The trials `ids` of a batch (in that order) as a new batch, e.g. one trial for a per-trial analysis. */
export function selectTrials(batch: TrialBatch, ids: ArrayLike<number>): TrialBatch {
  integer("ids.length", ids.length, 1);
  const { T, B } = batch;
  const n = ids.length;
  const pick = (a: Float64Array, width: number) => {
    const out = new Float64Array(T * n * width);
    for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) for (let c = 0; c < width; c++) out[(t * n + j) * width + c] = a[(t * B + ids[j]) * width + c];
    return out;
  };
  const pick2 = (a: Float64Array) => Float64Array.from({ length: 2 * n }, (_, i) => a[2 * ids[i >> 1] + (i & 1)]);
  for (let j = 0; j < n; j++) integer(`ids[${j}]`, ids[j], 0, B - 1);
  return {
    ...batch,
    B: n,
    inputs: pick(batch.inputs, batch.nIn),
    velocity: pick(batch.velocity, 2),
    position: pick(batch.position, 2),
    reference: pick(batch.reference, 2),
    pushes: pick(batch.pushes, 2),
    start: pick2(batch.start),
    end: pick2(batch.end),
    targetId: Int32Array.from(ids, (i) => batch.targetId[i]),
    go: Int32Array.from(ids, (i) => batch.go[i]),
  };
}
