/**
 * Pre-training by BPTT through the whole trial and the feedback loop (SPEC §4): fresh random reaches
 * every batch, loss = mean(E^2) + 2e-3 mean(r^2) + 1e-3 (parameter norms), global-norm clipping at
 * 0.2, Adam(1e-3). A `Pretrainer` holds everything needed to resume bit-for-bit: the network, Adam's
 * moments, the random streams and the curves; `save`/`resume` put all of it in one checkpoint.
 */
import { FArray } from "./kernels";
import { Adam, AdamConfig, clipGradNorm } from "./optim";
import { GRAD_NAMES, Grads, GradWorkspace, LossConfig, LossValue, lossConfig, lossGradient, zeroGrads } from "./loss";
import { Network, NetworkConfig, Rollout, initNetwork, networkConfig, simulate, taskLoss } from "./network";
import { Rng, RngState } from "./rng";
import { ReachConfig, TrialBatch, centreOutAll, inputChannels, makeTrials, reachConfig, rotate, TaskName, TASK_NAMES, variantOf } from "./task";
import { feedbackAlignment } from "./analysis/alignment";
import { controlAlignment, grandMean } from "./analysis/activityGradient";
import { CheckpointError, Tensor, loadNetwork, saveNetwork } from "./checkpoint";
import { ParameterError, integer, oneOf, positive } from "./validate";

/** Everything a pre-training run depends on. Defaults and validation: `pretrainConfig`. */
export interface PretrainConfig {
  /** The run's seed: weights, trials and initial states draw from its streams (0). */
  seed: number;
  /** Number of batches (the reference's "epochs"): 5000. */
  batches: number;
  /** Trials per batch (256). */
  batchSize: number;
  /** The training task ("random"; "random_pushed" adds velocity pushes). */
  task: TaskName;
  /** The network to train (its nIn must match the reach's input channels). */
  network: NetworkConfig;
  /** The reach of the training trials and test sets. */
  reach: ReachConfig;
  /** The loss's penalty weights. */
  loss: LossConfig;
  /** Adam's hyperparameters (lr 1e-3). */
  adam: AdamConfig;
  /** Maximum global gradient norm; larger gradients are scaled down to it (0.2). */
  clipNorm: number;
  /** Train W_fb (default: exactly when the network has feedback, fbDensity > 0, as the reference). */
  trainFeedback: boolean;
  /** Backpropagate through the fed-back error (the reference's pre-training: true). */
  gradientThroughFeedback: boolean;
  /** Evaluate the test sets every this many batches (and at the end). */
  evalEvery: number;
  /** Rotation of the rotated centre-out test set, degrees. */
  testRotationDeg: number;
  /** Random reaches in the random test set. */
  testTrials: number;
}

/**
 * A complete pre-training config: the reference's settings (5000 batches of 256 random reaches, clipping at
 * 0.2, Adam 1e-3, evaluation every 10 batches) with `overrides` on top, validated. The network's nIn
 * follows the reach variant unless given.
 * @throws ParameterError for an invalid value
 */
export function pretrainConfig(overrides: Partial<Omit<PretrainConfig, "network" | "reach" | "loss" | "adam">> & {
  network?: Partial<NetworkConfig>;
  reach?: Partial<ReachConfig>;
  loss?: Partial<LossConfig>;
  adam?: Partial<AdamConfig>;
} = {}): PretrainConfig {
  const reach = reachConfig(overrides.reach);
  const network = networkConfig({ nIn: inputChannels(reach), ...overrides.network });
  if (network.nIn !== inputChannels(reach)) {
    throw new ParameterError("network.nIn", `the ${variantOf(reach)} task has ${inputChannels(reach)} input channels, got ${network.nIn}`);
  }
  const c: PretrainConfig = {
    seed: 0,
    batches: 5000,
    batchSize: 256,
    task: "random",
    clipNorm: 0.2,
    trainFeedback: network.fbDensity > 0,
    gradientThroughFeedback: true,
    evalEvery: 10,
    testRotationDeg: 30,
    testTrials: 100,
    ...overrides,
    network,
    reach,
    loss: lossConfig(overrides.loss),
    adam: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, ...overrides.adam },
  };
  integer("seed", c.seed, 0);
  integer("batches", c.batches, 0);
  integer("batchSize", c.batchSize, 1);
  oneOf("task", c.task, TASK_NAMES);
  positive("clipNorm", c.clipNorm);
  integer("evalEvery", c.evalEvery, 1);
  integer("testTrials", c.testTrials, 1);
  return c;
}

