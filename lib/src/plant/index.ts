/**
 * Plants: the effector the network's output drives (issue 24), behind one interface (plant.ts) and found by
 * name in a registry: `massless` (the default, the paper's hand: the output is the hand velocity),
 * `point_mass` (a viscous point mass driven by a force), `two_joint_arm` (a torque-driven planar arm, Li
 * and Todorov 2004) and `muscle` (first-order activation dynamics in front of any of them, or of a user's).
 * Each has an exact hand-written vector-Jacobian product of its step, for BPTT, and a TensorFlow.js version
 * (tf.ts) that checks it.
 *
 *   const arm = plant.makePlant({ name: "two_joint_arm", options: { commandScale: 0.2 } });
 */
import { Definition, Named, Registry, plainOptions } from "../registry";
import { ParameterError } from "../validate";
import type { Plant } from "./plant";
import { MASSLESS_DEFAULTS, MasslessHand, MasslessOptions } from "./massless";
import { POINT_MASS_DEFAULTS, PointMass, PointMassOptions } from "./pointMass";
import { TWO_JOINT_ARM_DEFAULTS, TwoJointArm, TwoJointArmOptions } from "./twoJointArm";
import { MUSCLE_DEFAULTS, Muscle, MuscleOptions } from "./muscle";

export * from "./plant";
export * from "./massless";
export * from "./pointMass";
export * from "./twoJointArm";
export * from "./muscle";
export * from "./tf";

/** The plant used when none is named: the massless hand. */
export const DEFAULT_PLANT = "massless";

function checkPlant(made: unknown, what: string): void {
  const p = made as Plant;
  if (typeof p !== "object" || p === null || typeof p.name !== "string") throw new ParameterError(what, "must make a Plant { name, nState, nCommand, dt, options, init, hand, step, backward }");
  for (const key of ["nState", "nCommand"] as const) {
    if (!Number.isInteger(p[key]) || p[key] < 1) throw new ParameterError(what, `${key} must be an integer >= 1, got ${String(p[key])}`);
  }
  if (!(typeof p.dt === "number" && p.dt > 0 && Number.isFinite(p.dt))) throw new ParameterError(what, `dt must be a finite number > 0, got ${String(p.dt)}`);
  for (const key of ["init", "hand", "step", "backward"] as const) {
    if (typeof p[key] !== "function") throw new ParameterError(what, `${key} must be a function`);
  }
  plainOptions(`${what}: options`, p.options);
}

/** The plants' registry. */
export const plantRegistry = new Registry<Plant>("plant", checkPlant);

/** Registers a plant by name (see Registry.register). */
export function registerPlant(def: Definition<Plant>): void {
  plantRegistry.register(def);
}

plantRegistry.register({
  name: "massless",
  description: "the paper's massless hand: the output is the hand velocity, v = output + push",
  defaults: { ...MASSLESS_DEFAULTS },
  create: (o) => new MasslessHand(o as unknown as MasslessOptions),
  source: { kind: "built-in" },
});
plantRegistry.register({
  name: "point_mass",
  description: "a viscous point mass driven by a force (N = commandScale x output), semi-implicit Euler",
  defaults: { ...POINT_MASS_DEFAULTS },
  create: (o) => new PointMass(o as unknown as PointMassOptions),
  source: { kind: "built-in" },
});
plantRegistry.register({
  name: "two_joint_arm",
  description: "a planar shoulder-elbow arm driven by joint torques (Li and Todorov 2004), with joint limits, semi-implicit Euler",
  defaults: JSON.parse(JSON.stringify(TWO_JOINT_ARM_DEFAULTS)),
  create: (o) => new TwoJointArm(o as unknown as TwoJointArmOptions),
  source: { kind: "built-in" },
});

plantRegistry.register({
  name: "muscle",
  description: "first-order activation dynamics (tauActivation 0.015 s, tauDeactivation 0.05 s) in front of another plant (plant=point_mass), explicit Euler",
  defaults: JSON.parse(JSON.stringify(MUSCLE_DEFAULTS)),
  create: (o) => {
    const m = o as unknown as MuscleOptions;
    if (typeof m.plant !== "string") throw new ParameterError("plant", `must name the plant the activations drive, got ${JSON.stringify(m.plant)}`);
    return new Muscle(m, makePlant({ name: m.plant, options: plainOptions("plantOptions", m.plantOptions ?? {}) }));
  },
  source: { kind: "built-in" },
});

/** A plant from its stored form { name, options } (the massless hand when spec is undefined). */
export function makePlant(spec: Named = { name: DEFAULT_PLANT }): Plant {
  return plantRegistry.create(spec.name, spec.options ?? {});
}

/** The stored form with every option spelled out (so that equal plants compare equal). */
export function normalisePlant(spec: Named = { name: DEFAULT_PLANT }, field = "plant"): Named {
  if (typeof spec !== "object" || spec === null || typeof spec.name !== "string") throw new ParameterError(field, "must be { name, options }");
  return { name: spec.name, options: plantRegistry.options(spec.name, plainOptions(`${field}.options`, spec.options ?? {})) };
}
