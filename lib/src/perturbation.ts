/**
 * Perturbations behind one small interface: what the target requires (a transform of the trials before
 * they run, e.g. the paper's rotated target), what the hand does (a push added to the hand velocity at
 * every step, computed online from the rollout so far, e.g. a curl force field), and what the hand shows
 * (a linear cursor map, e.g. a rotated or mirrored cursor: cursor.ts). Built-in ones and a
 * user's own, registered by name (registry.ts) from a notebook cell or a plugin file, go through the same
 * adaptation loop, tests, acute analyses and sweeps.
 *
 *   perturbation.registerPerturbation({ name: "gain", description: "hand velocity scaled by g",
 *     defaults: { g: 1.5 }, create: (o) => ({ name: "gain", push: (k, ro) => { ... } }) });
 */
import { Definition, Named, Registry, plainOptions } from "./registry";
import type { Rollout } from "./network";
import { TrialBatch, rotate } from "./task";
import { ParameterError, finite } from "./validate";
import { Mat2, checkMat2, mirrorMatrix, rotationMatrix } from "./cursor";

/**
 * A perturbation instance: a transform of the trials (`targets`), a push on the hand (`push`), or both. Make one
 * with `createPerturbation` or a registered factory.
 */
export interface Perturbation {
  /** The registered name it was made from (e.g. "target_rotation", "curl"). */
  readonly name: string;
  /**
   * What the target requires: the trials as perturbed (a new batch; the input must not be changed).
   * Runs once per trial batch, before the rollout.
   */
  targets?(batch: TrialBatch): TrialBatch;
  /**
   * What the hand does: before step k -> k+1, add this step's push to ro.push at [k, b, :] (offset
   * (k * B + b) * nOut), from the rollout so far (v, e, x, r up to step k). The push enters the hand
   * velocity v_{k+1} = y_{k+1} + push_k. Learning rules and gradients treat the realised pushes as an
   * external input, as they treat the fed-back error.
   */
  push?(k: number, ro: Rollout): void;
  /**
   * What the hand shows: the cursor moves by this 2x2 map (row-major) of the hand's velocity, and the
   * error, loss, control and learning signals are the cursor's (cursor.ts). Several maps compose in order.
   */
  readonly cursor?: Mat2;
}

/**
 * The paper's visuomotor rotation (SPEC §5.1), a target rotation: the velocity the hand must produce turns
 * by `deg` counter-clockwise; the error stays in the hand's frame. (The experiments' rotation of the seen
 * hand is `cursorRotation`.)
 */
export function targetRotation(deg: number): Perturbation {
  finite("deg", deg);
  return { name: "target_rotation", targets: (batch) => rotate(batch, deg) };
}

/**
 * A curl force field on this massless hand: at every step a push g R v_k, with v_k the hand velocity of
 * step k and R the rotation by +90° ((v_x, v_y) -> (-v_y, v_x)).
 */
export function curlField(gain: number): Perturbation {
  const g = finite("gain", gain);
  return {
    name: "curl",
    push(k, ro) {
      const { B, nOut } = ro;
      for (let b = 0; b < B; b++) {
        const at = (k * B + b) * nOut;
        const vx = ro.v[at];
        const vy = ro.v[at + 1];
        ro.push[at] += -g * vy;
        ro.push[at + 1] += g * vx;
      }
    },
  };
}

/**
 * A rotated cursor (the experiments' visuomotor rotation): the cursor moves by the hand's velocity turned
 * by `deg` counter-clockwise; the fed-back error, loss and learning signals are the cursor's.
 */
export function cursorRotation(deg: number): Perturbation {
  return { name: "cursor_rotation", cursor: rotationMatrix(deg) };
}

/**
 * A mirror-reversed cursor: the hand's velocity reflected about the line at `axisDeg` degrees (90, the
 * default: the reach's vertical axis, so left and right swap).
 */
export function cursorMirror(axisDeg = 90): Perturbation {
  return { name: "cursor_mirror", cursor: mirrorMatrix(axisDeg) };
}

