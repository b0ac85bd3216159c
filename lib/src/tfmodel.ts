/**
 * The network and its pre-training loss written in TensorFlow.js ops, so that TensorFlow.js's
 * automatic differentiation can check our hand-written BPTT (lib/src/loss.ts) and so that the
 * TensorFlow.js backends can be benchmarked as an engine. Float32 only (what tfjs computes in).
 */
import type * as tfType from "@tensorflow/tfjs";
import { LossConfig, lossConfig, GRAD_NAMES } from "./loss";
import { Network, ParamName, checkTaskFits, paramShapes, plantOf, feedbackFilter } from "./network";
import { tfStep } from "./plant/tf";
import { TrialBatch } from "./task";
import type { Mat2 } from "./cursor";

type TF = typeof tfType;
type Tensor = tfType.Tensor;

export interface TfLossOptions {
  feedback?: boolean;
  detachFeedback?: boolean;
  /**
   * A cursor map C (cursor.ts) applied explicitly, v = C (W_out r + b_out + p), to the network as it is
   * (not seen through C): autodiff then differentiates through C itself, an independent check of
   * `cursor.seenThrough`.
   */
  cursor?: Mat2;
}

/** Identity whose gradient is zero (tfjs has no stop_gradient op). */
function stopGradient(tf: TF): (x: Tensor) => Tensor {
  return tf.customGrad((x: any) => ({ value: (x as Tensor).clone(), gradFunc: (dy: any) => tf.zerosLike(dy as Tensor) })) as (x: Tensor) => Tensor;
}

/**
 * The loss of `net` on `batch` from initial state x0 [B, N], as a tfjs scalar built from the parameter
 * tensors in `p` (so that tf.grads can differentiate it). Same equations as network.simulate + loss.loss.
 */
export function tfLoss(tf: TF, net: Network, p: Record<Exclude<ParamName, "mask">, Tensor>, batch: TrialBatch, x0: ArrayLike<number>, opts: TfLossOptions = {}, config: Partial<LossConfig> = {}): tfType.Scalar {
  return tfLossTerms(tf, net, p, batch, x0, opts, config).total as tfType.Scalar;
}

/** The loss and its parts (the pre-training curve's columns) as tfjs scalars; `total` is what tfLoss returns. */
export function tfLossTerms(tf: TF, net: Network, p: Record<Exclude<ParamName, "mask">, Tensor>, batch: TrialBatch, x0: ArrayLike<number>, opts: TfLossOptions = {}, config: Partial<LossConfig> = {}): { total: Tensor; task: Tensor; rate: Tensor; param: Tensor } {
  const c = lossConfig(config);
  const { N, nOut } = net.config;
  const { T, B } = batch;
  const { E, sumR2 } = tfForward(tf, net, p, batch, x0, opts);
  let sumE2: Tensor = tf.scalar(0);
  for (const e of E) sumE2 = tf.add(sumE2, tf.sum(tf.square(e)));
  const task = tf.div(sumE2, (T + 1) * B * nOut);
  const rate = tf.mul(c.rateWeight / ((T + 1) * B * N), sumR2);
  let param: Tensor = tf.scalar(0);
  for (const name of GRAD_NAMES) {
    const n = tf.norm(p[name]);
    param = tf.add(param, tf.mul(name === "wRec" ? c.recWeight : c.paramWeight, c.penalty === "norm" ? n : tf.square(n)));
  }
  return { total: tf.add(tf.add(task, rate), param), task, rate, param };
}

