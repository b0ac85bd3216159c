/** Online learning rules for W_rec behind one interface (rule.ts). */
import { oneOf } from "../validate";
import { OnlineBptt } from "./bptt";
import { Fed } from "./fed";
import { Rflo } from "./rflo";
import { ErrorProjection, LearningRule } from "./rule";

export * from "./rule";
export { Rflo } from "./rflo";
export type { RfloOptions } from "./rflo";
export { Fed } from "./fed";
export { OnlineBptt } from "./bptt";

export const RULE_NAMES = ["rflo", "bptt", "fed"] as const;
export type RuleName = (typeof RULE_NAMES)[number];

export interface RuleOptions {
  /** Error projection of the local rules (ignored by BPTT): W_fb ("feedback", default) or W_out^T ("transpose"). */
  projection?: ErrorProjection;
  /** RFLO_t's row-0 bug (SPEC §10.6), only with projection "transpose". */
  legacyRow0?: boolean;
}

export function makeRule(name: RuleName, options: RuleOptions = {}): LearningRule {
  switch (oneOf("rule", name, RULE_NAMES)) {
    case "rflo":
      return new Rflo(options);
    case "fed":
      return new Fed(options);
    case "bptt":
      return new OnlineBptt();
  }
}
