/**
 * What defines an adaptation run (adapt.ts): the config every result records whole, its defaults (the
 * paper's learning rates, 1000 trials, the 30° rotation), its checks, and the learning rate actually
 * applied. A stored run is reused or resumed only with an identical config.
 */
import { Network } from "./network";
import { LearningRule, RuleDefinition, RuleName, checkRuleObject, registerRule, ruleRegistry, ErrorProjection } from "./rules";
import { ReachConfig, reachConfig } from "./task";
import { Named, OptionValues, Source, plainOptions } from "./registry";
import { normalisePerturbation, perturbationRegistry } from "./perturbation";
import { feedbackRuleRegistry, normaliseFeedbackRule } from "./feedbackRules";
import { normaliseTargets, targetSetRegistry } from "./targets";
import { measureRegistry, normaliseMeasure } from "./measures";
import { finite, integer, oneOf, positive, ParameterError } from "./validate";
import { frobenius } from "./analysis/alignment";

/** The paper's learning rates ([PAPER], FIGURES.md); FED (not in the paper) uses RFLO's. */
export const PAPER_LR: Record<
  RuleName,
  {
    /** With the control input on while learning ("+c"). */
    control: number;
    /** Without it. */
    plain: number;
  }
> = {
  bptt: { control: 1e-4, plain: 5e-6 },
  rflo: { control: 5e-5, plain: 5e-5 },
  fed: { control: 5e-5, plain: 5e-5 },
};

/** Everything that defines an adaptation run; results record it whole, and a stored run is reused or resumed only with an identical one. */
export interface AdaptConfig {
  /**
   * The learning rule's registered name (rules.ruleNames(): the built-in rflo, bptt, fed, and any rule
   * registered with rules.registerRule or loaded from a plugin). adaptConfig also takes a rule definition,
   * a factory () => LearningRule or a LearningRule instance, registers it, and stores its name.
   */
  rule: string;
  /** The rule's own options, merged over its defaults (built-in local rules: projection and legacyRow0 are the fields below). */
  ruleOptions: OptionValues;
  /**
   * Perturbations beyond the target rotation and curl field below, by registered name and options
   * (perturbation.ts), applied in order after them: their `targets` to every trial and test, their
   * `push` at every step of learning trials and tests.
   */
  perturbations: Named[];
  /** The target set of learning trials and tests (targets.ts); null: the reach config's centre-out set (the paper's 8 targets). */
  targets: Named | null;
  /**
   * Where each component that is not built in comes from ("rule:<name>", "perturbation:<name>",
   * "targets:<name>" -> a plugin file and its SHA-256, or this session): results computed with another
   * version of a plugin differ here and are refused. Filled in by adaptConfig; a stored config keeps its own.
   */
  sources: Record<string, Source>;
  /** "+c": the control input is on during learning trials. */
  control: boolean;
  /** Learning rate as given (before any reference transform). */
  lr: number;
  /** Adaptation trials (batch 1). */
  trials: number;
  /** The paper's target rotation, degrees counter-clockwise (applied first, even at 0). */
  rotationDeg: number;
  /** Seeds the trial order and initial states of this adaptation run. */
  seed: number;
  /** Test error (8 rotated targets, feedback OFF) before trial 0 and after every testEvery trials. */
  testEvery: number;
  /** "reference": apply the reference code's LR rules (÷10, ×|W_fb|/|W_out|, SPEC §6.4); "none": use lr as is. */
  lrTransform: "none" | "reference";
  /** Error projection of the built-in local rules: W_fb ("feedback") or W_out^T ("transpose"). */
  projection: ErrorProjection;
  /** RFLO_t's row-0 bug (SPEC §10.6; only with projection "transpose"). */
  legacyRow0: boolean;
  /** A rule run passively beside the learning one, for alignment measurements (null: none). */
  compare: string | null;
  /**
   * Also compute, every trial, the whole-trial BPTT gradient -dL_trial/dW_rec at the trial's starting
   * weights (same initial state, target and feedback; fed-back error detached) and its cosine with
   * sum_k dw_k (column globalAlignmentTrial). Costs one extra forward and backward pass per trial.
   */
  trialGradient: boolean;
  /** Trials whose per-step local alignment is kept (stepLog; needs compare), e.g. [0, 100, 999]. */
  stepTrials: number[];
  /**
   * Window lengths w (trials) over which to record |W_{t+w} - W_t| and the path length sum |dW_trial|
   * (windowLog, windows starting at multiples of w): the across-trial update efficiency (F5a ii).
   */
  efficiencyWindows: number[];
  /**
   * At every test, also the gradient of the test error, so that the next test records the first-order
   * predicted decrease beside the measured one (F5a iii). Costs one backward pass per test.
   */
  testGradient: boolean;
  /**
   * A curl force field during learning trials and tests (network SimulateOptions.curlGain; 0: none, the
   * default). For the after-effect, test the adapted network with the field off (simulate with curlGain 0).
   */
  curlGain: number;
  /**
   * The feedback delay (steps) of the control input during learning trials, in place of the pre-trained
   * network's own (null, the default: keep it). For what a delay costs a controller that was not trained
   * with it; tests run with feedback off, so they do not see it.
   */
  fbDelay: number | null;
  /**
   * The controller's strength during learning trials: the fed-back error is scaled by it before W_fb (network
   * SimulateOptions.controlGain; 1, the default: the pre-trained network's own controller; "+c" conditions
   * only, the control input being off otherwise). The local rules' learning signal W_fb e is not scaled, and
   * tests run with feedback off, so only the control during learning changes.
   */
  controlGain: number;
  /**
   * A rule that lets the feedback weights W_fb learn during adaptation (feedbackRules: the built-in
   * noise_mirror, or a registered one), by name and options; null (the paper's, the default): W_fb is fixed.
   * The control input and the local rules' learning signal both use the W_fb it leaves.
   */
  feedbackRule: Named | null;
  /**
   * Registered measures (measures/: the built-in control_size, or a user's) by name and options, attached to
   * the run in this order after the built-in measurements above; their columns join the trial and test logs.
   * A measure only watches: the weights are the same with or without it.
   */
  measures: Named[];
  /** The reaching task (timing, targets, variant), from the pre-trained network by default. */
  reach: ReachConfig;
}

