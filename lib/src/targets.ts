/**
 * Target sets: where adaptation trials and tests reach to. The paper's set is the 8 centre-out targets at
 * radius 5 (the default); others are registered by name (registry.ts), from the lib, a notebook cell or a
 * plugin file, and named in adaptation configs, sweep grids and on the command line
 * (`--targets centre_out:n=16`).
 *
 *   targets.registerTargetSet({ name: "two_rings", description: "8 directions at radius 2.5 and 5",
 *     create: () => targets.centreOutTargets({ n: 8, radii: [2.5, 5] }) });
 */
import { Definition, Named, Registry, plainOptions } from "./registry";
import { Rng } from "./rng";
import { ReachConfig, TrialBatch, reachConfig, reachesTo } from "./task";
import { ParameterError, finite, integer, positive } from "./validate";

/** A fixed, numbered set of reach targets (the hand starts at the centre). */
export interface TargetSet {
  /** The registered name it was made from (e.g. "centre_out"). */
  readonly name: string;
  /** Targets are numbered 0 .. count - 1. */
  readonly count: number;
  /** End points [count, 2]. */
  readonly ends: Float64Array;
}

/** Trials to targets `ids` of a set (unperturbed), with the reach config's timing; delays as task.reachesTo. */
export function trialsTo(set: TargetSet, ids: ArrayLike<number>, reach: Partial<ReachConfig> = {}, delays?: ArrayLike<number>): TrialBatch {
  const ends = new Float64Array(2 * ids.length);
  for (let b = 0; b < ids.length; b++) {
    const id = integer(`target ids[${b}]`, ids[b], 0, set.count - 1);
    ends[2 * b] = set.ends[2 * id];
    ends[2 * b + 1] = set.ends[2 * id + 1];
  }
  return reachesTo(ends, ids, reach, delays);
}

/** One trial to each target of the set, in order (instructed delay: every trial with `delay`, default the test delay). */
export function allTrials(set: TargetSet, reach: Partial<ReachConfig> = {}, delay?: number): TrialBatch {
  const ids = Array.from({ length: set.count }, (_, i) => i);
  return trialsTo(set, ids, reach, delay === undefined ? undefined : ids.map(() => delay));
}

/**
 * B trials to targets drawn uniformly from the set; in the instructed-delay variant B delays are drawn
 * after the targets (the draw order of task.centreOutRandom, so the default set reproduces it).
 */
export function randomTrials(set: TargetSet, B: number, rng: Rng, reach: Partial<ReachConfig> = {}): TrialBatch {
  integer("B", B, 1);
  const c = reachConfig(reach);
  const ids = Array.from({ length: B }, () => rng.int(set.count));
  const p = c.preparation;
  return trialsTo(set, ids, c, p ? ids.map(() => p.delayMin + rng.int(p.delayMax - p.delayMin + 1)) : undefined);
}

/**
 * `n` directions (angle 2 pi i / n) at each radius of `radii`: target i is direction i mod n on ring
 * floor(i / n). The default, n 8 and radii [5], is the paper's set, in the same order.
 */
export function centreOutTargets(options: { n?: number; radii?: number[] } = {}): TargetSet {
  const n = integer("n", options.n ?? 8, 1);
  const radii = options.radii ?? [5];
  if (!Array.isArray(radii) || radii.length === 0) throw new ParameterError("radii", "must be a non-empty list of radii");
  radii.forEach((r, i) => positive(`radii[${i}]`, r));
  const ends = new Float64Array(2 * n * radii.length);
  radii.forEach((radius, ring) => {
    for (let i = 0; i < n; i++) {
      const angle = (2 * Math.PI * i) / n;
      ends[2 * (ring * n + i)] = radius * Math.cos(angle);
      ends[2 * (ring * n + i) + 1] = radius * Math.sin(angle);
    }
  });
  return { name: "centre_out", count: n * radii.length, ends };
}

/** Any list of end points [[x, y], ...]. */
export function pointTargets(points: number[][]): TargetSet {
  if (!Array.isArray(points) || points.length === 0) throw new ParameterError("points", "must be a non-empty list of [x, y]");
  const ends = new Float64Array(2 * points.length);
  points.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 2) throw new ParameterError(`points[${i}]`, "must be [x, y]");
    ends[2 * i] = finite(`points[${i}][0]`, p[0]);
    ends[2 * i + 1] = finite(`points[${i}][1]`, p[1]);
  });
  return { name: "points", count: points.length, ends };
}

function checkTargetSet(made: unknown, what: string): void {
  const s = made as TargetSet;
  if (typeof s !== "object" || s === null || !(s.ends instanceof Float64Array) || !Number.isInteger(s.count) || s.count < 1 || s.ends.length !== 2 * s.count) {
    throw new ParameterError(what, "must make a TargetSet { name, count, ends: Float64Array of 2 * count }");
  }
}

/** The target sets' registry. */
export const targetSetRegistry = new Registry<TargetSet>("target set", checkTargetSet);

/** Registers a target set by name (see Registry.register). */
export function registerTargetSet(def: Definition<TargetSet>): void {
  targetSetRegistry.register(def);
}

targetSetRegistry.register({
  name: "centre_out",
  description: "n directions at each of the radii (the paper's: n 8, radii [5])",
  defaults: { n: 8, radii: [5] },
  create: (o) => centreOutTargets(o as { n: number; radii: number[] }),
  source: { kind: "built-in" },
});
targetSetRegistry.register({
  name: "points",
  description: "any list of end points [[x, y], ...] (the hand starts at the centre)",
  defaults: { points: [[5, 0]] },
  create: (o) => pointTargets(o.points as number[][]),
  source: { kind: "built-in" },
});

/** The paper's target set, as configs store it. */
export const DEFAULT_TARGETS: Readonly<Named> = Object.freeze({ name: "centre_out", options: { n: 8, radii: [5] } });

/** A target set from its stored form; the options are completed with the set's defaults. */
export function makeTargetSet(spec: Named): TargetSet {
  return targetSetRegistry.create(spec.name, spec.options ?? {});
}

/** The stored form with every option spelled out (so that equal sets compare equal). */
export function normaliseTargets(spec: Named = DEFAULT_TARGETS): Named {
  if (typeof spec !== "object" || spec === null || typeof spec.name !== "string") throw new ParameterError("targets", "must be { name, options }");
  return { name: spec.name, options: targetSetRegistry.options(spec.name, plainOptions("targets.options", spec.options ?? {})) };
}
