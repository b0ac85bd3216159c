import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Rng } from "../src/rng";
import * as net from "../src/network";
import { Adapter, DivergenceError, adaptConfig, effectiveLr, PAPER_LR } from "../src/adapt";
import { Pretrainer, pretrainConfig } from "../src/train";
import { nativeAvailable, setEngine } from "../src/kernels";
import { Rflo } from "../src/rules";
import { lossGradient } from "../src/loss";
import * as task from "../src/task";
import { cumulativeEfficiency, functionSpaceEfficiency, meanOver, windowEfficiency, withinTrialEfficiency } from "../src/analysis/efficiency";

function pretrainedSmall() {
  const p = Pretrainer.create(pretrainConfig({ seed: 3, batches: 60, batchSize: 32, evalEvery: 60, network: { N: 30 } }));
  while (p.done < 60) p.step();
  return p.net;
}

test("the paper's learning rates are the defaults, per condition", () => {
  assert.equal(adaptConfig({ rule: "bptt", control: true }).lr, 1e-4);
  assert.equal(adaptConfig({ rule: "bptt", control: false }).lr, 5e-6);
  assert.equal(adaptConfig({ rule: "rflo", control: true }).lr, 5e-5);
  assert.equal(adaptConfig({ rule: "rflo", control: false }).lr, 5e-5);
  assert.equal(PAPER_LR.fed.control, 5e-5);
  assert.equal(adaptConfig({ rule: "rflo", lr: 1e-3 }).lr, 1e-3);
  assert.throws(() => adaptConfig({ lr: 0 }), /lr: must be a finite number > 0/);
  assert.throws(() => adaptConfig({ rule: "sgd" as never }), /rule: must be one of/);
  assert.throws(() => adaptConfig({ rotationDeg: NaN }), /rotationDeg/);
});

test("the reference code's learning-rate rescalings are an explicit option (SPEC §6.4)", () => {
  const fb = net.initNetwork({ N: 20 }, Rng.seeded(1));
  const nofb = net.initNetwork({ N: 20, fbDensity: 0 }, Rng.seeded(1));
  const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));
  const wRatio = norm(fb.params.wFb) / norm(fb.params.wOut);
  const ref = (o: Parameters<typeof adaptConfig>[0]) => adaptConfig({ ...o, lrTransform: "reference", lr: 1 });
  assert.equal(effectiveLr(adaptConfig({ rule: "bptt", lr: 1 }), fb), 1, "off by default");
  assert.ok(Math.abs(effectiveLr(ref({ rule: "bptt" }), fb) - wRatio) < 1e-12);
  assert.ok(Math.abs(effectiveLr(ref({ rule: "bptt" }), nofb) - wRatio * 0.1) < 1e-12);
  assert.equal(effectiveLr(ref({ rule: "rflo", control: true }), fb), 1);
  assert.equal(effectiveLr(ref({ rule: "rflo", control: false }), fb), 0.1);
  assert.ok(Math.abs(effectiveLr(ref({ rule: "rflo", control: true }), nofb) - 0.1 * wRatio) < 1e-12);
});

test("adaptation learns the rotation, changes only W_rec, and leaves the pre-trained network untouched", () => {
  const pre = pretrainedSmall();
  const before = net.cloneNetwork(pre);
  for (const [rule, control] of [["rflo", true], ["bptt", true]] as const) {
    const a = new Adapter(pre, adaptConfig({ rule, control, trials: 40, testEvery: 20, lr: rule === "bptt" ? 3e-5 : 2e-5 }));
    a.run();
    assert.equal(a.testLog.length, 3);
    assert.ok(a.testLog[2].testError < a.testLog[0].testError, `${rule}: test error ${a.testLog[0].testError} -> ${a.testLog[2].testError}`);
    for (const name of net.PARAM_NAMES) {
      if (name === "wRec") assert.notDeepEqual(a.net.params.wRec, pre.params.wRec);
      else assert.deepEqual(a.net.params[name], pre.params[name], name);
    }
    for (const r of a.trialLog) assert.ok(r.efficiency > 0 && r.efficiency <= 1 + 1e-6, `efficiency ${r.efficiency}`);
  }
  for (const name of net.PARAM_NAMES) assert.deepEqual(pre.params[name], before.params[name]);
});