/** The forward pass in tfjs ops: the stored errors E[0..T] ([B, nOut] each) and the sum of squared rates. */
export function tfForward(tf: TF, net: Network, p: Record<Exclude<ParamName, "mask">, Tensor>, batch: TrialBatch, x0: ArrayLike<number>, opts: TfLossOptions = {}): { E: Tensor[]; sumR2: Tensor } {
  const plant = plantOf(net.config);
  const { N, nIn, nOut, dt, tau, fbDelay, recurrent, errorMode, e0 } = net.config;
  const { T, B } = batch;
  checkTaskFits(net.config, batch);
  const alpha = dt / tau;
  const feedback = opts.feedback ?? true;
  const detach = stopGradient(tf);
  const mask = tf.tensor2d(Float32Array.from(net.params.mask), [N, nOut]);
  const F = tf.mul(mask, p.wFb);
  const u = tf.tensor3d(Float32Array.from(batch.inputs), [T, B, nIn]);
  const ref = tf.tensor3d(Float32Array.from(batch.reference), [T, B, nOut]);
  const push = tf.tensor3d(Float32Array.from(batch.pushes), [T, B, nOut]);
  const at = (a: Tensor, k: number) => tf.squeeze(tf.slice(a, [k, 0, 0], [1, B, a.shape[2] as number]), [0]);
  const Ct = opts.cursor ? tf.tensor2d([opts.cursor[0], opts.cursor[2], opts.cursor[1], opts.cursor[3]], [2, 2]) : null;
  const seen = (v: Tensor) => (Ct ? tf.matMul(v, Ct) : v);
  const readout = (r: Tensor) => tf.add(tf.matMul(r, p.wOut, false, true), p.bOut);

  let x: Tensor = tf.tensor2d(Float32Array.from(x0), [B, N]);
  let r = tf.relu(x);
  let sumR2 = tf.sum(tf.square(r));
  let e = e0 === "readout" ? seen(readout(r)) : tf.zeros([B, nOut]);
  const eStart = e;
  const filter = feedbackFilter(net.config);
  // With a plant (NetworkConfig.plant) the hand's velocity comes out of its dynamics (plant/tf.ts).
  let s: Tensor | null = null;
  if (plant) {
    const s0 = new Float64Array(B * plant.nState);
    plant.init(B, batch.start, s0);
    s = tf.tensor2d(Float32Array.from(s0), [B, plant.nState]);
  }
  const E: Tensor[] = [tf.zeros([B, nOut])];
  for (let k = 0; k < T; k++) {
    let drive = tf.add(tf.matMul(at(u, k), p.wIn, false, true), p.b);
    if (recurrent) drive = tf.add(drive, tf.matMul(r, p.wRec, false, true));
    if (feedback) {
      // E[j] (zero for j < 1), plus kappa times the velocity error (E[j] - E[j-1]) / dt, E[0] read as e_0.
      const j = k - fbDelay;
      let eps = j < 1 ? tf.zeros([B, nOut]) : E[j];
      if (j >= 1 && filter.prev !== 0) eps = tf.add(tf.mul(filter.now, E[j]), tf.mul(filter.prev, j === 1 ? eStart : E[j - 1]));
      drive = tf.add(drive, tf.matMul(opts.detachFeedback ? detach(eps) : eps, F, false, true));
    }
    x = tf.add(tf.mul(1 - alpha, x), tf.mul(alpha, drive));
    r = tf.relu(x);
    let v: Tensor;
    if (plant) {
      const step = tfStep(tf, plant, s!, readout(r), tf.mul(plant.pushScale, at(push, k)));
      s = step.next;
      v = seen(step.v); // a cursor map acts on the hand's velocity the plant produces
    } else v = seen(tf.add(readout(r), at(push, k)));
    const err = tf.sub(at(ref, k), v);
    e = errorMode === "position" ? tf.add(e, tf.mul(dt, err)) : err;
    E.push(e);
    sumR2 = tf.add(sumR2, tf.sum(tf.square(r)));
  }
  return { E, sumR2 };
}

/** Loss value and gradients by TensorFlow.js autodiff, returned as Float32Arrays by parameter name. */
export function tfLossGradient(tf: TF, net: Network, batch: TrialBatch, x0: ArrayLike<number>, opts: TfLossOptions = {}, config: Partial<LossConfig> = {}): { value: number; grads: Record<string, Float32Array> } {
  const shapes = paramShapes(net.config);
  const out: { value: number; grads: Record<string, Float32Array> } = { value: NaN, grads: {} };
  tf.tidy(() => {
    const inputs = GRAD_NAMES.map((n) => tf.tensor(Float32Array.from(net.params[n]), shapes[n]));
    const f = (...ts: Tensor[]) => tfLoss(tf, net, Object.fromEntries(GRAD_NAMES.map((n, i) => [n, ts[i]])) as Record<Exclude<ParamName, "mask">, Tensor>, batch, x0, opts, config);
    const { value, grads } = tf.valueAndGrads(f)(inputs);
    out.value = value.dataSync()[0];
    GRAD_NAMES.forEach((n, i) => (out.grads[n] = grads[i].dataSync() as Float32Array));
  });
  return out;
}

/**
 * d l_{k+1} / d W_rec by autodiff, l_{k+1} = mean over output dimensions of e_{k+1}^2 for trial 0, with the
 * fed-back error detached (what online BPTT computes at step k). Returns [N, N].
 */
export function tfStepLossGradient(tf: TF, net: Network, batch: TrialBatch, x0: ArrayLike<number>, k: number, opts: { feedback?: boolean } = {}): Float32Array {
  const shapes = paramShapes(net.config);
  const nOut = net.config.nOut;
  let out: Float32Array = new Float32Array(0);
  tf.tidy(() => {
    const p = Object.fromEntries(GRAD_NAMES.map((n) => [n, tf.tensor(Float32Array.from(net.params[n]), shapes[n])])) as Record<Exclude<ParamName, "mask">, Tensor>;
    const f = (wRec: Tensor) => {
      const { E } = tfForward(tf, net, { ...p, wRec }, batch, x0, { ...opts, detachFeedback: true });
      const e0 = tf.slice(E[k + 1], [0, 0], [1, nOut]);
      return tf.mean(tf.square(e0)) as tfType.Scalar;
    };
    const g = tf.grad(f)(p.wRec);
    out = g.dataSync() as Float32Array;
  });
  return out;
}
