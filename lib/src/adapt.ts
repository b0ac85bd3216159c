/**
 * Adaptation to a persistent visuomotor rotation (SPEC §5.2, §6): trial after trial (batch 1), a random
 * one of the 8 rotated centre-out targets; W_rec learns online at every step with one rule and plain SGD;
 * every other weight is frozen and the fed-back error is a constant for the gradient.
 *
 * Conditions: rule (rflo | bptt | fed) x control ("+c": feedback input on during learning, or off).
 * Learning rates default to the paper's (1e-4 BPTT+c, 5e-6 BPTT, 5e-5 RFLO and RFLO+c); the reference
 * code's hidden rescalings are an explicit option (lrTransform: "reference", SPEC §6.4).
 * Optionally a second rule runs passively on the same trial ("compare"), to measure how well the learning
 * rule's updates align with it (e.g. RFLO against online BPTT, the true gradient).
 */
import { FArray, distances2, specialise } from "./kernels";
import { Network, Rollout, beginRollout, cloneNetwork, effectiveFeedback, simulate, stepRollout, taskLoss } from "./network";
import { TrialGradientWork, trialGradient } from "./analysis/trialGradient";
import { Rng, RngState } from "./rng";
import { LearningRule, RuleDefinition, RuleName, createRule, checkRuleObject, registerRule, ruleRegistry, ErrorProjection } from "./rules";
import { ReachConfig, TrialBatch, reachConfig } from "./task";
import { Named, OptionValues, Source, plainOptions } from "./registry";
import { Perturbation, duringRollout, makePerturbation, normalisePerturbation, perturbTargets, perturbationRegistry, targetRotation } from "./perturbation";
import { Mat2, cursorMap, seenThrough } from "./cursor";
import { FeedbackRule, feedbackRuleRegistry, makeFeedbackRule, normaliseFeedbackRule } from "./feedbackRules";
import { TargetSet, allTrials, centreOutTargets, makeTargetSet, normaliseTargets, randomTrials, targetSetRegistry } from "./targets";
import { gemm } from "./kernels";
import { finite, integer, oneOf, positive, ParameterError } from "./validate";
import { cosine, frobenius } from "./analysis/alignment";
import { describeDiff, settingsDiff } from "./provenance";
import { CheckpointError, Tensor, loadCheckpoint, loadNetwork, saveNetwork } from "./checkpoint";

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
   * A rule that lets the feedback weights W_fb learn during adaptation (feedbackRules: the built-in
   * noise_mirror, or a registered one), by name and options; null (the paper's, the default): W_fb is fixed.
   * The control input and the local rules' learning signal both use the W_fb it leaves.
   */
  feedbackRule: Named | null;
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
    feedbackRule: null,
    ...overrides,
    ruleOptions: {},
    perturbations: [],
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
  positive("lr", c.lr);
  finite("curlGain", c.curlGain);
  if (c.fbDelay !== null) integer("fbDelay", c.fbDelay, 0);
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

/**
 * sumA += a, sumB += b, returning cos(a, b) (0 when either is zero): the per-step bookkeeping of the
 * alignment measurements in one pass (separate float32 and float64 copies keep V8's loops monomorphic).
 */
function accumulatePairKernel(a: FArray, b: FArray, sumA: Float64Array, sumB: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    ab += x * y;
    aa += x * x;
    bb += y * y;
    sumA[i] += x;
    sumB[i] += y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
const accumulatePair32 = specialise(accumulatePairKernel);
const accumulatePair64 = specialise(accumulatePairKernel);
function accumulatePair(a: FArray, b: FArray, sumA: Float64Array, sumB: Float64Array): number {
  return a instanceof Float32Array ? accumulatePair32(a, b, sumA, sumB) : accumulatePair64(a, b, sumA, sumB);
}

/** cos(W_fb, W_out^T) for W_fb [N, nOut] and W_out [nOut, N], row-major (0 when either is zero). */
function cosineTransposed(wFb: FArray, wOut: FArray, N: number, nOut: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < N; i++) {
    for (let o = 0; o < nOut; o++) {
      const a = wFb[i * nOut + o];
      const b = wOut[o * N + i];
      ab += a * b;
      aa += a * a;
      bb += b * b;
    }
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** Sees the steps of a learning trial (Adapter.trial); it must not change the network or the rollout. */
export interface StepObserver {
  /** After step k's state (x_{k+1}, e_{k+1}) exists and before the rule's update: net.params.wRec holds the weights used so far. */
  beforeUpdate?(k: number, ctx: { net: Network; ro: Rollout; batch: TrialBatch; x0: FArray; trial: number }): void;
  /** After the update, with the rule's unscaled dw_k. */
  afterUpdate?(k: number, dw: FArray): void;
}

/** One learning trial as `npm run adapt` writes it to <run>.trials.csv. */
export interface TrialRecord {
  /** Trial index (0-based). */
  trial: number;
  /** Target index of this trial. */
  target: number;
  /** mean(E^2) of the learning trial (with feedback iff control). */
  loss: number;
  /** |W_rec(after) - W_rec(before)|_F. */
  updateNorm: number;
  /** |W_rec(after) - W_rec(pre-trained)|_F: how far learning has moved the weights so far. */
  driftNorm: number;
  /** sum_k |dw_k|_F (without the learning rate). */
  stepwiseNorm: number;
  /** updateNorm / (lr * stepwiseNorm) in [0, 1]: how much the per-step updates add up rather than cancel. */
  efficiency: number;
  /** mean over steps of cos(dw_k, dw_k of the comparison rule); NaN without one. */
  localAlignment: number;
  /** cos(sum_k dw_k, sum_k dw_k of the comparison rule); NaN without one. */
  globalAlignment: number;
  /** cos(sum_k dw_k, -dL_trial/dW_rec at the trial's starting weights); NaN unless trialGradient. */
  globalAlignmentTrial: number;
  /** With a feedback rule (AdaptConfig.feedbackRule): |dW_fb|_F of this trial. */
  feedbackChange?: number;
  /** With a feedback rule: cos(W_fb after the trial, (C W_out)^T), how well the feedback points along the seen readout. */
  feedbackAlignment?: number;
}

/** The local alignment at one step of a trial listed in stepTrials. */
export interface StepRecord {
  /** Trial index. */
  trial: number;
  /** Step k (the update for e_{k+1}). */
  step: number;
  /** cos(dw_k, dw_k of the comparison rule). */
  localAlignment: number;
}

/** One test (feedback off, every target of the set, fixed initial states), as written to <run>.tests.csv. */
export interface TestRecord {
  /** Trials done before this test. */
  trial: number;
  /** mean(E^2) over the 8 rotated centre-out targets with feedback OFF, from fixed initial states. */
  testError: number;
  /** With testGradient: |W_rec - W_rec at the previous test|_F (NaN at the first test). */
  stepDistance?: number;
  /** With testGradient: the first-order prediction -grad(testError)(previous test) . (W_rec - W_rec at the previous test). */
  predictedDecrease?: number;
}

/** With efficiencyWindows: over trials [end - window, end), |W_end - W_start|_F against the path length sum |dW_trial|_F. */
export interface WindowRecord {
  /** Window length (trials). */
  window: number;
  /** Trials done at the window's end. */
  end: number;
  /** |W_end - W_start|_F. */
  distance: number;
  /** Path length: sum of |dW_trial|_F over the window. */
  path: number;
}

/**
 * The learning run diverged at `trial`: its loss or W_rec stopped being finite. The adapter's weights are
 * then unusable; the logs hold the trials and tests before it. A ParameterError on "lr", because the
 * cure is a lower learning rate.
 */
export class DivergenceError extends ParameterError {
  /**
   * @param trial the trial at which the run diverged
   * @param lr the learning rate applied
   * @param because what stopped being finite
   */
  constructor(readonly trial: number, readonly lr: number, readonly because: string) {
    super("lr", `the run diverged at trial ${trial} (lr ${lr}): ${because}; lower the learning rate`);
    this.name = "DivergenceError";
  }
}

/**
 * A learning rule failed during a trial: it threw, or returned a non-finite update norm. One line names
 * the rule, the trial and the step (and the rule's own message).
 */
export class RuleError extends Error {
  /**
   * @param rule the rule's name
   * @param trial the trial in which it failed
   * @param step the step in which it failed
   * @param because its message (first line)
   */
  constructor(readonly rule: string, readonly trial: number, readonly step: number, readonly because: string) {
    super(`rule ${rule}, trial ${trial}, step ${step}: ${because}`);
    this.name = "RuleError";
  }
}

/** The learning rule of a config: the built-in local rules take the config's projection and legacyRow0. */
function makeAdaptRule(name: string, c: AdaptConfig): LearningRule {
  return createRule(name, isBuiltInLocal(name) ? { ...c.ruleOptions, projection: c.projection, legacyRow0: c.legacyRow0 } : c.ruleOptions);
}

/** The built-in rflo and fed, whose projection and legacyRow0 are fields of AdaptConfig. */
function isBuiltInLocal(name: string): boolean {
  return (name === "rflo" || name === "fed") && ruleRegistry.source(name).kind === "built-in";
}

/** The trial's perturbations and target set, made from an adaptation config. */
function trialSetting(c: AdaptConfig): { targets: TargetSet; perturbations: Perturbation[] } {
  // The target rotation always applies (by 0 too: rotate's arithmetic is part of the shipped results).
  const perturbations = [targetRotation(c.rotationDeg), ...c.perturbations.map(makePerturbation)];
  const targets = c.targets ? makeTargetSet(c.targets) : centreOutTargets({ n: c.reach.nTargets, radii: [c.reach.radius] });
  return { targets, perturbations };
}

/**
 * One adaptation run: a copy of the pre-trained network learning trial after trial (batch 1) with one rule,
 * tested every testEvery trials, with optional passive measurements; saved and resumed exactly.
 */
export class Adapter {
  /** The network being adapted (a copy of the pre-trained one). */
  readonly net: Network;
  /** The learning rule. */
  readonly rule: LearningRule;
  /** The passive comparison rule (AdaptConfig.compare), or null. */
  readonly comparison: LearningRule | null;
  /** The rule that lets W_fb learn (AdaptConfig.feedbackRule), or null (W_fb fixed, the paper's). */
  readonly feedbackRule: FeedbackRule | null;
  /** The learning rate applied (effectiveLr). */
  readonly lr: number;
  /** The test trials: every target of the set, perturbed. */
  readonly testSet: TrialBatch;
  /** Where trials reach to (AdaptConfig.targets) and the perturbations in force (rotation first, then AdaptConfig.perturbations). */
  readonly targets: TargetSet;
  /** The perturbations in force: the target rotation first, then AdaptConfig.perturbations. */
  readonly perturbations: readonly Perturbation[];
  /** The perturbations that act during a rollout (pushes, cursor maps), passed to every rollout. */
  private readonly during: Perturbation[];
  /** The combined cursor map of the perturbations (cursor.ts), or null. */
  readonly cursor: Mat2 | null;
  /** The cursor perturbations, for gradients of a network that drives a plant (it is not seen through them). */
  private readonly plantCursor: Perturbation[];
  /**
   * The network as the learner sees it: `net` itself, or under a cursor map the same weights with the
   * readout seen through it (cursor.seenThrough; W_rec is shared, so learning changes both).
   */
  readonly seen: Network;
  private trialsRng: Rng;
  private initRng: Rng;
  /** Trials done so far. */
  done = 0;
  /** One record per trial. */
  readonly trialLog: TrialRecord[] = [];
  /** One record per test. */
  readonly testLog: TestRecord[] = [];
  /** Per-step alignment of the trials in stepTrials. */
  readonly stepLog: StepRecord[] = [];
  /** Efficiency windows (efficiencyWindows). */
  readonly windowLog: WindowRecord[] = [];
  private windowStart = new Map<number, { w: Float64Array; path: number }>();
  private testAt?: { w: Float64Array; g: Float64Array };
  private testWork: TrialGradientWork = {};
  private ro?: Rollout;
  private trialWork: TrialGradientWork = {};
  private x0: FArray;
  private wStart: FArray;
  /** W_rec r_{k+1}, from a rule that fuses it into its update pass (LearningRule.accumulateWithDrive). */
  private drive?: FArray;
  private readonly dist = new Float64Array(2);
  /** The pre-trained W_rec (for driftNorm). */
  private readonly w0: FArray;
  private dw: FArray;
  private dwCompare: FArray;
  private sumDw: Float64Array;
  private sumCompare: Float64Array;

  /** Adapts a copy of `pretrained` (the original is left untouched). */
  /**
   * @param pretrained the pre-trained network (copied; left untouched)
   * @param config the run's config (adaptConfig)
   */
  constructor(pretrained: Network, readonly config: AdaptConfig) {
    const copy = cloneNetwork(pretrained);
    this.net = config.fbDelay === null ? copy : { config: { ...copy.config, fbDelay: config.fbDelay }, params: copy.params };
    this.rule = makeAdaptRule(config.rule, config);
    this.comparison = config.compare ? createRule(config.compare) : null;
    this.feedbackRule = config.feedbackRule ? makeFeedbackRule(config.feedbackRule) : null;
    this.lr = effectiveLr(config, this.net);
    const setting = trialSetting(config);
    this.targets = setting.targets;
    this.perturbations = setting.perturbations;
    this.during = duringRollout(setting.perturbations);
    this.cursor = cursorMap(setting.perturbations);
    this.seen = seenThrough(this.net, this.cursor);
    this.plantCursor = this.net.config.plant ? this.during.filter((p) => p.cursor !== undefined) : [];
    this.testSet = perturbTargets(allTrials(this.targets, config.reach), this.perturbations);
    this.trialsRng = Rng.seeded(config.seed, "adapt-trials");
    this.initRng = Rng.seeded(config.seed, "adapt-init");
    const n2 = this.net.params.wRec.length;
    const Ctor = this.net.params.wRec instanceof Float64Array ? Float64Array : Float32Array;
    this.wStart = new Ctor(n2);
    this.w0 = Ctor.from(this.net.params.wRec);
    this.dw = new Ctor(n2);
    this.dwCompare = new Ctor(n2);
    this.sumDw = new Float64Array(this.comparison || config.trialGradient ? n2 : 0);
    this.sumCompare = new Float64Array(this.comparison ? n2 : 0);
    this.x0 = new Ctor(this.net.config.N);
  }

  /** Test error now (8 rotated targets, feedback off, fixed initial states), appended to testLog. */
  test(): TestRecord {
    const ro = simulate(this.seen, this.testSet, { feedback: false, init: Rng.seeded(this.config.seed, "eval-init"), curlGain: this.config.curlGain, perturbations: this.during });
    const rec: TestRecord = { trial: this.done, testError: taskLoss(ro) };
    if (this.config.testGradient) {
      const w = this.net.params.wRec;
      if (this.testAt) {
        // grad(testError) = -G * 2 / |E| with G = -d(sum |e|^2 / 2)/dW from trialGradient.
        const { w: w0, g } = this.testAt;
        let d2 = 0;
        let pred = 0;
        for (let i = 0; i < w.length; i++) {
          const d = w[i] - w0[i];
          d2 += d * d;
          pred += g[i] * d;
        }
        rec.stepDistance = Math.sqrt(d2);
        rec.predictedDecrease = (pred * 2) / ro.e.length;
      } else {
        rec.stepDistance = NaN; // the first test has no previous one (NaN, not absent: CSV columns follow the first row)
        rec.predictedDecrease = NaN;
      }
      // Pushes from the hand's own motion (a curl field) are those the test realised, taken as external input.
      const realised = ro.pushers.length ? { ...this.testSet, pushes: Float64Array.from(ro.push) } : this.testSet;
      const g = trialGradient(this.seen, realised, { x0: ro.x.subarray(0, this.testSet.B * this.net.config.N), feedback: false, perturbations: this.plantCursor }, this.testWork);
      this.testAt = { w: Float64Array.from(w), g: Float64Array.from(g) };
    }
    this.testLog.push(rec);
    return rec;
  }

  /** Adds the trial just done to the efficiency windows (efficiencyWindows). */
  private windows(updateNorm: number): void {
    const wRec = this.net.params.wRec;
    for (const w of this.config.efficiencyWindows) {
      let st = this.windowStart.get(w);
      if (!st) {
        st = { w: Float64Array.from(this.w0), path: 0 };
        this.windowStart.set(w, st);
      }
      st.path += updateNorm;
      if (this.done % w !== 0) continue;
      let d2 = 0;
      for (let i = 0; i < wRec.length; i++) {
        const d = wRec[i] - st.w[i];
        d2 += d * d;
      }
      this.windowLog.push({ window: w, end: this.done, distance: Math.sqrt(d2), path: st.path });
      st.w.set(wRec);
      st.path = 0;
    }
  }

  /** One learning trial; `observer` (optional) sees every step before and after the update (e.g. second-order analyses). */
  trial(observer?: StepObserver): TrialRecord {
    const c = this.config;
    const batch = perturbTargets(randomTrials(this.targets, 1, this.trialsRng, c.reach), this.perturbations);
    const net = this.seen;
    const wRec = net.params.wRec;
    this.wStart.set(wRec);
    const ro = beginRollout(net, batch, { feedback: c.control, detachFeedback: true, init: this.initRng, reuse: this.ro, curlGain: c.curlGain, perturbations: this.during });
    this.ro = ro;
    const wFbEff = effectiveFeedback(net);
    this.x0.set(ro.x.subarray(0, net.config.N));
    const rule = this.rule;
    const cmp = this.comparison;
    const record = cmp !== null || c.trialGradient || observer?.afterUpdate !== undefined;
    const keepSteps = cmp !== null && c.stepTrials.includes(this.done);
    this.sumDw.fill(0);
    this.sumCompare.fill(0);
    let stepwise = 0;
    let overflowAt: number | undefined;
    let local = 0;
    const { dw, dwCompare, sumDw, sumCompare } = this;
    const N = net.config.N;
    // A rule that perturbs the units' drives (LearningRule.perturbDrive, e.g. node perturbation) gets trial 0's
    // W_rec r_k to add to before each step. Otherwise a rule that can fuse the next step's recurrent drive
    // into its pass over W_rec saves the forward step that pass (RFLO: one of three passes over 400 x 400 arrays per step).
    const fbRule = this.feedbackRule;
    const perturb = (rule.perturbDrive !== undefined || fbRule?.perturbDrive !== undefined) && ro.B === 1 && net.config.recurrent;
    const fuse = !perturb && rule.accumulateWithDrive !== undefined && ro.B === 1 && net.config.recurrent;
    if ((fuse || perturb) && this.drive?.constructor !== wRec.constructor) this.drive = wRec instanceof Float64Array ? new Float64Array(N) : new Float32Array(N);
    let haveDrive = false;
    let k = -1;
    let who = rule.name;
    try {
      const context = { trial: this.done, targetId: batch.targetId[0], seed: c.seed, go: batch.go[0] };
      rule.reset(net, ro, context);
      who = cmp?.name ?? who;
      cmp?.reset(net, ro, context);
      who = fbRule?.name ?? who;
      fbRule?.reset(net, ro, context);
      who = rule.name;
      for (k = 0; k < ro.T; k++) {
        if (perturb) {
          gemm(false, true, 1, N, N, 1, ro.r.subarray(k * N, (k + 1) * N), N, wRec, N, 0, this.drive!, N);
          rule.perturbDrive?.(k, this.drive!);
          if (fbRule?.perturbDrive) {
            who = fbRule.name;
            fbRule.perturbDrive(k, this.drive!);
            who = rule.name;
          }
          haveDrive = true;
        }
        stepRollout(net, ro, k, wFbEff, undefined, haveDrive ? this.drive : undefined);
        if (fbRule) {
          who = fbRule.name;
          fbRule.observe(k);
          who = rule.name;
        }
        rule.advance(k);
        if (cmp) {
          // The passive rule reads W_rec before this step's update, as the learning rule's own update does.
          who = cmp.name;
          cmp.advance(k);
          dwCompare.fill(0);
          cmp.accumulate(k, dwCompare, 1);
          who = rule.name;
        }
        observer?.beforeUpdate?.(k, { net, ro, batch, x0: this.x0, trial: this.done });
        // W_rec += lr * dw_k, in place: the same with or without measurements
        let norm: number;
        if (fuse && k + 1 < ro.T) {
          norm = rule.accumulateWithDrive!(k, wRec, this.lr, ro.r.subarray((k + 1) * N, (k + 2) * N), this.drive!);
          haveDrive = true;
        } else {
          norm = rule.accumulate(k, wRec, this.lr);
          haveDrive = false;
        }
        if (!(norm >= 0 && norm < Infinity)) {
          // Weights that are no longer finite make any rule's norm NaN: that is divergence, not the rule's
          // fault, and the checks after the trial record it (as they always have).
          // So is an update that overflowed (norm +Infinity: |dw_k|_F past the float range), which a rule
          // reaches at too high a rate before W_rec itself does; it is recorded after the trial.
          if (norm === Infinity || !wRec.every(Number.isFinite)) {
            stepwise = NaN;
            overflowAt ??= k;
            continue;
          }
          throw new Error(`its update norm is ${norm}; accumulate must return |dw_k|_F, a finite number >= 0`);
        }
        stepwise += norm;
        if (!record) continue;
        rule.lastUpdate(dw);
        observer?.afterUpdate?.(k, dw);
        if (cmp) {
          const a = accumulatePair(dw, dwCompare, sumDw, sumCompare);
          local += a;
          if (keepSteps) this.stepLog.push({ trial: this.done, step: k, localAlignment: a });
        } else {
          for (let i = 0; i < dw.length; i++) sumDw[i] += dw[i];
        }
      }
    } catch (e) {
      if (e instanceof RuleError || e instanceof DivergenceError) throw e;
      const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
      throw new RuleError(who, this.done, k < 0 ? 0 : k, k < 0 ? `reset failed: ${msg}` : msg);
    }
    if (wRec.length !== N * N) throw new RuleError(rule.name, this.done, ro.T - 1, `W_rec has ${wRec.length} entries, not ${N * N}`);
    let feedback: { feedbackChange: number; feedbackAlignment: number } | undefined;
    if (fbRule) {
      // W_fb changes between trials only: this trial's control input and learning signal used the W_fb it started with.
      const { wFb, mask } = this.net.params;
      let change: number;
      try {
        change = fbRule.endTrial(wFb, mask);
      } catch (e) {
        throw new RuleError(fbRule.name, this.done, ro.T - 1, e instanceof Error ? e.message.split("\n")[0] : String(e));
      }
      feedback = { feedbackChange: change, feedbackAlignment: cosineTransposed(wFb, net.params.wOut, N, net.config.nOut) };
    }
    const dist = this.dist;
    distances2(wRec, this.wStart, this.w0, dist); // |W - W_start|^2 and |W - W_0|^2
    const updateNorm = Math.sqrt(dist[0]);
    this.done += 1;
    if (this.config.efficiencyWindows.length) this.windows(updateNorm);
    const rec: TrialRecord = {
      trial: this.done - 1,
      target: batch.targetId[0],
      loss: taskLoss(ro),
      updateNorm,
      driftNorm: Math.sqrt(dist[1]),
      stepwiseNorm: stepwise,
      efficiency: stepwise > 0 ? updateNorm / (this.lr * stepwise) : NaN,
      localAlignment: cmp ? local / ro.T : NaN,
      globalAlignment: cmp ? cosine(this.sumDw, this.sumCompare) : NaN,
      globalAlignmentTrial: c.trialGradient ? cosine(this.sumDw, this.trialGradient(batch)) : NaN,
      ...feedback,
    };
    // A non-finite W_rec does not always show in the loss: relu maps NaN drives to rates of 0, so such a
    // network holds the hand still at a finite error. |W - W_start| is finite exactly when W_rec is.
    if (!Number.isFinite(rec.loss)) throw new DivergenceError(rec.trial, this.lr, "the trial loss is not finite");
    if (!Number.isFinite(updateNorm)) throw new DivergenceError(rec.trial, this.lr, "W_rec is no longer finite");
    if (overflowAt !== undefined) throw new DivergenceError(rec.trial, this.lr, `an update's norm overflowed at step ${overflowAt}`);
    if (feedback && !Number.isFinite(feedback.feedbackChange)) throw new DivergenceError(rec.trial, this.lr, "W_fb is no longer finite");
    this.trialLog.push(rec);
    return rec;
  }

  /** -dL_trial/dW_rec of the trial just run, at its starting weights (same initial state, target and feedback). */
  private trialGradient(batch: TrialBatch): FArray {
    const atStart: Network = seenThrough({ config: this.net.config, params: { ...this.net.params, wRec: this.wStart } }, this.cursor);
    // A curl field's pushes are those the trial realised, taken as external input (as the rules take them).
    const realised = this.ro && this.ro.pushers.length ? { ...batch, pushes: Float64Array.from(this.ro.push) } : batch;
    return trialGradient(atStart, realised, { x0: this.x0, feedback: this.config.control, perturbations: this.plantCursor }, this.trialWork);
  }

  /** Runs the remaining trials with tests every testEvery trials; `onTrial` sees each record. */
  run(onTrial?: (rec: TrialRecord, test?: TestRecord) => void): void {
    if (this.done === 0 && this.testLog.length === 0) this.test();
    while (this.done < this.config.trials) {
      const rec = this.trial();
      const test = this.done % this.config.testEvery === 0 || this.done === this.config.trials ? this.test() : undefined;
      onTrial?.(rec, test);
    }
  }

  /** Writes the run so far (adapted W_rec, random streams, logs, config; `meta` e.g. provenance) for `resume`, atomically. */
  save(file: string, meta: Record<string, unknown> = {}): void {
    const rng: Record<string, RngState> = { trials: this.trialsRng.state(), init: this.initRng.state() };
    // The measurement state that spans trials: window starts and the last test's weights and gradient.
    const N = this.net.config.N;
    const tensors: Record<string, Tensor> = {};
    const paths: Record<string, number> = {};
    for (const [w, st] of this.windowStart) {
      tensors[`window.${w}`] = { shape: [N, N], data: st.w };
      paths[w] = st.path;
    }
    if (this.testAt) {
      tensors["test.w"] = { shape: [N, N], data: this.testAt.w };
      tensors["test.grad"] = { shape: [N, N], data: this.testAt.g };
    }
    const metrics = {
      trials: this.trialLog, tests: this.testLog, steps: this.stepLog, windows: this.windowLog, windowPaths: paths, config: this.config,
      ...(this.rule.saveState ? { ruleState: this.rule.saveState() } : {}),
      ...(this.feedbackRule?.saveState ? { feedbackRuleState: this.feedbackRule.saveState() } : {}),
    };
    saveNetwork(file, this.net, { rng, metrics, meta, tensors });
  }

  /** The adaptation config stored in a file written by `save` (to check it before resuming). */
  static savedConfig(file: string): AdaptConfig {
    const saved = (loadCheckpoint(file).metrics as { config?: Partial<AdaptConfig> } | null)?.config;
    if (!saved) throw new CheckpointError(file, "holds no adaptation config (not written by Adapter.save)");
    return adaptConfig(saved);
  }

  /** Continues a run saved by `save`; the config must be the one it was saved with. */
  static resume(pretrained: Network, config: AdaptConfig, file: string): Adapter {
    const ck = loadNetwork(file);
    const saved = ck.metrics as {
      trials: Record<string, number | null>[];
      tests: TestRecord[];
      steps?: StepRecord[];
      windows?: WindowRecord[];
      windowPaths?: Record<string, number>;
      config: unknown;
      ruleState?: unknown;
      feedbackRuleState?: unknown;
    };
    const diff = settingsDiff(adaptConfig(saved.config as Partial<AdaptConfig>), config);
    if (diff.length) throw new CheckpointError(file, `was written with another adaptation config (stored -> requested: ${describeDiff(diff)})`);
    const a = new Adapter(pretrained, config);
    a.net.params.wRec.set(ck.network.params.wRec);
    // A learned W_fb is part of the run's state (saveNetwork stores every parameter).
    if (a.feedbackRule) a.net.params.wFb.set(ck.network.params.wFb);
    a.trialsRng = Rng.fromState(ck.rng.trials);
    a.initRng = Rng.fromState(ck.rng.init);
    // JSON stores NaN (no comparison rule) as null.
    a.trialLog.push(...saved.trials.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ?? NaN])) as unknown as TrialRecord));
    a.testLog.push(...saved.tests.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ?? NaN])) as unknown as TestRecord));
    a.stepLog.push(...(saved.steps ?? []).map((r) => ({ ...r, localAlignment: r.localAlignment ?? NaN })));
    a.windowLog.push(...(saved.windows ?? []));
    for (const [w, path] of Object.entries(saved.windowPaths ?? {})) {
      const t = ck.extra[`window.${w}`];
      if (!t) throw new CheckpointError(file, `misses tensor window.${w}`);
      a.windowStart.set(Number(w), { w: Float64Array.from(t.data), path });
    }
    if (ck.extra["test.w"] && ck.extra["test.grad"]) a.testAt = { w: Float64Array.from(ck.extra["test.w"].data), g: Float64Array.from(ck.extra["test.grad"].data) };
    if (saved.ruleState !== undefined) {
      if (!a.rule.loadState) throw new CheckpointError(file, `holds a state of rule ${a.rule.name}, which has no loadState to restore it`);
      a.rule.loadState(saved.ruleState);
    }
    if (saved.feedbackRuleState !== undefined) {
      if (!a.feedbackRule?.loadState) throw new CheckpointError(file, `holds a state of feedback rule ${a.feedbackRule?.name}, which has no loadState to restore it`);
      a.feedbackRule.loadState(saved.feedbackRuleState);
    }
    a.done = saved.trials.length;
    return a;
  }
}