/** Columns of the per-batch training curve. */
export const TRAIN_COLUMNS = ["batch", "loss", "task", "rate", "param", "gradNorm", "seconds"] as const;
/**
 * Columns of the evaluation curve (test losses are mean(E^2); "fb"/"nofb": feedback on/off).
 * controlCos*: on the rotated set with feedback on, the mean over targets and steps of cos(c_k, g_k) with
 * the one-step and the adjoint activity-space gradient (analysis/activityGradient.ts, result F2); NaN for a
 * network without feedback. Checkpoints written before these columns existed read them as NaN.
 */
export const EVAL_COLUMNS = ["batch", "centreOut_fb", "centreOut_nofb", "rotated_fb", "rotated_nofb", "random_fb", "random_nofb", "wfbAlignment", "controlCosOneStep", "controlCosAdjoint"] as const;

/** The fixed test sets of a pre-training run. */
export interface TestSets {
  /** One trial per centre-out target (nTargets of the reach: 8). */
  centreOut: TrialBatch;
  /** The centre-out set rotated by testRotationDeg. */
  rotated: TrialBatch;
  /** testTrials random reaches, drawn from the run's "test" stream. */
  random: TrialBatch;
}

/** The test sets of a config; the same config always gives the same sets. */
export function testSets(c: PretrainConfig): TestSets {
  const centreOut = centreOutAll(c.reach);
  return {
    centreOut,
    rotated: rotate(centreOut, c.testRotationDeg),
    random: makeTrials({ task: "random", reach: c.reach }, c.testTrials, Rng.seeded(c.seed, "test")),
  };
}

/** One evaluation: a value per `EVAL_COLUMNS` name (batch is NaN until the trainer sets it). */
export type EvalRow = Record<(typeof EVAL_COLUMNS)[number], number>;

/** Test losses of a network on the standard test sets, each with feedback on and off, from fixed initial states. */
export function evaluate(net: Network, sets: TestSets, seed: number): EvalRow {
  const sim = (batch: TrialBatch, feedback: boolean) => simulate(net, batch, { feedback, init: Rng.seeded(seed, "eval-init") });
  const run = (batch: TrialBatch, feedback: boolean) => taskLoss(sim(batch, feedback));
  const rotatedFb = sim(sets.rotated, true);
  // The control-alignment measures have the massless hand built in: NaN with a plant (issue 24: not yet extended).
  const control = net.config.plant ? null : controlAlignment(net, rotatedFb);
  return {
    batch: NaN,
    centreOut_fb: run(sets.centreOut, true),
    centreOut_nofb: run(sets.centreOut, false),
    rotated_fb: taskLoss(rotatedFb),
    rotated_nofb: run(sets.rotated, false),
    random_fb: run(sets.random, true),
    random_nofb: run(sets.random, false),
    wfbAlignment: feedbackAlignment(net),
    controlCosOneStep: control ? grandMean(control.oneStep.cosine) : NaN,
    controlCosAdjoint: control ? grandMean(control.adjoint.cosine) : NaN,
  };
}

/** What `Pretrainer.step` reports about one batch. */
export interface BatchResult {
  /** Batches done before this one (0 for the first). */
  batch: number;
  /** The batch's loss, before the update. */
  value: LossValue;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Wall-clock seconds of the batch (without evaluation). */
  seconds: number;
  /** The evaluation, on batches where one ran. */
  eval?: EvalRow;
}

/**
 * A pre-training run in progress: `Pretrainer.create(config)` starts one, `step()` trains one batch, `save`
 * and `Pretrainer.resume` continue it bit for bit.
 */
export class Pretrainer {
  /** The fixed test sets (`testSets(config)`). */
  readonly sets: TestSets;
  /** The optimiser, over the trainable parameters (W_fb only with trainFeedback). */
  readonly adam: Adam;
  private grads: Grads;
  private rollout?: Rollout;
  private work?: GradWorkspace;
  /** Rows of TRAIN_COLUMNS and EVAL_COLUMNS so far. */
  trainCurve: number[][] = [];
  /** Rows of EVAL_COLUMNS so far, one per evaluation. */
  evalCurve: number[][] = [];