/** A cursor gain: the cursor moves g times as fast as the hand (g != 0). */
export function cursorGain(g: number): Perturbation {
  finite("g", g);
  if (g === 0) throw new ParameterError("g", "must not be 0 (a cursor that does not move)");
  return { name: "cursor_gain", cursor: [g, 0, 0, g] };
}

function checkPerturbation(made: unknown, what: string): void {
  const p = made as Perturbation;
  if (typeof p !== "object" || p === null || typeof p.name !== "string") throw new ParameterError(what, "must make a Perturbation { name, targets?(batch), push?(k, ro) }");
  if (p.targets !== undefined && typeof p.targets !== "function") throw new ParameterError(what, "targets must be a function (batch) -> batch");
  if (p.push !== undefined && typeof p.push !== "function") throw new ParameterError(what, "push must be a function (k, rollout)");
  if (p.cursor !== undefined) checkMat2(p.cursor, `${what}: cursor`);
  if (!p.targets && !p.push && !p.cursor) throw new ParameterError(what, "must define targets(batch), push(k, ro) or a cursor map (or several)");
}

/** The perturbations' registry. */
export const perturbationRegistry = new Registry<Perturbation>("perturbation", checkPerturbation);

/** Registers a perturbation by name (see Registry.register). */
export function registerPerturbation(def: Definition<Perturbation>): void {
  perturbationRegistry.register(def);
}

perturbationRegistry.register({
  name: "target_rotation",
  description: "the paper's visuomotor rotation, of the target: the velocity the hand must produce turns by deg (counter-clockwise)",
  defaults: { deg: 30 },
  create: (o) => targetRotation(o.deg as number),
  source: { kind: "built-in" },
});
perturbationRegistry.register({
  name: "curl",
  description: "a curl force field: push = gain x the previous hand velocity rotated by +90°",
  defaults: { gain: 0.3 },
  create: (o) => curlField(o.gain as number),
  source: { kind: "built-in" },
});

perturbationRegistry.register({
  name: "cursor_rotation",
  description: "the experiments' visuomotor rotation, of the seen hand: the cursor moves by the hand's velocity turned by deg (counter-clockwise)",
  defaults: { deg: 30 },
  create: (o) => cursorRotation(o.deg as number),
  source: { kind: "built-in" },
});
perturbationRegistry.register({
  name: "cursor_mirror",
  description: "mirror reversal of the seen hand: its velocity reflected about the line at axisDeg (90: the vertical axis, left-right swap)",
  defaults: { axisDeg: 90 },
  create: (o) => cursorMirror(o.axisDeg as number),
  source: { kind: "built-in" },
});
perturbationRegistry.register({
  name: "cursor_gain",
  description: "a cursor gain: the cursor moves g times as fast as the hand",
  defaults: { g: 1.5 },
  create: (o) => cursorGain(o.g as number),
  source: { kind: "built-in" },
});

/** A perturbation from its stored form { name, options }. */
export function makePerturbation(spec: Named): Perturbation {
  return perturbationRegistry.create(spec.name, spec.options ?? {});
}

/** The stored form with every option spelled out (so that equal perturbations compare equal). */
export function normalisePerturbation(spec: Named, field = "perturbation"): Named {
  if (typeof spec !== "object" || spec === null || typeof spec.name !== "string") throw new ParameterError(field, "must be { name, options }");
  return { name: spec.name, options: perturbationRegistry.options(spec.name, plainOptions(`${field}.options`, spec.options ?? {})) };
}

/** The batch as every perturbation's `targets` leaves it, in order. */
export function perturbTargets(batch: TrialBatch, perturbations: readonly Perturbation[]): TrialBatch {
  let out = batch;
  for (const p of perturbations) if (p.targets) out = p.targets(out);
  return out;
}

/** The perturbations that push the hand. */
export function pushers(perturbations: readonly Perturbation[]): Perturbation[] {
  return perturbations.filter((p) => p.push !== undefined);
}

/** The perturbations that act during a rollout, pushing the hand or mapping it to a cursor (SimulateOptions.perturbations takes these). */
export function duringRollout(perturbations: readonly Perturbation[]): Perturbation[] {
  return perturbations.filter((p) => p.push !== undefined || p.cursor !== undefined);
}