/** What adaptConfig takes as a rule: a registered name, or a definition, factory or instance that it registers. */
export type RuleInput = string | RuleDefinition | (() => LearningRule) | LearningRule;

/** Registers a rule given as a definition, factory or instance (in this session), and returns its name. */
export function ruleName(rule: RuleInput): string {
  if (typeof rule === "string") return rule;
  if (typeof rule === "function") {
    const probe = rule();
    checkRuleObject(probe, "rule factory's result");
    registerRule({ name: probe.name, description: `${probe.name} (a factory registered in this session)`, create: () => rule() });
    return probe.name;
  }
  if (typeof rule === "object" && rule !== null && typeof (rule as RuleDefinition).create === "function") {
    registerRule(rule as RuleDefinition);
    return (rule as RuleDefinition).name;
  }
  checkRuleObject(rule, "rule");
  const instance = rule;
  // One instance serves one run at a time; give a factory or a definition for several.
  registerRule({ name: instance.name, description: `${instance.name} (an instance registered in this session)`, create: () => instance });
  return instance.name;
}

/** What adaptConfig takes: any field of AdaptConfig, a partial reach config, and a rule in any form RuleInput allows. */
export type AdaptOverrides = Partial<Omit<AdaptConfig, "reach" | "rule">> & {
  /** Reach config fields to change (the rest: defaults). */
  reach?: Partial<ReachConfig>;
  /** The rule: a registered name, a definition, a factory or an instance (RuleInput). */
  rule?: RuleInput;
};

/**
 * A complete, checked adaptation config: the paper's defaults (rule rflo with control, its paper learning
 * rate, 1000 trials, 30° rotation, seed 1, a test every 25 trials) overridden by `overrides`. A rule given as
 * a definition, factory or instance is registered and stored by name; every error names the field.
 */
