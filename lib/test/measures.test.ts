import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Adapter, adaptConfig } from "../src/adapt";
import { Pretrainer, pretrainConfig } from "../src/train";
import { Measure, MeasureState, TrialView, registerMeasure, measureNames } from "../src/measures";
import type { FArray } from "../src/kernels";
import { loopGain } from "../src/analysis/loopGain";

function pretrainedSmall() {
  const p = Pretrainer.create(pretrainConfig({ seed: 4, batches: 30, batchSize: 16, evalEvery: 30, network: { N: 20 } }));
  while (p.done < 30) p.step();
  return p.net;
}
const pre = pretrainedSmall();

/** A user's measure, registered in this session: it keeps trial 0's control input and rates at every step, and W_rec r_k by its own product. */
class Recorder implements Measure {
  readonly name = "recorder";
  readonly trialColumns = ["recordedSteps"];
  readonly testColumns = ["testsSeen"];
  c: number[][] = [];
  drive: number[][] = [];
  private tests = 0;
  private count = new Float64Array(1);
  startTrial(): void {
    this.c = [];
    this.drive = [];
  }
  beforeUpdate(k: number, v: TrialView): void {
    const N = v.ro.N;
    this.c.push(Array.from(v.ro.c.subarray(k * N, (k + 1) * N)));
    const r = v.ro.r.subarray(k * N, (k + 1) * N);
    this.drive.push(Array.from({ length: N }, (_, i) => {
      let d = 0;
      for (let j = 0; j < N; j++) d += v.net.params.wRec[i * N + j] * r[j];
      return d;
    }));
  }
  endTrial(): Record<string, number> {
    this.count[0] += 1;
    return { recordedSteps: this.c.length };
  }
  test(): Record<string, number> {
    return { testsSeen: ++this.tests };
  }
  saveState(): MeasureState {
    return { metrics: { tests: this.tests }, tensors: { count: { shape: [1], data: this.count } } };
  }
  loadState(s: MeasureState): void {
    this.tests = s.metrics!.tests as number;
    this.count[0] = s.tensors!.count.data[0];
  }
}
let last: Recorder | null = null;
registerMeasure({ name: "recorder", description: "keeps the control input and recurrent drive of the last trial (a test measure)", create: () => (last = new Recorder()) });

test("measures only watch: every built-in measurement and registered measures leave the weights and trial losses bit for bit as without them", () => {
  const base = { rule: "rflo" as const, control: true, lr: 2e-5, trials: 4, testEvery: 2 };
  const plain = new Adapter(pre, adaptConfig(base));
  plain.run();
  const watched = new Adapter(pre, adaptConfig({ ...base, compare: "bptt", trialGradient: true, stepTrials: [1], efficiencyWindows: [2], testGradient: true, measures: [{ name: "control_size" }, { name: "recorder" }] }));
  watched.run();
  assert.deepEqual(watched.net.params.wRec, plain.net.params.wRec);
  assert.deepEqual(watched.trialLog.map((r) => r.loss), plain.trialLog.map((r) => r.loss));
  assert.deepEqual(watched.testLog.map((r) => r.testError), plain.testLog.map((r) => r.testError));
  assert.deepEqual(watched.measures.map((m) => m.name), ["compare:bptt", "trial_gradient", "efficiency_windows", "test_gradient", "control_size", "recorder"]);
  // Every column, in order: the loop's, the built-in measurements', then the registered measures'.
  assert.deepEqual(Object.keys(watched.trialLog[0]), ["trial", "target", "loss", "updateNorm", "driftNorm", "stepwiseNorm", "efficiency", "localAlignment", "globalAlignment", "globalAlignmentTrial", "controlRms", "controlShare", "recordedSteps"]);
  assert.deepEqual(Object.keys(watched.testLog[0]), ["trial", "testError", "stepDistance", "predictedDecrease", "testsSeen"]);
  assert.deepEqual(watched.testLog.map((r) => r.testsSeen), [1, 2, 3]);
  for (const r of watched.trialLog) assert.ok(r.localAlignment! > -1 && r.localAlignment! < 1 && r.globalAlignmentTrial! > -1 && r.globalAlignmentTrial! < 1);
  assert.equal(watched.stepLog.length, watched.testSet.T);
  assert.deepEqual(watched.windowLog.map((w) => w.end), [2, 4]);
  assert.ok(measureNames().includes("control_size") && measureNames().includes("recorder"));
});

test("control_size by hand: rms of trial 0's control input over steps and units, and its ratio to rms(W_rec r_k) with the weights each step used", () => {
  const a = new Adapter(pre, adaptConfig({ rule: "rflo", control: true, lr: 2e-5, trials: 2, measures: [{ name: "control_size" }, { name: "recorder" }] }));
  a.trial();
  const rec = a.trial();
  const rec2 = last!;
  let c2 = 0;
  let d2 = 0;
  for (let k = 0; k < rec2.c.length; k++) {
    for (let i = 0; i < rec2.c[k].length; i++) {
      c2 += rec2.c[k][i] ** 2;
      d2 += rec2.drive[k][i] ** 2;
    }
  }
  const n = rec2.c.length * pre.config.N;
  assert.equal(rec2.c.length, a.testSet.T);
  assert.ok(Math.abs(rec.controlRms! - Math.sqrt(c2 / n)) < 1e-12 * Math.sqrt(c2 / n));
  assert.ok(Math.abs(rec.controlShare! - Math.sqrt(c2 / d2)) < 1e-9);
  assert.ok(rec.controlRms! > 0);
});

