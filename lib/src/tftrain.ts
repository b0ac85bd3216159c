/**
 * Pre-training batches on TensorFlow.js: the same step as `Pretrainer.step` (lib/src/train.ts), fresh
 * random reaches, forward, backward by TensorFlow.js autodiff, global-norm clipping and Adam with
 * PyTorch's bias correction (lib/src/optim.ts), with the parameters and Adam's moments kept as
 * tf.Variables on the active backend between batches. Only five scalars come back per batch (the loss
 * parts and the gradient norm); the weights come back only when asked (`exportNetwork`, `adamState`,
 * `syncTo`), e.g. to evaluate or to save a checkpoint.
 *
 * Given the same network, Adam state, config and random streams, a batch here and a native batch draw
 * the same trials and initial state and agree to float32 rounding (lib/test/tftrain.test.ts). TensorFlow.js
 * computes in float32 whatever the Network's dtype.
 *
 * When to use it: on a CUDA GPU with @tensorflow/tfjs-node-gpu, where the large products run on the
 * device. On a CPU-only machine the native engine (OpenBLAS addon, lib/src/kernels.ts) is the better
 * choice: the wasm backend is far slower for this many small sequential ops.
 */
import type * as tfType from "@tensorflow/tfjs";
import { initTf } from "./backend";
import { GRAD_NAMES, GradName, LossValue } from "./loss";
import { AdamState } from "./optim";
import { Network, checkParams, cloneNetwork, paramShapes } from "./network";
import { Rng } from "./rng";
import { N_OUTPUTS, TrialBatch, inputChannels, makeTrials } from "./task";
import { tfLossTerms } from "./tfmodel";
import { BatchResult, PretrainConfig, Pretrainer, pretrainConfig } from "./train";
import { ParameterError, integer } from "./validate";

type TF = typeof tfType;
type Tensor = tfType.Tensor;

/** What one batch reports: as Pretrainer.step's BatchResult, without the evaluation. */
export type TfBatchResult = Omit<BatchResult, "eval">;

/** tfmodel's loss terms as a vector [total, task, rate, param], so that one pass yields the curve's columns too. */
export function tfLossParts(tf: TF, net: Network, p: Record<GradName, tfType.Tensor>, batch: TrialBatch, x0: ArrayLike<number>, detachFeedback: boolean, config: PretrainConfig["loss"]): tfType.Tensor {
  const t = tfLossTerms(tf, net, p, batch, x0, { detachFeedback }, config);
  return tf.stack([t.total, t.task, t.rate, t.param]);
}

/**
 * Pre-training batches on TensorFlow.js with the weights and Adam's moments kept on the backend; see the
 * module comment. `dispose()` frees them.
 */
export class TfPretrainer {
  /** The validated config. */
  readonly config: PretrainConfig;
  /** Names Adam updates, in GRAD_NAMES order (wFb only when config.trainFeedback), as Pretrainer's Adam. */
  readonly trainable: readonly GradName[];
  /** Adam steps taken (batches done), as Adam.t. */
  t: number;
  private readonly params: Record<GradName, tfType.Variable>;
  private readonly m: Record<string, tfType.Variable> = {};
  private readonly v: Record<string, tfType.Variable> = {};
  /** A copy of the start network: tfForward reads its config and mask (its other arrays go stale). */
  private readonly shell: Network;
  private disposed = false;

  /**
   * Uploads `net` (and `adam`, else zero moments at t = 0) to the active backend of `tf`. Later changes to
   * `net` are not seen: the weights live on the backend until `exportNetwork`/`syncTo`.
   * @param tf the tfjs module with the backend to run on (e.g. `(await backend.initTf()).tf`)
   * @param net the start network
   * @param config the pre-training config (validated again)
   * @param adam Adam's state to continue from (default: zero moments, t = 0)
   */
  constructor(readonly tf: TF, net: Network, config: PretrainConfig, adam?: AdamState) {
    checkParams(net);
    const { nIn, nOut } = net.config;
    this.config = pretrainConfig(config);
    if (nIn !== inputChannels(this.config.reach) || nOut !== N_OUTPUTS) {
      throw new ParameterError("net.config", `the task needs nIn=${inputChannels(this.config.reach)}, nOut=${N_OUTPUTS}, got nIn=${nIn}, nOut=${nOut}`);
    }
    this.trainable = GRAD_NAMES.filter((n) => n !== "wFb" || this.config.trainFeedback);
    const shapes = paramShapes(net.config);
    if (adam) checkAdamState(adam, this.trainable, (n) => net.params[n].length);
    this.shell = cloneNetwork(net, "float32");
    this.t = adam ? adam.t : 0;
    this.params = {} as Record<GradName, tfType.Variable>;
    // Inside tidy: the tensors the variables are made from are released, the variables stay.
    tf.tidy(() => {
      for (const name of GRAD_NAMES) {
        const train = this.trainable.includes(name);
        this.params[name] = tf.variable(tf.tensor(Float32Array.from(net.params[name]), shapes[name]), train, undefined, "float32");
        if (!train) continue;
        const moment = (src?: ArrayLike<number>) =>
          tf.variable(src ? tf.tensor(Float32Array.from(src), shapes[name]) : tf.zeros(shapes[name]), false, undefined, "float32");
        this.m[name] = moment(adam?.m[name]);
        this.v[name] = moment(adam?.v[name]);
      }
    });
  }

  /** Starts TensorFlow.js (initTf: the fastest backend that loads) and uploads the start state. */
  static async start(net: Network, config: PretrainConfig, adam?: AdamState): Promise<TfPretrainer> {
    const { tf } = await initTf();
    return new TfPretrainer(tf, net, config, adam);
  }