test("same seed, same adaptation run; passive measurements leave learning bit-identical", () => {
  const pre = pretrainedSmall();
  for (const rule of ["rflo", "fed", "bptt"] as const) {
    const run = (measure: boolean) => {
      const a = new Adapter(pre, adaptConfig({ rule, lr: rule === "bptt" ? 3e-5 : 5e-5, trials: 6, testEvery: 3, ...(measure ? { compare: "bptt", trialGradient: true, stepTrials: [0, 4] } : {}) }));
      a.run();
      return a;
    };
    const x = run(false);
    const y = run(false);
    const z = run(true);
    assert.deepEqual(x.trialLog, y.trialLog);
    assert.deepEqual(x.net.params.wRec, y.net.params.wRec);
    // Bit for bit: the comparison rule, the recorded updates and the whole-trial gradient change nothing.
    assert.deepEqual(z.net.params.wRec, x.net.params.wRec, `${rule}: W_rec`);
    assert.deepEqual(z.testLog, x.testLog);
    z.trialLog.forEach((r, i) => {
      const { localAlignment, globalAlignment, globalAlignmentTrial, ...rest } = r;
      const { localAlignment: l0, globalAlignment: g0, globalAlignmentTrial: t0, ...rest0 } = x.trialLog[i];
      assert.deepEqual(rest, rest0);
      assert.ok([l0, g0, t0].every(Number.isNaN), "no measurements without the options");
      for (const a of [localAlignment, globalAlignment, globalAlignmentTrial]) assert.ok(a >= -1 && a <= 1, `${rule}: alignment ${a}`);
    });
    assert.deepEqual([...new Set(z.stepLog.map((s) => s.trial))], [0, 4]);
    assert.equal(z.stepLog.length, 2 * z.testSet.T);
    // The per-step log agrees with the trial's mean local alignment.
    const mean0 = z.stepLog.filter((s) => s.trial === 0).reduce((p, s) => p + s.localAlignment, 0) / z.testSet.T;
    assert.ok(Math.abs(mean0 - z.trialLog[0].localAlignment) < 1e-12);
    if (rule === "bptt") {
      // BPTT against itself: every step's update is the comparison's.
      for (const r of z.trialLog) assert.ok(r.localAlignment > 1 - 1e-5 && r.globalAlignment > 1 - 1e-5, `${r.localAlignment} ${r.globalAlignment}`);
    }
  }
  assert.throws(() => adaptConfig({ stepTrials: [0] }), /stepTrials: needs a comparison rule/);
  assert.throws(() => adaptConfig({ compare: "bptt", stepTrials: [-1] }), /stepTrials\[0\]/);
});

test("RFLO's float32 updates agree across engines", { skip: nativeAvailable() ? false : "native addon not built" }, () => {
  const n = net.initNetwork({ N: 37 }, Rng.seeded(4));
  const batch = task.rotate(task.centreOut([5]), 40);
  const ro = net.simulate(n, batch, { init: Rng.seeded(4) });
  const result = (engine: "openblas" | "js") => {
    setEngine(engine);
    const rule = new Rflo();
    rule.reset(n, ro);
    const out = new Float32Array(37 * 37);
    let norm = 0;
    for (let k = 0; k < batch.T; k++) {
      rule.advance(k);
      norm = rule.accumulate(k, out, 0.5);
    }
    return { out, norm };
  };
  try {
    const a = result("openblas");
    const b = result("js");
    let d = 0, s = 0;
    for (let i = 0; i < a.out.length; i++) { d += (a.out[i] - b.out[i]) ** 2; s += b.out[i] ** 2; }
    assert.ok(s > 0 && Math.sqrt(d / s) < 1e-5, `relative difference ${Math.sqrt(d / s)}`);
    assert.ok(Math.abs(a.norm - b.norm) < 1e-4 * b.norm);
  } finally {
    setEngine("auto");
  }
});

test("a saved and resumed adaptation run ends identical to an uninterrupted one", () => {
  const pre = pretrainedSmall();
  const config = adaptConfig({ rule: "rflo", trials: 8, testEvery: 4, compare: "bptt", trialGradient: true, stepTrials: [2, 5], efficiencyWindows: [1, 2, 5], testGradient: true });
  const straight = new Adapter(pre, config);
  straight.run();
  const first = new Adapter(pre, config);
  first.test();
  for (let i = 0; i < 3; i++) first.trial();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fbc-adapt-")), "run.safetensors");
  first.save(file);
  const resumed = Adapter.resume(pre, config, file);
  assert.equal(resumed.done, 3);
  resumed.run();
  assert.deepEqual(resumed.trialLog, straight.trialLog);
  assert.deepEqual(resumed.testLog, straight.testLog);
  assert.deepEqual(resumed.stepLog, straight.stepLog);
  assert.deepEqual(resumed.windowLog, straight.windowLog);
  assert.deepEqual(resumed.net.params.wRec, straight.net.params.wRec);
  assert.throws(() => Adapter.resume(pre, { ...config, lr: 1e-3 }, file), /another adaptation config/);
});