test("loop_gain: analysis.loopGain of the weights after trial 1 and every `every` trials, NaN between; the weights as without it", () => {
  const base = { rule: "rflo" as const, control: true, lr: 2e-5, trials: 4 };
  const a = new Adapter(pre, adaptConfig({ ...base, measures: [{ name: "loop_gain", options: { every: 2, window: 5 } }] }));
  const plain = new Adapter(pre, adaptConfig(base));
  for (let t = 1; t <= 4; t++) {
    const rec = a.trial();
    plain.trial();
    if (t === 1 || t % 2 === 0) {
      const g = loopGain(plain.net, { window: 5 });
      assert.ok(g.magnitude > 0);
      assert.equal(rec.loopGain, g.magnitude, `trial ${t}`);
      assert.equal(rec.loopPhaseDeg, g.phaseDeg);
    } else assert.ok(Number.isNaN(rec.loopGain) && Number.isNaN(rec.loopPhaseDeg), `trial ${t}: not measured`);
  }
  assert.deepEqual(a.net.params.wRec, plain.net.params.wRec);
  assert.deepEqual(adaptConfig({ measures: [{ name: "loop_gain" }] }).measures, [{ name: "loop_gain", options: { every: 25, window: 10 } }]);
  assert.throws(() => new Adapter(pre, adaptConfig({ trials: 1, measures: [{ name: "loop_gain", options: { every: 0 } }] })), /loop_gain.every/);
  assert.throws(() => adaptConfig({ measures: [{ name: "loop_gain", options: { evry: 5 } }] }), /evry/);
});

test("a registered measure's state is saved and resumed with the run: the resumed run's logs equal an uninterrupted one's", () => {
  const config = adaptConfig({ rule: "rflo", lr: 2e-5, trials: 6, testEvery: 2, efficiencyWindows: [4], measures: [{ name: "recorder" }, { name: "control_size" }] });
  const straight = new Adapter(pre, config);
  straight.run();
  const first = new Adapter(pre, config);
  first.test();
  for (let i = 0; i < 3; i++) first.trial();
  first.test();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fbc-measures-")), "run.safetensors");
  first.save(file);
  const resumed = Adapter.resume(pre, config, file);
  resumed.run();
  assert.deepEqual(resumed.trialLog, straight.trialLog);
  assert.deepEqual(resumed.windowLog, straight.windowLog);
  // The test counter came back from the file: the resumed run's tests go on counting (1, 2 before the save; 3, 4 after).
  assert.deepEqual(resumed.testLog.map((r) => r.testsSeen), [1, 2, 3, 4]);
  assert.deepEqual(resumed.net.params.wRec, straight.net.params.wRec);
});

test("measures are refused in one line when their columns clash, when named twice, or when they are not measures", () => {
  registerMeasure({ name: "clash", description: "claims the loop's loss column (a test measure)", create: () => ({ name: "clash", trialColumns: ["loss"] }) });
  assert.throws(() => new Adapter(pre, adaptConfig({ trials: 1, measures: [{ name: "clash" }] })), /measures: measure clash's trial column loss is already the adaptation loop's/);
  registerMeasure({ name: "clash2", description: "claims control_size's column (a test measure)", create: () => ({ name: "clash2", trialColumns: ["controlRms"] }) });
  assert.throws(() => new Adapter(pre, adaptConfig({ trials: 1, measures: [{ name: "control_size" }, { name: "clash2" }] })), /trial column controlRms is already measure control_size's/);
  assert.throws(() => adaptConfig({ measures: [{ name: "control_size" }, { name: "control_size" }] }), /measures: names a measure twice/);
  assert.throws(() => adaptConfig({ measures: [{ name: "no_such_measure" }] }), /no_such_measure/);
  registerMeasure({ name: "broken", description: "not a measure (a test)", create: () => ({ name: "broken", endTrial: 3 }) as unknown as Measure });
  assert.throws(() => new Adapter(pre, adaptConfig({ trials: 1, measures: [{ name: "broken" }] })), /endTrial must be a function/);
});

test("a measure that throws names itself, the trial and the step", () => {
  registerMeasure({
    name: "thrower",
    description: "fails at step 3 (a test measure)",
    create: () => ({ name: "thrower", beforeUpdate: (k: number) => { if (k === 3) throw new Error("bad step"); }, afterUpdate: (_k: number, _dw: FArray) => {} }),
  });
  const a = new Adapter(pre, adaptConfig({ trials: 1, measures: [{ name: "thrower" }] }));
  assert.throws(() => a.trial(), /rule thrower, trial 0, step 3: bad step/);
});

test("Adapter.trial's observer may be a class instance: its hooks are called with itself as this, after the measures", () => {
  class Counter {
    before = 0;
    after = 0;
    beforeUpdate(): void {
      this.before++;
    }
    afterUpdate(): void {
      this.after++;
    }
  }
  const c = new Counter();
  const a = new Adapter(pre, adaptConfig({ trials: 1 }));
  a.trial(c);
  assert.equal(c.before, a.testSet.T);
  assert.equal(c.after, a.testSet.T);
});