  /** An engine that continues a native Pretrainer (same network, config and Adam state). */
  static fromPretrainer(tf: TF, p: Pretrainer): TfPretrainer {
    return new TfPretrainer(tf, p.net, p.config, p.adam.state());
  }

  /** Batches done so far. */
  get done(): number {
    return this.t;
  }

  /**
   * One batch, as Pretrainer.step without the evaluation: trials from `trials`, then the initial state
   * from `init` (the draws and order of the native step), forward, backward, clipping, Adam.
   * Throws (leaving weights and moments unchanged) when the gradient norm is not finite.
   */
  step(trials: Rng, init: Rng): TfBatchResult {
    this.alive();
    const tf = this.tf;
    const c = this.config;
    const t0 = performance.now();
    const batch = makeTrials({ task: c.task, reach: c.reach }, c.batchSize, trials);
    const { N, x0Scale } = this.shell.config;
    const x0 = new Float32Array(batch.B * N);
    for (let i = 0; i < x0.length; i++) x0[i] = init.uniformIn(-x0Scale, x0Scale);

    // Forward and backward; the gradient of the total only (dy = [1, 0, 0, 0]).
    const { grads, stats } = tf.tidy(() => {
      const xs = this.trainable.map((n) => this.params[n]);
      const f = (...ts: Tensor[]) => {
        const p = { ...this.params } as Record<GradName, Tensor>;
        this.trainable.forEach((n, i) => (p[n] = ts[i]));
        return tfLossParts(tf, this.shell, p, batch, x0, !c.gradientThroughFeedback, c.loss);
      };
      const { value, grads } = tf.valueAndGrads(f)(xs, tf.tensor1d([1, 0, 0, 0]));
      const sumSq = tf.addN(grads.map((g) => tf.sum(tf.square(g))));
      return { grads, stats: tf.concat([value, tf.reshape(sumSq, [1])]) };
    });
    const [total, task, rate, param, sumSq] = Array.from(stats.dataSync());
    stats.dispose();
    const norm = Math.sqrt(sumSq);
    if (!Number.isFinite(norm)) {
      tf.dispose(grads);
      throw new ParameterError("grads", `gradient norm is ${norm}; the loss diverged`);
    }

    // Clipping (optim.clipGradNorm) and Adam (optim.Adam.step), same formulas and eps placement.
    const coef = c.clipNorm / (norm + 1e-6);
    const scale = coef < 1 ? coef : 1;
    this.t += 1;
    const { lr, beta1, beta2, eps } = c.adam;
    const stepSize = lr / (1 - beta1 ** this.t);
    const sqrtBc2 = Math.sqrt(1 - beta2 ** this.t);
    tf.tidy(() => {
      this.trainable.forEach((name, i) => {
        const g = scale === 1 ? grads[i] : tf.mul(grads[i], scale);
        const m = tf.add(tf.mul(this.m[name], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[name], beta2), tf.mul(tf.square(g), 1 - beta2));
        const p = this.params[name];
        this.m[name].assign(m);
        this.v[name].assign(v);
        p.assign(tf.sub(p, tf.div(tf.mul(m, stepSize), tf.add(tf.div(tf.sqrt(v), sqrtBc2), eps))));
      });
    });
    tf.dispose(grads);
    const value: LossValue = { total, task, rate, param };
    return { batch: this.t, value, gradNorm: norm, seconds: (performance.now() - t0) / 1000 };
  }

  /**
   * The current parameters, copied into `into` (its arrays are overwritten, converted to their dtype) or
   * into a new float32 Network. The mask is the one the engine was started with.
   */
  exportNetwork(into?: Network): Network {
    this.alive();
    const net = into ?? cloneNetwork(this.shell, "float32");
    checkParams(net);
    for (const key of ["N", "nIn", "nOut"] as const) {
      if (net.config[key] !== this.shell.config[key]) throw new ParameterError(`into.config.${key}`, `must be ${this.shell.config[key]} like the engine's network, got ${net.config[key]}`);
    }
    for (const name of GRAD_NAMES) net.params[name].set(this.params[name].dataSync());
    net.params.mask.set(this.shell.params.mask);
    return net;
  }

  /** Adam's step count and moments as new Float32Arrays, in the layout of optim.Adam.state(). */
  adamState(): AdamState {
    this.alive();
    const read = (vars: Record<string, tfType.Variable>) => Object.fromEntries(this.trainable.map((n) => [n, Float32Array.from(vars[n].dataSync())]));
    return { t: this.t, m: read(this.m), v: read(this.v) };
  }

  /** Copies weights and Adam state into a native Pretrainer (then `p.save` writes a checkpoint to resume from). */
  syncTo(p: Pretrainer): void {
    if (p.config.trainFeedback !== this.config.trainFeedback) throw new ParameterError("p.config.trainFeedback", `must be ${this.config.trainFeedback} like the engine's`);
    this.exportNetwork(p.net);
    p.adam.load(this.adamState());
  }

  /** Frees the backend memory of the weights and moments; the engine cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.tf.dispose([...Object.values(this.params), ...Object.values(this.m), ...Object.values(this.v)]);
  }

  private alive(): void {
    if (this.disposed) throw new Error("TfPretrainer: used after dispose()");
  }
}

/** Throws unless `adam` has an integer step count and m, v of the right length for every trainable name. */
function checkAdamState(adam: AdamState, names: readonly GradName[], size: (n: GradName) => number): void {
  integer("adam.t", adam.t, 0);
  for (const key of ["m", "v"] as const) {
    for (const name of names) {
      const a = adam[key]?.[name];
      if (!a || a.length !== size(name)) throw new ParameterError(`adam.${key}.${name}`, `must have ${size(name)} entries, got ${a ? a.length : "none"}`);
    }
  }
}