export function adaptConfig(overrides: AdaptOverrides = {}): AdaptConfig {
  const rule = ruleName(overrides.rule ?? "rflo");
  const def = ruleRegistry.get(rule);
  const control = overrides.control ?? true;
  if (overrides.lr === undefined && !def.defaultLr) throw new ParameterError("lr", `rule ${rule} has no default learning rate (defaultLr): give lr`);
  const c: AdaptConfig = {
    rule,
    control,
    lr: def.defaultLr ? def.defaultLr[control ? "control" : "plain"] : NaN,
    trials: 1000,
    rotationDeg: 30,
    seed: 1,
    testEvery: 25,
    lrTransform: "none",
    projection: "feedback",
    legacyRow0: false,
    compare: null,
    trialGradient: false,
    stepTrials: [],
    efficiencyWindows: [],
    testGradient: false,
    curlGain: 0,
    fbDelay: null,
    controlGain: 1,
    feedbackRule: null,
    ...overrides,
    ruleOptions: {},
    perturbations: [],
    measures: [],
    targets: null,
    sources: {},
    reach: reachConfig(overrides.reach),
  } as AdaptConfig;
  c.rule = rule;
  // Merged over the rule's defaults, so that spelling out a default gives the same settings (unknown names are
  // refused). The built-in rflo and fed keep their two options as the config's own fields (projection, legacyRow0).
  const givenOptions = plainOptions("ruleOptions", overrides.ruleOptions ?? {});
  if (isBuiltInLocal(rule) && ("projection" in givenOptions || "legacyRow0" in givenOptions)) {
    throw new ParameterError("ruleOptions", `set the ${rule} rule's projection and legacyRow0 with the config's fields of those names`);
  }
  c.ruleOptions = isBuiltInLocal(rule) ? (ruleRegistry.options(rule, givenOptions), givenOptions) : ruleRegistry.options(rule, givenOptions);
  if (!Array.isArray(overrides.perturbations ?? [])) throw new ParameterError("perturbations", "must be a list of { name, options }");
  c.perturbations = (overrides.perturbations ?? []).map((p, i) => normalisePerturbation(p, `perturbations[${i}]`));
  c.targets = overrides.targets == null ? null : normaliseTargets(overrides.targets);
  c.feedbackRule = overrides.feedbackRule == null ? null : normaliseFeedbackRule(overrides.feedbackRule);
  if (!Array.isArray(overrides.measures ?? [])) throw new ParameterError("measures", "must be a list of { name, options }");
  c.measures = (overrides.measures ?? []).map((m, i) => normaliseMeasure(m, `measures[${i}]`));
  if (new Set(c.measures.map((m) => m.name)).size !== c.measures.length) throw new ParameterError("measures", "names a measure twice");
  positive("lr", c.lr);
  finite("curlGain", c.curlGain);
  if (c.fbDelay !== null) integer("fbDelay", c.fbDelay, 0);
  if (finite("controlGain", c.controlGain) < 0) throw new ParameterError("controlGain", `must be >= 0, got ${c.controlGain}`);
  integer("trials", c.trials, 0);
  finite("rotationDeg", c.rotationDeg);
  integer("seed", c.seed, 0);
  integer("testEvery", c.testEvery, 1);
  oneOf("lrTransform", c.lrTransform, ["none", "reference"]);
  if (c.lrTransform === "reference" && def.source.kind !== "built-in") throw new ParameterError("lrTransform", `"reference" rescales the built-in rules only (SPEC §6.4), not ${rule}`);
  oneOf("projection", c.projection, ["feedback", "transpose"]);
  if (c.compare !== null) ruleRegistry.get(c.compare);
  if (typeof c.trialGradient !== "boolean") throw new ParameterError("trialGradient", `must be a boolean, got ${c.trialGradient}`);
  if (!Array.isArray(c.stepTrials)) throw new ParameterError("stepTrials", "must be an array of trial indices");
  c.stepTrials.forEach((t, i) => integer(`stepTrials[${i}]`, t, 0));
  if (!Array.isArray(c.efficiencyWindows)) throw new ParameterError("efficiencyWindows", "must be an array of window lengths");
  c.efficiencyWindows.forEach((w, i) => integer(`efficiencyWindows[${i}]`, w, 1));
  if (typeof c.testGradient !== "boolean") throw new ParameterError("testGradient", `must be a boolean, got ${c.testGradient}`);
  if (c.stepTrials.length && c.compare === null) throw new ParameterError("stepTrials", "needs a comparison rule (compare), whose per-step alignment it keeps");
  if (typeof c.control !== "boolean") throw new ParameterError("control", `must be a boolean, got ${c.control}`);
  // Where the components that are not built in come from; a stored config keeps the sources it was computed with.
  const sources: Record<string, Source> = {};
  const note = (key: string, source: Source) => {
    if (source.kind !== "built-in") sources[key] = source;
  };
  note(`rule:${c.rule}`, def.source);
  if (c.compare !== null) note(`rule:${c.compare}`, ruleRegistry.source(c.compare));
  for (const p of c.perturbations) note(`perturbation:${p.name}`, perturbationRegistry.source(p.name));
  if (c.targets) note(`targets:${c.targets.name}`, targetSetRegistry.source(c.targets.name));
  if (c.feedbackRule) note(`feedback:${c.feedbackRule.name}`, feedbackRuleRegistry.source(c.feedbackRule.name));
  for (const m of c.measures) note(`measure:${m.name}`, measureRegistry.source(m.name));
  c.sources = overrides.sources ?? sources;
  return c;
}

/**
 * The learning rate actually applied. With lrTransform "reference" (SPEC §6.4): BPTT is scaled by
 * w_ratio = |W_fb|/|W_out| (and ÷10 for a network without feedback); RFLO/FED ÷10 without control;
 * for a network without feedback the local rules become their W_out^T variants, ÷10 and ×w_ratio.
 */
export function effectiveLr(config: AdaptConfig, net: Network): number {
  if (config.lrTransform === "none") return config.lr;
  // adaptConfig allows "reference" for the built-in rules only.
  const wRatio = frobenius(net.params.wFb) / frobenius(net.params.wOut);
  const noFeedback = net.config.fbDensity === 0;
  if (config.rule === "bptt") return config.lr * wRatio * (noFeedback ? 0.1 : 1);
  if (noFeedback) return config.lr * 0.1 * wRatio;
  return config.control ? config.lr : config.lr * 0.1;
}

/** The built-in rflo and fed, whose projection and legacyRow0 are fields of AdaptConfig. */
export function isBuiltInLocal(name: string): boolean {
  return (name === "rflo" || name === "fed") && ruleRegistry.source(name).kind === "built-in";
}
