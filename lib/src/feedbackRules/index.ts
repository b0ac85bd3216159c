/**
 * Rules for the feedback weights W_fb (feedbackRule.ts), found by name in a registry: the built-in
 * noise_mirror and any a user registers from a notebook cell or a plugin file.
 */
import { Definition, Named, Registry, plainOptions } from "../registry";
import { ParameterError } from "../validate";
import { FeedbackRule } from "./feedbackRule";
import { NoiseMirror, NoiseMirrorOptions } from "./noiseMirror";

export type { FeedbackRule } from "./feedbackRule";
export { NoiseMirror } from "./noiseMirror";
export type { NoiseMirrorOptions } from "./noiseMirror";

/** Throws a one-line error unless `rule` has the FeedbackRule methods. */
export function checkFeedbackRuleObject(rule: unknown, what = "feedback rule"): asserts rule is FeedbackRule {
  if (typeof rule !== "object" || rule === null) throw new ParameterError(what, "must be an object implementing FeedbackRule");
  const r = rule as Record<string, unknown>;
  const missing = ["reset", "observe", "endTrial"].filter((m) => typeof r[m] !== "function");
  if (missing.length) throw new ParameterError(what, `does not implement FeedbackRule: missing method(s) ${missing.join(", ")}`);
  if (typeof r.name !== "string" || !r.name) throw new ParameterError(what, "does not implement FeedbackRule: needs a string `name`");
}

/** The feedback rules' registry. */
export const feedbackRuleRegistry = new Registry<FeedbackRule>("feedback rule", checkFeedbackRuleObject);

/** Registers a feedback rule by name (see Registry.register). */
export function registerFeedbackRule(def: Definition<FeedbackRule>): void {
  feedbackRuleRegistry.register(def);
}

feedbackRuleRegistry.register({
  name: "noise_mirror",
  description: "W_fb learns the cursor's response to the units from their own drive noise (weight mirror / DFC style), keeping its norm",
  defaults: { sigma: 0.5, eta: 0.05 },
  create: (o) => new NoiseMirror(o as unknown as NoiseMirrorOptions),
  source: { kind: "built-in" },
});

/** A feedback rule from its stored form { name, options }. */
export function makeFeedbackRule(spec: Named): FeedbackRule {
  return feedbackRuleRegistry.create(spec.name, spec.options ?? {});
}

/** The stored form with every option spelled out (so that equal rules compare equal). */
export function normaliseFeedbackRule(spec: Named, field = "feedbackRule"): Named {
  if (typeof spec !== "object" || spec === null || typeof spec.name !== "string") throw new ParameterError(field, "must be { name, options }");
  return { name: spec.name, options: feedbackRuleRegistry.options(spec.name, plainOptions(`${field}.options`, spec.options ?? {})) };
}
