/**
 * Named learning rules: the built-in ones (rflo, bptt, fed) and any a user registers, from a notebook
 * cell or from a plugin file that the command-line tools load (`--plugin my-rules.ts`). The adaptation
 * loop, the sweeps and the analyses built on them find rules here by name, so a registered rule goes
 * everywhere a built-in one goes.
 *
 *   rules.registerRule({ name: "myrule", description: "RFLO, halved", create: (o) => new MyRule(o) });
 *   new adapt.Adapter(net, adapt.adaptConfig({ rule: "myrule", control: true, lr: 5e-5 }));
 */
import { Definition, Registry } from "../registry";
import { ParameterError } from "../validate";
import { LearningRule } from "./rule";

/** A named rule: a fresh instance per adaptation run, its options, and its default learning rates. */
export interface RuleDefinition extends Definition<LearningRule> {
  /** Learning rates used when a run gives none: with the control input on and off. */
  defaultLr?: {
    /** With the control input on. */
    control: number;
    /** With the control input off. */
    plain: number;
  };
}

/** Throws a one-line error unless `rule` has the LearningRule methods. */
export function checkRuleObject(rule: unknown, what = "rule"): asserts rule is LearningRule {
  if (typeof rule !== "object" || rule === null) throw new ParameterError(what, `must be an object implementing LearningRule, got ${rule === null ? "null" : typeof rule}`);
  const r = rule as Record<string, unknown>;
  const missing = ["reset", "advance", "accumulate", "lastUpdate"].filter((m) => typeof r[m] !== "function");
  if (missing.length) throw new ParameterError(what, `does not implement LearningRule: missing method(s) ${missing.join(", ")}`);
  if (typeof r.name !== "string" || !r.name) throw new ParameterError(what, "does not implement LearningRule: needs a string `name`");
}

/** The rules' registry. */
export const ruleRegistry = new Registry<LearningRule, RuleDefinition>("rule", checkRuleObject);

/** Registers a rule under its name (see Registry.register). */
export function registerRule(def: RuleDefinition): void {
  if (def?.defaultLr !== undefined && !(def.defaultLr.control > 0 && def.defaultLr.plain > 0)) {
    throw new ParameterError(`rule ${def.name}`, "defaultLr needs positive control and plain rates");
  }
  ruleRegistry.register(def);
}

/** Every registered rule name, built-in ones first. */
export function ruleNames(): string[] {
  return ruleRegistry.names();
}

/** A fresh instance of a registered rule, with its options merged over the rule's defaults. */
export function createRule(name: string, options: Record<string, unknown> = {}): LearningRule {
  return ruleRegistry.create(name, options);
}