test("efficiency windows and the test-error gradient: distances, path lengths, first-order predictions", () => {
  const pre = pretrainedSmall();
  const a = new Adapter(pre, adaptConfig({ rule: "rflo", lr: 2e-6, trials: 6, testEvery: 2, efficiencyWindows: [1, 3, 6], testGradient: true }));
  a.run();
  const byWindow = (w: number) => a.windowLog.filter((r) => r.window === w);
  assert.deepEqual(byWindow(1).map((r) => r.end), [1, 2, 3, 4, 5, 6]);
  byWindow(1).forEach((r, i) => {
    assert.equal(r.distance, a.trialLog[i].updateNorm, "a one-trial window is that trial's update");
    assert.equal(r.path, a.trialLog[i].updateNorm);
  });
  const [w3a, w3b] = byWindow(3);
  assert.ok(Math.abs(w3a.path - (a.trialLog[0].updateNorm + a.trialLog[1].updateNorm + a.trialLog[2].updateNorm)) < 1e-15);
  assert.ok(w3a.distance <= w3a.path && w3b.distance <= w3b.path, "triangle inequality");
  assert.ok(Math.abs(byWindow(6)[0].distance - a.trialLog[5].driftNorm) < 1e-12, "the whole run's window is the drift");
  assert.ok(Number.isNaN(a.testLog[0].predictedDecrease));
  for (const t of a.testLog.slice(1)) {
    const prev = a.testLog[a.testLog.indexOf(t) - 1];
    const measured = prev.testError - t.testError;
    // A small learning rate: the first-order prediction is close to the measured change.
    assert.ok(Math.abs(t.predictedDecrease! - measured) < 0.05 * Math.abs(measured), `predicted ${t.predictedDecrease} vs measured ${measured}`);
    assert.ok(t.stepDistance! > 0);
  }
  assert.throws(() => adaptConfig({ efficiencyWindows: [0] }), /efficiencyWindows\[0\]/);
  // The three efficiency definitions read these records.
  const run = { trials: a.trialLog, tests: a.testLog, windows: a.windowLog };
  assert.deepEqual(Array.from(withinTrialEfficiency(run)), a.trialLog.map((t) => t.efficiency));
  const cum = cumulativeEfficiency(run);
  const path = a.trialLog.reduce((s, t) => s + t.updateNorm, 0);
  assert.ok(Math.abs(cum[5] - a.trialLog[5].driftNorm / path) < 1e-15 && cum[0] === 1);
  assert.deepEqual(windowEfficiency(run, 1).efficiency, [1, 1, 1, 1, 1, 1]);
  assert.ok(windowEfficiency(run, 3).efficiency.every((e) => e > 0 && e <= 1));
  assert.throws(() => windowEfficiency(run, 4), /no windows of length 4/);
  const fs3 = functionSpaceEfficiency(run);
  assert.deepEqual(fs3.end, [2, 4, 6]);
  assert.ok(Math.abs(fs3.measured[0] - (a.testLog[0].testError - a.testLog[1].testError) / a.testLog[1].stepDistance!) < 1e-15);
  assert.ok(Math.abs(fs3.predicted[0] - a.testLog[1].predictedDecrease! / a.testLog[1].stepDistance!) < 1e-15);
  assert.equal(meanOver([0, 1, 2, 3], [1, NaN, 3, 5], 0, 3), 2);
});

