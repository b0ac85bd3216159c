/** Online learning rules for W_rec behind one interface (rule.ts), found by name in a registry (registry.ts). */
import { OnlineBptt } from "./bptt";
import { Fed } from "./fed";
import { Rflo, RfloOptions } from "./rflo";
import { ErrorProjection, LearningRule } from "./rule";
import { createRule, registerRule } from "./registry";

export * from "./rule";
export * from "./registry";
export { Rflo } from "./rflo";
export type { RfloOptions } from "./rflo";
export { Fed } from "./fed";
export { OnlineBptt } from "./bptt";

/** The built-in rules; `ruleNames()` lists these and every rule registered since. */
export const RULE_NAMES = ["rflo", "bptt", "fed"] as const;
/** The name of a built-in rule: "rflo", "bptt" or "fed". */
export type RuleName = (typeof RULE_NAMES)[number];

/** Options of the built-in local rules (rflo, fed); BPTT takes none. */
export interface RuleOptions {
  /** Error projection of the local rules (ignored by BPTT): W_fb ("feedback", default) or W_out^T ("transpose"). */
  projection?: ErrorProjection;
  /** RFLO_t's row-0 bug (SPEC §10.6), only with projection "transpose". */
  legacyRow0?: boolean;
}

const LOCAL_DEFAULTS = { projection: "feedback", legacyRow0: false };
const builtIn = { kind: "built-in" } as const;
registerRule({
  name: "rflo",
  description: "random-feedback local online learning (Murray 2019) as the reference applies it: eligibility trace times W_fb e",
  create: (o) => new Rflo(o as RfloOptions),
  defaults: LOCAL_DEFAULTS,
  defaultLr: { control: 5e-5, plain: 5e-5 },
  source: builtIn,
});
registerRule({
  name: "bptt",
  description: "online BPTT: the exact gradient of the step loss through the trial so far (fed-back error held constant)",
  create: () => new OnlineBptt(),
  defaults: {},
  defaultLr: { control: 1e-4, plain: 5e-6 },
  source: builtIn,
});
registerRule({
  name: "fed",
  description: "FED (Feulner et al. 2022 style): the projected error W_fb e times a leaky trace of the presynaptic rates",
  create: (o) => new Fed(o as RuleOptions),
  defaults: LOCAL_DEFAULTS,
  defaultLr: { control: 5e-5, plain: 5e-5 },
  source: builtIn,
});

/** A fresh instance of a registered rule by name (built-in or registered); a one-line error listing the names otherwise. */
export function makeRule(name: string, options: RuleOptions & Record<string, unknown> = {}): LearningRule {
  return createRule(name, options);
}
