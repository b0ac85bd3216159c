import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initTf } from "../src/backend";
import { GRAD_NAMES } from "../src/loss";
import { FArray } from "../src/kernels";
import { PARAM_NAMES, cloneNetwork, initNetwork, paramShapes } from "../src/network";
import { Rng } from "../src/rng";
import { makeTrials, reachVariant } from "../src/task";
import { tfLoss } from "../src/tfmodel";
import { Pretrainer, PretrainConfig, pretrainConfig } from "../src/train";
import { TfPretrainer, tfLossParts } from "../src/tftrain";

// Never evaluates during these few batches (evaluation does not touch the weights or the training streams).
const small = (over: Parameters<typeof pretrainConfig>[0] = {}): PretrainConfig =>
  pretrainConfig({ seed: 3, batches: 1000, batchSize: 8, evalEvery: 1000, testTrials: 1, ...over, network: { N: 16, ...over.network } });

/** |a - b| / |ref| over a whole array (Frobenius norms). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>, ref: ArrayLike<number> = a): number {
  let d = 0;
  let r = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    r += ref[i] ** 2;
  }
  return r === 0 ? (d === 0 ? 0 : Infinity) : Math.sqrt(d / r);
}

// Tolerances (float32 everywhere: the native float32 engine vs TensorFlow.js). Measured on the wasm and
// cpu backends over seeds 1-8, both cases below, 5 batches each (largest relative differences, Frobenius):
//   parameters 4.0e-7 (a few float32 ulps, mostly in the 2-entry b_out; 3e-8 for this file's seed),
//   change of the parameters since the start 1.5e-5, Adam's moments 3.1e-5 (m is the clipped gradient,
//   so this compares the gradients themselves; b_out's long sums are the worst), loss parts and gradient
//   norm 6.2e-7. Each tolerance is about 3 times the largest value measured.
const TOL_PARAM = 1e-6;
const TOL_UPDATE = 5e-5;
const TOL_MOMENT = 1e-4;
const TOL_LOSS = 2e-6;

const cases: { label: string; over: Parameters<typeof pretrainConfig>[0] }[] = [
  { label: "default (W_fb trained, gradient through the feedback loop)", over: {} },
  { label: "pushed reaches, feedback detached, W_fb frozen, delay 2", over: { task: "random_pushed", gradientThroughFeedback: false, trainFeedback: false, network: { fbDelay: 2 } } },
  { label: "the instructed-delay variant (4 inputs, per-trial go, T 200)", over: { reach: reachVariant("instructed_delay") } },
];

for (const c of cases) {
  test(`a TensorFlow.js batch matches a native batch to float32 rounding: ${c.label}`, async (t) => {
    const { tf, backend } = await initTf();
    const config = small(c.over);
    const native = Pretrainer.create(config);
    const twin = Pretrainer.create(config); // the same network and streams, driven by the tfjs engine
    const start = cloneNetwork(native.net);
    const engine = TfPretrainer.fromPretrainer(tf, twin);
    const worst = { param: 0, update: 0, moment: 0, loss: 0 };
    let tensors = -1;
    for (let k = 1; k <= 4; k++) {
      const a = native.step();
      const b = engine.step(twin.trials, twin.init);
      assert.equal(b.batch, k);
      if (k === 1) tensors = tf.memory().numTensors;
      else assert.equal(tf.memory().numTensors, tensors, `tensors leak at batch ${k}`);
      for (const key of ["total", "task", "rate", "param"] as const) {
        const e = Math.abs(a.value[key] - b.value[key]) / Math.abs(a.value[key]);
        worst.loss = Math.max(worst.loss, e);
        assert.ok(e < TOL_LOSS, `batch ${k} loss.${key}: ${b.value[key]} vs ${a.value[key]}`);
      }
      worst.loss = Math.max(worst.loss, Math.abs(a.gradNorm - b.gradNorm) / a.gradNorm);
      assert.ok(Math.abs(a.gradNorm - b.gradNorm) < TOL_LOSS * a.gradNorm, `batch ${k} gradient norm ${b.gradNorm} vs ${a.gradNorm}`);

      const net = engine.exportNetwork();
      const adam = engine.adamState();
      assert.equal(adam.t, native.adam.t);
      assert.deepEqual(Object.keys(adam.m), Object.keys(native.adam.m));
      for (const name of GRAD_NAMES) {
        const p = native.net.params[name];
        const q = net.params[name];
        const delta = (x: FArray) => x.map((v, i) => v - start.params[name][i]);
        const dp = relDiff(p, q);
        const du = relDiff(delta(p), delta(q));
        worst.param = Math.max(worst.param, dp);
        worst.update = Math.max(worst.update, du);
        assert.ok(dp < TOL_PARAM, `batch ${k} ${name}: parameters differ by ${dp} (relative)`);
        if (!(name in native.adam.m)) {
          assert.deepEqual(q, start.params[name], `${name} is frozen`);
          continue;
        }
        assert.ok(du < TOL_UPDATE, `batch ${k} ${name}: updates differ by ${du} (relative)`);
        for (const key of ["m", "v"] as const) {
          const dm = relDiff(native.adam[key][name], adam[key][name]);
          worst.moment = Math.max(worst.moment, dm);
          assert.ok(dm < TOL_MOMENT, `batch ${k} adam.${key}.${name}: differs by ${dm} (relative)`);
        }
      }
      assert.deepEqual(net.params.mask, native.net.params.mask);
    }
    // The streams advanced identically.
    assert.deepEqual(twin.trials.state(), native.trials.state());
    assert.deepEqual(twin.init.state(), native.init.state());
    engine.dispose();
    t.diagnostic(`backend ${backend}; largest relative differences: ${JSON.stringify(worst)}`);
  });
}

test("its loss is tfmodel.tfLoss's, split into the curve's parts", async () => {
  const { tf } = await initTf();
  const p = Pretrainer.create(small());
  const batch = makeTrials({ task: "random", reach: p.config.reach }, 4, Rng.seeded(1));
  const x0 = Float32Array.from({ length: 4 * 16 }, (_, i) => 0.1 * Math.sin(i));
  const [total, task, rate, param, ref] = tf.tidy(() => {
    const shapes = paramShapes(p.net.config);
    const params = Object.fromEntries(GRAD_NAMES.map((n) => [n, tf.tensor(Float32Array.from(p.net.params[n]), shapes[n])])) as never;
    const parts = tfLossParts(tf, p.net, params, batch, x0, false, p.config.loss).dataSync();
    return [...parts, tfLoss(tf, p.net, params, batch, x0, {}, p.config.loss).dataSync()[0]];
  });
  assert.equal(total, ref);
  assert.ok(Math.abs(task + rate + param - total) < 1e-6 * total);
  assert.ok(task > 0 && rate > 0 && param > 0);
});

test("saving and resuming mid-run (export, checkpoint, re-import) continues exactly as an uninterrupted run", async () => {
  const { tf } = await initTf();
  const config = small();
  const straight = Pretrainer.create(config);
  const a = TfPretrainer.fromPretrainer(tf, straight);
  for (let k = 0; k < 4; k++) a.step(straight.trials, straight.init);

  const first = Pretrainer.create(config);
  const b = TfPretrainer.fromPretrainer(tf, first);
  for (let k = 0; k < 2; k++) b.step(first.trials, first.init);
  b.syncTo(first);
  b.dispose();
  assert.equal(first.done, 2);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fbc-tftrain-")), "run.safetensors");
  first.save(file);
  const resumed = Pretrainer.resume(file);
  const c = TfPretrainer.fromPretrainer(tf, resumed);
  assert.equal(c.done, 2);
  for (let k = 0; k < 2; k++) c.step(resumed.trials, resumed.init);

  const x = a.exportNetwork();
  const y = c.exportNetwork();
  for (const name of PARAM_NAMES) assert.deepEqual(y.params[name], x.params[name], name);
  assert.deepEqual(c.adamState(), a.adamState());
  a.dispose();
  c.dispose();
});

test("bad input is rejected by name, and a disposed engine cannot be used", async () => {
  const { tf } = await initTf();
  const p = Pretrainer.create(small());
  const before = tf.memory().numTensors;
  const adam = p.adam.state();
  assert.throws(() => new TfPretrainer(tf, p.net, p.config, { ...adam, t: -1 }), /adam\.t: must be an integer >= 0/);
  assert.throws(() => new TfPretrainer(tf, p.net, p.config, { ...adam, m: { ...adam.m, wRec: new Float32Array(3) } }), /adam\.m\.wRec: must have 256 entries, got 3/);
  const broken = cloneNetwork(p.net);
  broken.params.wRec = new Float32Array(5);
  assert.throws(() => new TfPretrainer(tf, broken, p.config), /params\.wRec: must have 256 entries/);
  assert.throws(() => new TfPretrainer(tf, p.net, { ...p.config, clipNorm: 0 }), /clipNorm/);
  assert.equal(tf.memory().numTensors, before, "a rejected engine allocates nothing");
  const e = new TfPretrainer(tf, p.net, p.config);
  assert.throws(() => e.exportNetwork(initNetwork({ N: 8 }, Rng.seeded(0))), /into\.config\.N: must be 16/);
  e.dispose();
  assert.equal(tf.memory().numTensors, before, "dispose frees everything");
  assert.throws(() => e.step(p.trials, p.init), /after dispose/);
});