test("RFLO's fused recurrent drive: the same learning as the unfused loop, on both engines and in float64", () => {
  const pre = pretrainedSmall();
  for (const engineName of nativeAvailable() ? (["openblas", "js"] as const) : (["js"] as const)) {
    setEngine(engineName);
    try {
      for (const dtype of ["float32", "float64"] as const) {
        const p = net.cloneNetwork(pre, dtype);
        const config = adaptConfig({ rule: "rflo", trials: 6, testEvery: 3, lr: 2e-4 });
        const fused = new Adapter(p, config);
        const plain = new Adapter(p, config);
        // Without accumulateWithDrive the adapter runs the unfused loop (a product over W_rec in every forward step).
        (plain as unknown as { rule: { accumulateWithDrive?: unknown } }).rule.accumulateWithDrive = undefined;
        fused.run();
        plain.run();
        const tol = dtype === "float64" ? 1e-12 : 2e-5;
        for (let t = 0; t < 6; t++) {
          const a = fused.trialLog[t].loss, b = plain.trialLog[t].loss;
          assert.ok(Math.abs(a - b) <= tol * b, `${engineName} ${dtype} trial ${t}: loss ${a} vs ${b}`);
        }
        const wa = fused.net.params.wRec, wb = plain.net.params.wRec;
        let d = 0, s = 0;
        for (let i = 0; i < wa.length; i++) { d += (wa[i] - wb[i]) ** 2; s += (wb[i] - pre.params.wRec[i]) ** 2; }
        assert.ok(Math.sqrt(d / s) <= (dtype === "float64" ? 1e-10 : 1e-4), `${engineName} ${dtype}: W_rec differs by ${Math.sqrt(d / s)} of the learned change`);
      }
    } finally {
      setEngine("auto");
    }
  }
});

test("adaptation under a curl force field: tests and learning trials see the field; the default (0) changes nothing", () => {
  const pre = pretrainedSmall();
  assert.equal(adaptConfig({}).curlGain, 0);
  assert.throws(() => adaptConfig({ curlGain: Infinity }), /curlGain: must be a finite number/);
  const plain = new Adapter(pre, adaptConfig({ rule: "rflo", trials: 4, testEvery: 2, rotationDeg: 0 }));
  const zero = new Adapter(pre, adaptConfig({ rule: "rflo", trials: 4, testEvery: 2, rotationDeg: 0, curlGain: 0 }));
  const field = new Adapter(pre, adaptConfig({ rule: "rflo", trials: 4, testEvery: 2, rotationDeg: 0, curlGain: 0.5 }));
  for (const a of [plain, zero, field]) a.run();
  assert.deepEqual(zero.testLog, plain.testLog);
  assert.deepEqual(zero.trialLog.map((t) => t.loss), plain.trialLog.map((t) => t.loss));
  assert.ok(field.testLog[0].testError > plain.testLog[0].testError, `the field perturbs the reach: ${field.testLog[0].testError} vs ${plain.testLog[0].testError}`);
  assert.ok(field.trialLog[0].loss !== plain.trialLog[0].loss);
  // The whole-trial gradient under the field is that of the realised pushes (finite, and different from the field-free one).
  const g = new Adapter(pre, adaptConfig({ rule: "rflo", trials: 1, rotationDeg: 0, curlGain: 0.5, trialGradient: true }));
  const rec = g.trial();
  assert.ok(Number.isFinite(rec.globalAlignmentTrial));
});

test("a run whose W_rec stops being finite is stopped as diverged even where the loss stays finite; simulate refuses such weights", () => {
  const pre = net.initNetwork({ N: 12 }, Rng.seeded(4));
  const a = new Adapter(pre, adaptConfig({ rule: "rflo", control: true, seed: 1, trials: 5, testEvery: 5 }));
  a.trial();
  // One NaN weight: relu maps its unit's NaN drive to a rate of 0, so the hand still moves and the loss
  // is finite; only the weights show it.
  a.net.params.wRec[3] = NaN;
  let caught: unknown;
  try {
    a.trial();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DivergenceError, `got ${caught}`);
  assert.equal(caught.trial, 1);
  assert.match(caught.message, /lr: the run diverged at trial 1 .*W_rec is no longer finite; lower the learning rate/);
  assert.equal(a.trialLog.length, 1, "the diverged trial is not logged as a trial");
  assert.throws(() => a.test(), /params\.wRec: entry \d+ is NaN; a network with non-finite weights cannot be simulated/);
  // A learning rate far too high blows up the weights within a few trials: the same error, never NaN results.
  const b = new Adapter(pre, adaptConfig({ rule: "rflo", control: true, seed: 1, trials: 200, lr: 1e3 }));
  assert.throws(() => b.run(), (e: unknown) => e instanceof DivergenceError && e.trial < 200);
  assert.ok(b.trialLog.every((t) => Number.isFinite(t.loss) && Number.isFinite(t.updateNorm)));
});