  /**
   * @param config the validated config
   * @param net the network being trained (updated in place)
   * @param trials the stream the training trials draw from
   * @param init the stream the initial states draw from
   */
  private constructor(
    readonly config: PretrainConfig,
    readonly net: Network,
    readonly trials: Rng,
    readonly init: Rng,
  ) {
    this.sets = testSets(config);
    this.adam = new Adam(this.trainable(), config.adam);
    this.grads = zeroGrads(net);
  }

  /** A new run: a fresh network drawn from the config's seed, no batches done. */
  static create(config: PretrainConfig): Pretrainer {
    const net = initNetwork(config.network, Rng.seeded(config.seed, "weights"));
    return new Pretrainer(config, net, Rng.seeded(config.seed, "trials"), Rng.seeded(config.seed, "init"));
  }

  /** Continues from a checkpoint written by `save` (optionally with more batches in total). */
  static resume(file: string, batches?: number): Pretrainer {
    const ck = loadNetwork(file);
    const saved = ck.meta.pretrain as PretrainConfig | undefined;
    if (!saved) throw new CheckpointError(file, "has no pre-training state (meta.pretrain missing)");
    const config = pretrainConfig({ ...saved, batches: batches ?? saved.batches });
    const p = new Pretrainer(config, ck.network, Rng.fromState(ck.rng.trials), Rng.fromState(ck.rng.init));
    const names = Object.keys(p.adam.m);
    const tensor = (name: string): FArray => {
      const t = ck.extra[name];
      if (!t || t.data instanceof Int32Array) throw new CheckpointError(file, `missing optimiser tensor ${name}`);
      return t.data;
    };
    p.adam.load({
      t: Number(ck.meta.adamStep),
      m: Object.fromEntries(names.map((n) => [n, tensor(`adam.m.${n}`)])),
      v: Object.fromEntries(names.map((n) => [n, tensor(`adam.v.${n}`)])),
    });
    const stored = ck.metrics as { trainColumns?: string[]; evalColumns?: string[] } | null;
    p.trainCurve = unstack(ck.extra["curves.train"], stored?.trainColumns ?? TRAIN_COLUMNS, TRAIN_COLUMNS);
    p.evalCurve = unstack(ck.extra["curves.eval"], stored?.evalColumns ?? EVAL_COLUMNS.slice(0, 8), EVAL_COLUMNS);
    return p;
  }

  /** Batches done so far. */
  get done(): number {
    return this.adam.t;
  }

  private trainable(): Record<string, FArray> {
    const names = GRAD_NAMES.filter((n) => n !== "wFb" || this.config.trainFeedback);
    return Object.fromEntries(names.map((n) => [n, this.net.params[n]]));
  }

  /** One batch: fresh trials, forward, backward, clipping, Adam; evaluates every evalEvery batches. */
  step(): BatchResult {
    const c = this.config;
    const t0 = performance.now();
    const batch = makeTrials({ task: c.task, reach: c.reach }, c.batchSize, this.trials);
    this.rollout = simulate(this.net, batch, { init: this.init, reuse: this.rollout, detachFeedback: !c.gradientThroughFeedback });
    const { value, work } = lossGradient(this.net, this.rollout, this.grads, c.loss, this.work);
    this.work = work;
    const trainable = this.trainable();
    const grads = Object.fromEntries(Object.keys(trainable).map((n) => [n, this.grads[n as keyof Grads]]));
    const { norm } = clipGradNorm(Object.values(grads), c.clipNorm);
    this.adam.step(trainable, grads);
    const seconds = (performance.now() - t0) / 1000;
    const batchIndex = this.done;
    this.trainCurve.push([batchIndex, value.total, value.task, value.rate, value.param, norm, seconds]);
    const result: BatchResult = { batch: batchIndex, value, gradNorm: norm, seconds };
    if (batchIndex % c.evalEvery === 0 || batchIndex === c.batches) result.eval = this.evaluateNow();
    return result;
  }

