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
import { FArray, distances2 } from "./kernels";
import { Network, Rollout, beginRollout, cloneNetwork, effectiveFeedback, simulate, stepRollout, taskLoss } from "./network";
import { Rng, RngState } from "./rng";
import { LearningRule, createRule } from "./rules";
import { TrialBatch } from "./task";
import { Perturbation, duringRollout, makePerturbation, perturbTargets, targetRotation } from "./perturbation";
import { Mat2, cursorMap, seenThrough } from "./cursor";
import { FeedbackRule, makeFeedbackRule } from "./feedbackRules";
import { TargetSet, allTrials, centreOutTargets, makeTargetSet, randomTrials } from "./targets";
import { gemm } from "./kernels";
import { ParameterError } from "./validate";
import { Comparison, EfficiencyWindows, GradientAlignment, Measure, MeasureState, StepRecord, TestGradient, TrialView, WindowRecord, makeMeasure } from "./measures";
import { AdaptConfig, adaptConfig, effectiveLr, isBuiltInLocal } from "./adaptConfig";

export { PAPER_LR, adaptConfig, effectiveLr, ruleName } from "./adaptConfig";
export type { AdaptConfig, AdaptOverrides, RuleInput } from "./adaptConfig";
import { describeDiff, settingsDiff } from "./provenance";
import { CheckpointError, Tensor, loadCheckpoint, loadNetwork, saveNetwork } from "./checkpoint";

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

/** Sees the steps of one learning trial (Adapter.trial's argument): the step hooks of a Measure. */
export type StepObserver = Pick<Measure, "beforeUpdate" | "afterUpdate">;

