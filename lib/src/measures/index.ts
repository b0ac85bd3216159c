/**
 * Measurements that watch adaptation (measure.ts): the Adapter's built-in ones, and any a user registers by
 * name, from a notebook cell or a plugin file (`npm run adapt -- --plugin my.ts --measure my_measure`). A
 * registered measure named in AdaptConfig.measures is made fresh for each run, and its columns join the
 * trial and test logs.
 *
 *   measures.registerMeasure({ name: "my_measure", description: "...", create: () => new MyMeasure() });
 *   new adapt.Adapter(net, adapt.adaptConfig({ measures: [{ name: "my_measure" }] }));
 */
import { Definition, Named, Registry, plainOptions } from "../registry";
import { ParameterError } from "../validate";
import { Measure } from "./measure";
import { ControlSize } from "./controlSize";
import { LoopGainTrack } from "./loopGainTrack";

export type { Measure, MeasureState, TrialView } from "./measure";
export { Comparison } from "./comparison";
export type { StepRecord } from "./comparison";
export { GradientAlignment } from "./gradientAlignment";
export { EfficiencyWindows } from "./efficiencyWindows";
export type { WindowRecord } from "./efficiencyWindows";
export { TestGradient } from "./testGradient";
export { ControlSize } from "./controlSize";
export { LoopGainTrack } from "./loopGainTrack";
export type { LoopGainTrackOptions } from "./loopGainTrack";

/** Throws a one-line error unless `m` is a Measure (a name; hooks, where present, are functions; columns are lists). */
export function checkMeasureObject(m: unknown, what = "measure"): asserts m is Measure {
  if (typeof m !== "object" || m === null) throw new ParameterError(what, "must be an object implementing Measure");
  const r = m as Record<string, unknown>;
  if (typeof r.name !== "string" || !r.name) throw new ParameterError(what, "does not implement Measure: needs a string `name`");
  for (const hook of ["startTrial", "beforeUpdate", "afterUpdate", "endTrial", "test", "saveState", "loadState"]) {
    if (r[hook] !== undefined && typeof r[hook] !== "function") throw new ParameterError(what, `${hook} must be a function`);
  }
  for (const cols of ["trialColumns", "testColumns"]) {
    const v = r[cols];
    if (v !== undefined && !(Array.isArray(v) && v.every((c) => typeof c === "string" && c.length > 0))) throw new ParameterError(what, `${cols} must be a list of column names`);
  }
}

/** The measures' registry. */
export const measureRegistry = new Registry<Measure>("measure", checkMeasureObject);

/** Registers a measure by name (see Registry.register). */
export function registerMeasure(def: Definition<Measure>): void {
  measureRegistry.register(def);
}

/** Every registered measure name, built-in ones first. */
export function measureNames(): string[] {
  return measureRegistry.names();
}

measureRegistry.register({
  name: "control_size",
  description: "root mean square of the control input in each learning trial, and its ratio to the recurrent drive's (controlRms, controlShare)",
  create: () => new ControlSize(),
  source: { kind: "built-in" },
});

measureRegistry.register({
  name: "loop_gain",
  description: "the error-feedback loop's gain (analysis.loopGain) of the weights being adapted, after trial 1 and every `every` trials (loopGain, loopPhaseDeg)",
  defaults: { every: 25, window: 10 },
  create: (o) => new LoopGainTrack(o as { every: number; window: number }),
  source: { kind: "built-in" },
});

/** A measure from its stored form { name, options }. */
export function makeMeasure(spec: Named): Measure {
  return measureRegistry.create(spec.name, spec.options ?? {});
}

/** The stored form with every option spelled out (so that equal measures compare equal). */
export function normaliseMeasure(spec: Named, field = "measures"): Named {
  if (typeof spec !== "object" || spec === null || typeof spec.name !== "string") throw new ParameterError(field, "must be { name, options }");
  return { name: spec.name, options: measureRegistry.options(spec.name, plainOptions(`${field}.options`, spec.options ?? {})) };
}