test("fbDelay overrides the pre-trained network's feedback delay during learning: the same run as a network built with that delay", () => {
  const pre = net.initNetwork({ N: 16 }, Rng.seeded(6));
  const built: net.Network = { config: { ...pre.config, fbDelay: 3 }, params: pre.params };
  const losses = (n: net.Network, o: Parameters<typeof adaptConfig>[0]) => {
    const a = new Adapter(n, adaptConfig({ rule: "rflo", control: true, seed: 2, trials: 4, testEvery: 2, ...o }));
    a.run();
    return { a, losses: a.trialLog.map((t) => t.loss), tests: a.testLog.map((t) => t.testError) };
  };
  const over = losses(pre, { fbDelay: 3 });
  const own = losses(built, {});
  assert.equal(over.a.net.config.fbDelay, 3);
  assert.equal(pre.config.fbDelay, 0, "the pre-trained network is untouched");
  assert.deepEqual(over.losses, own.losses);
  assert.deepEqual(over.tests, own.tests);
  assert.notDeepEqual(losses(pre, {}).losses, over.losses, "the delay changes learning trials");
  assert.equal(losses(built, { fbDelay: null }).a.net.config.fbDelay, 3, "null keeps the network's own");
  assert.throws(() => adaptConfig({ fbDelay: -1 }), /fbDelay: must be an integer >= 0/);
});

test("controlGain scales the controller during learning: RFLO+c with gain g is the run of a network with g W_fb at rate lr / g (its learning signal W_fb e scales with W_fb), BPTT+c the run with g W_fb at the same rate; loop gradients refuse it", () => {
  const pre = net.initNetwork({ N: 16 }, Rng.seeded(6), "float64");
  const g = 0.4;
  const scaled: net.Network = { config: pre.config, params: { ...pre.params, wFb: pre.params.wFb.map((x) => g * x) } };
  const run = (n: net.Network, o: Parameters<typeof adaptConfig>[0]) => {
    const a = new Adapter(n, adaptConfig({ control: true, seed: 2, trials: 6, testEvery: 3, ...o }));
    a.run();
    return { w: Float64Array.from(a.net.params.wRec), losses: a.trialLog.map((t) => t.loss), tests: a.testLog.map((t) => t.testError) };
  };
  const rel = (a: Float64Array, b: Float64Array) => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0) / b.reduce((s, x) => s + x * x, 0));
  for (const [rule, lrScaled] of [["rflo", 1e-4 / g], ["bptt", 1e-4]] as const) {
    const withGain = run(pre, { rule, lr: 1e-4, controlGain: g });
    const built = run(scaled, { rule, lr: lrScaled });
    assert.ok(rel(withGain.w, Float64Array.from(pre.params.wRec)) > 1e-6, `${rule}: learning moved W_rec`);
    assert.ok(rel(withGain.w, built.w) < 1e-12, `${rule}: W_rec ${rel(withGain.w, built.w)}`);
    withGain.losses.forEach((l, i) => assert.ok(Math.abs(l - built.losses[i]) <= 1e-12 * l, `${rule}: trial ${i} loss`));
    assert.notDeepEqual(withGain.losses, run(pre, { rule, lr: 1e-4 }).losses, `${rule}: the gain changes learning trials`);
  }
  assert.deepEqual(run(pre, { rule: "rflo", lr: 1e-4, controlGain: 1 }).losses, run(pre, { rule: "rflo", lr: 1e-4 }).losses, "gain 1 is the default");
  assert.throws(() => adaptConfig({ controlGain: -1 }), /controlGain: must be >= 0/);
  // The forward pass: the control input is the scaled network's, and eps holds the scaled error.
  const batch = task.centreOutAll();
  const x0 = new Float64Array(batch.B * 16).fill(0.1);
  const a = net.simulate(pre, batch, { x0, controlGain: g });
  const s = net.simulate(scaled, batch, { x0 });
  assert.ok(rel(Float64Array.from(a.x), Float64Array.from(s.x)) < 1e-14 && rel(Float64Array.from(a.c), Float64Array.from(s.c)) < 1e-14);
  const grads = Object.fromEntries(net.PARAM_NAMES.map((k) => [k, new Float64Array(pre.params[k].length)])) as never;
  assert.throws(() => lossGradient(pre, a, grads), /^ParameterError: controlGain: the gradient through the feedback loop does not handle a control gain \(0\.4\) yet/);
  assert.doesNotThrow(() => lossGradient(pre, net.simulate(pre, batch, { x0, controlGain: g, detachFeedback: true }), grads));
});