export type { StepRecord, WindowRecord } from "./measures";

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
  /** The columns of registered measures (Measure.trialColumns). */
  [column: string]: number | undefined;
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
  /** The columns of registered measures (Measure.testColumns). */
  [column: string]: number | undefined;
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
  /** The passive comparison rule (AdaptConfig.compare), or null; its measurements are the `compare:<rule>` measure's. */
  readonly comparison: LearningRule | null;
  /** The rule that lets W_fb learn (AdaptConfig.feedbackRule), or null (W_fb fixed, the paper's). */
  readonly feedbackRule: FeedbackRule | null;
  /**
   * What watches the run (measures/): the built-in measurements the config asks for (the comparison rule,
   * the whole-trial gradient, efficiency windows, the test gradient), then AdaptConfig.measures, in order.
   */
  readonly measures: readonly Measure[];
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
  /** Per-step alignment of the trials in stepTrials (the comparison measure's). */
  readonly stepLog: StepRecord[];
  /** Efficiency windows (efficiencyWindows; the efficiency_windows measure's). */
  readonly windowLog: WindowRecord[];
  /** The measures that came from AdaptConfig.measures (their state is saved under their names). */
  private readonly registered: Measure[];
  private ro?: Rollout;
  private x0: FArray;
  private wStart: FArray;
  /** W_rec r_{k+1}, from a rule that fuses it into its update pass (LearningRule.accumulateWithDrive). */
  private drive?: FArray;
  private readonly dist = new Float64Array(2);
  /** The pre-trained W_rec (for driftNorm). */
  private readonly w0: FArray;
  private dw: FArray;
  /** sum_k dw_k of the current trial (float64), when a measure uses it (Measure.usesSummedUpdate). */
  private readonly summed: Float64Array | null;

  /** Adapts a copy of `pretrained` (the original is left untouched). */
  /**
   * @param pretrained the pre-trained network (copied; left untouched)
   * @param config the run's config (adaptConfig)
   */
  constructor(pretrained: Network, readonly config: AdaptConfig) {
    const copy = cloneNetwork(pretrained);
    this.net = config.fbDelay === null ? copy : { config: { ...copy.config, fbDelay: config.fbDelay }, params: copy.params };
    this.rule = makeAdaptRule(config.rule, config);
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
    this.x0 = new Ctor(this.net.config.N);
    // The built-in measurements, in the order they have always run, then the registered ones.
    const comparison = config.compare ? new Comparison(createRule(config.compare), config.stepTrials) : null;
    const windows = config.efficiencyWindows.length ? new EfficiencyWindows(config.efficiencyWindows, this.w0) : null;
    this.comparison = comparison?.rule ?? null;
    this.stepLog = comparison?.steps ?? [];
    this.windowLog = windows?.windows ?? [];
    this.registered = config.measures.map(makeMeasure);
    this.measures = [
      ...(comparison ? [comparison] : []),
      ...(config.trialGradient ? [new GradientAlignment(this.net, this.cursor, config.control, this.plantCursor)] : []),
      ...(windows ? [windows] : []),
      ...(config.testGradient ? [new TestGradient(this.seen, this.testSet, this.plantCursor)] : []),
      ...this.registered,
    ];
    checkColumns(this.measures);
    this.summed = this.measures.some((m) => m.usesSummedUpdate) ? new Float64Array(n2) : null;
  }

  /** Test error now (8 rotated targets, feedback off, fixed initial states), with the measures' test columns; appended to testLog. */
  test(): TestRecord {
    const ro = simulate(this.seen, this.testSet, { feedback: false, init: Rng.seeded(this.config.seed, "eval-init"), curlGain: this.config.curlGain, perturbations: this.during });
    const rec: TestRecord = { trial: this.done, testError: taskLoss(ro) };
    for (const m of this.measures) {
      if (!m.test) continue;
      const cols = m.test(ro, this.done);
      for (const col of m.testColumns ?? []) rec[col] = cols?.[col] ?? NaN;
    }
    this.testLog.push(rec);
    return rec;
  }

  /** One learning trial; `observer` (optional) sees every step before and after the update, after the measures (e.g. second-order analyses). */
  trial(observer?: StepObserver): TrialRecord {
    const c = this.config;
    const batch = perturbTargets(randomTrials(this.targets, 1, this.trialsRng, c.reach), this.perturbations);
    const net = this.seen;
    const wRec = net.params.wRec;
    this.wStart.set(wRec);
    const ro = beginRollout(net, batch, { feedback: c.control, controlGain: c.controlGain, detachFeedback: true, init: this.initRng, reuse: this.ro, curlGain: c.curlGain, perturbations: this.during });
    this.ro = ro;
    const wFbEff = effectiveFeedback(net);
    this.x0.set(ro.x.subarray(0, net.config.N));
    const rule = this.rule;
    // The observer's hooks bound to it (a class instance keeps its methods on its prototype, which a spread would drop).
    const extra: Measure | null = observer ? { name: "observer", beforeUpdate: observer.beforeUpdate?.bind(observer), afterUpdate: observer.afterUpdate?.bind(observer) } : null;
    const watching: Measure[] = extra ? [...this.measures, extra] : [...this.measures];
    const before = watching.filter((m) => m.beforeUpdate !== undefined);
    const after = watching.filter((m) => m.afterUpdate !== undefined);
    const summed = this.summed;
    const record = after.length > 0 || summed !== null;
    summed?.fill(0);
    let stepwise = 0;
    let overflowAt: number | undefined;
    const { dw } = this;
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
    const context = { trial: this.done, targetId: batch.targetId[0], seed: c.seed, go: batch.go[0] };
    const view: TrialView = { net, ro, batch, x0: this.x0, trial: this.done, context, wStart: this.wStart, lr: this.lr, summed };
    try {
      rule.reset(net, ro, context);
      for (const m of watching) {
        who = m.name;
        m.startTrial?.(view);
      }
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
        // The measures read W_rec before this step's update, as the learning rule's own update does.
        for (let i = 0; i < before.length; i++) {
          who = before[i].name;
          before[i].beforeUpdate!(k, view);
        }
        who = rule.name;
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
        if (summed) addTo(summed, dw);
        for (let i = 0; i < after.length; i++) {
          who = after[i].name;
          after[i].afterUpdate!(k, dw);
        }
        who = rule.name;
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
    const rec: TrialRecord = {
      trial: this.done - 1,
      target: batch.targetId[0],
      loss: taskLoss(ro),
      updateNorm,
      driftNorm: Math.sqrt(dist[1]),
      stepwiseNorm: stepwise,
      efficiency: stepwise > 0 ? updateNorm / (this.lr * stepwise) : NaN,
      localAlignment: NaN,
      globalAlignment: NaN,
      globalAlignmentTrial: NaN,
    };
    for (const m of watching) {
      if (!m.endTrial) continue;
      let cols: Record<string, number> | void;
      try {
        cols = m.endTrial(view, updateNorm, this.done);
      } catch (e) {
        throw new RuleError(m.name, rec.trial, ro.T - 1, e instanceof Error ? e.message.split("\n")[0] : String(e));
      }
      for (const col of m.trialColumns ?? []) rec[col] = cols?.[col] ?? NaN;
    }
    Object.assign(rec, feedback);
    // A non-finite W_rec does not always show in the loss: relu maps NaN drives to rates of 0, so such a
    // network holds the hand still at a finite error. |W - W_start| is finite exactly when W_rec is.
    if (!Number.isFinite(rec.loss)) throw new DivergenceError(rec.trial, this.lr, "the trial loss is not finite");
    if (!Number.isFinite(updateNorm)) throw new DivergenceError(rec.trial, this.lr, "W_rec is no longer finite");
    if (overflowAt !== undefined) throw new DivergenceError(rec.trial, this.lr, `an update's norm overflowed at step ${overflowAt}`);
    if (feedback && !Number.isFinite(feedback.feedbackChange)) throw new DivergenceError(rec.trial, this.lr, "W_fb is no longer finite");
    this.trialLog.push(rec);
    return rec;
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
    // What the measures carry across trials. The built-in ones keep the layout the files have always had
    // (steps, windows, windowPaths; tensors window.<w>, test.w, test.grad); a registered one's goes under
    // metrics.measureStates.<name> and tensors measure.<name>.<key>.
    const tensors: Record<string, Tensor> = {};
    const builtIn: Record<string, unknown> = { steps: this.stepLog, windows: this.windowLog, windowPaths: {} };
    const measureStates: Record<string, unknown> = {};
    for (const m of this.measures) {
      const st = m.saveState?.();
      if (!st) continue;
      if (this.registered.includes(m)) {
        measureStates[m.name] = st.metrics ?? {};
        for (const [key, t] of Object.entries(st.tensors ?? {})) tensors[`measure.${m.name}.${key}`] = t;
      } else {
        Object.assign(builtIn, st.metrics);
        Object.assign(tensors, st.tensors);
      }
    }
    const metrics = {
      trials: this.trialLog, tests: this.testLog, ...builtIn, config: this.config,
      ...(Object.keys(measureStates).length ? { measureStates } : {}),
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
      config: unknown;
      measureStates?: Record<string, Record<string, unknown>>;
      ruleState?: unknown;
      feedbackRuleState?: unknown;
    } & Record<string, unknown>;
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
    for (const m of a.measures) {
      if (!m.loadState) continue;
      const registered = a.registered.includes(m);
      const prefix = `measure.${m.name}.`;
      const state: MeasureState = registered
        ? { metrics: saved.measureStates?.[m.name] ?? {}, tensors: Object.fromEntries(Object.entries(ck.extra).filter(([key]) => key.startsWith(prefix)).map(([key, t]) => [key.slice(prefix.length), t])) }
        : { metrics: saved, tensors: ck.extra };
      try {
        m.loadState(state);
      } catch (e) {
        throw new CheckpointError(file, `measure ${m.name}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
      }
    }
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

/** The columns every trial record has before any measure's. */
const CORE_TRIAL_COLUMNS = ["trial", "target", "loss", "updateNorm", "driftNorm", "stepwiseNorm", "efficiency", "feedbackChange", "feedbackAlignment"];

/** Refuses measures whose columns clash with the core's or with each other's (one line naming both). */
function checkColumns(measures: readonly Measure[]): void {
  const owner = new Map<string, string>(CORE_TRIAL_COLUMNS.map((c) => [`trial:${c}`, "the adaptation loop"]));
  owner.set("test:trial", "the adaptation loop");
  owner.set("test:testError", "the adaptation loop");
  for (const m of measures) {
    for (const [kind, cols] of [["trial", m.trialColumns ?? []], ["test", m.testColumns ?? []]] as const) {
      for (const col of cols) {
        const key = `${kind}:${col}`;
        const other = owner.get(key);
        if (other !== undefined) throw new ParameterError("measures", `measure ${m.name}'s ${kind} column ${col} is already ${other}'s`);
        owner.set(key, `measure ${m.name}`);
      }
    }
  }
}

/** sum += x over whole arrays (float64 sum). */
function addTo(sum: Float64Array, x: FArray): void {
  for (let i = 0; i < x.length; i++) sum[i] += x[i];
}