  /** Evaluates the test sets now and appends a row to the evaluation curve (once per batch count). */
  evaluateNow(): EvalRow {
    const row = { ...evaluate(this.net, this.sets, this.config.seed), batch: this.done };
    const last = this.evalCurve[this.evalCurve.length - 1];
    if (!last || last[0] !== this.done) this.evalCurve.push(EVAL_COLUMNS.map((k) => row[k]));
    return row;
  }

  /** Writes the complete state atomically (network, optimiser, streams, curves, config). */
  save(file: string, extraMeta: Record<string, unknown> = {}): void {
    const tensors: Record<string, Tensor> = {
      "curves.train": stack(this.trainCurve, TRAIN_COLUMNS.length),
      "curves.eval": stack(this.evalCurve, EVAL_COLUMNS.length),
    };
    for (const name of Object.keys(this.adam.m)) {
      tensors[`adam.m.${name}`] = { shape: [this.adam.m[name].length], data: this.adam.m[name] };
      tensors[`adam.v.${name}`] = { shape: [this.adam.v[name].length], data: this.adam.v[name] };
    }
    const last = this.evalCurve[this.evalCurve.length - 1];
    saveNetwork(file, this.net, {
      rng: { trials: this.trials.state(), init: this.init.state() } as Record<string, RngState>,
      metrics: {
        batchesDone: this.done,
        trainColumns: TRAIN_COLUMNS,
        evalColumns: EVAL_COLUMNS,
        lastEval: last ? Object.fromEntries(EVAL_COLUMNS.map((k, i) => [k, last[i]])) : null,
      },
      meta: { kind: "pretrain", seed: this.config.seed, pretrain: this.config, adamStep: this.adam.t, ...extraMeta },
      tensors,
    });
  }
}

function stack(rows: number[][], width: number): Tensor {
  const data = new Float64Array(rows.length * width);
  rows.forEach((r, i) => data.set(r, i * width));
  return { shape: [rows.length, width], data };
}

/** Rows of a stored curve with columns `stored`, rearranged to `wanted` (NaN for columns it lacks). */
function unstack(t: Tensor | undefined, stored: readonly string[], wanted: readonly string[]): number[][] {
  if (!t) return [];
  const width = stored.length;
  if (t.shape[1] !== width) throw new RangeError(`a stored curve has ${t.shape[1]} columns but names ${width}`);
  const at = wanted.map((name) => stored.indexOf(name));
  return Array.from({ length: t.shape[0] }, (_, i) => at.map((j) => (j < 0 ? NaN : t.data[i * width + j])));
}

/** The curves of a saved pre-training checkpoint as column arrays, for plots and tables. */
export function curves(file: string): {
  /** One array per TRAIN_COLUMNS name, one entry per batch. */
  train: Record<string, Float64Array>;
  /** One array per EVAL_COLUMNS name, one entry per evaluation (NaN for columns the checkpoint predates). */
  eval: Record<string, Float64Array>;
} {
  const ck = loadNetwork(file);
  const stored = ck.metrics as { trainColumns?: string[]; evalColumns?: string[] } | null;
  const columns = (t: Tensor | undefined, names: readonly string[], wanted: readonly string[]) => {
    const rows = unstack(t, names, wanted);
    return Object.fromEntries(wanted.map((n, j) => [n, Float64Array.from(rows, (r) => r[j])]));
  };
  return {
    train: columns(ck.extra["curves.train"], stored?.trainColumns ?? TRAIN_COLUMNS, TRAIN_COLUMNS),
    eval: columns(ck.extra["curves.eval"], stored?.evalColumns ?? EVAL_COLUMNS.slice(0, 8), EVAL_COLUMNS),
  };
}

/**
 * The reach a pre-trained checkpoint was trained on, from its meta.pretrain: the instructed-delay
 * variant's config for networks trained on it, else the paper's default reach (so adaptation of the
 * paper's networks keeps its own default settings).
 */
export function pretrainedReach(meta: Record<string, unknown> | undefined): ReachConfig {
  const saved = (meta?.pretrain as { reach?: Partial<ReachConfig> } | undefined)?.reach;
  return saved?.preparation ? reachConfig(saved) : reachConfig();
}
