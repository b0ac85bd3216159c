/**
 * The open lib: rules, perturbations and target sets from outside the lib go through the same adaptation
 * loop as the built-in ones, with one-line errors for bad ones, and results that record where they came from.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Rng } from "../src/rng";
import { Network, Rollout, cloneNetwork, simulate } from "../src/network";
import { Adapter, AdaptOverrides, DivergenceError, RuleError, adaptConfig } from "../src/adapt";
import { Pretrainer, pretrainConfig } from "../src/train";
import { FArray, scal } from "../src/kernels";
import { LearningRule, Rflo, createRule, registerRule, ruleNames } from "../src/rules";
import { registerPerturbation } from "../src/perturbation";
import { centreOutTargets, randomTrials } from "../src/targets";
import { centreOutAll, centreOutRandom } from "../src/task";
import { loadPlugin } from "../src/plugin";
import { parseNamed } from "../src/registry";

function pretrainedSmall(): Network {
  const p = Pretrainer.create(pretrainConfig({ seed: 3, batches: 60, batchSize: 32, evalEvery: 60, network: { N: 30 } }));
  while (p.done < 60) p.step();
  return p.net;
}
const pre = pretrainedSmall();

/** A rule written here, from the public building blocks: RFLO with its update multiplied by `factor`. */
class Scaled implements LearningRule {
  readonly name: string;
  private readonly inner = new Rflo();
  constructor(private readonly factor: number, name = "scaled_here") {
    this.name = name;
  }
  reset(net: Network, ro: Rollout) {
    this.inner.reset(net, ro);
  }
  advance(k: number) {
    this.inner.advance(k);
  }
  accumulate(k: number, out: FArray, scale: number) {
    return this.factor * this.inner.accumulate(k, out, scale * this.factor);
  }
  lastUpdate(out: FArray) {
    this.inner.lastUpdate(out);
    scal(this.factor, out);
  }
}

test("a rule from outside the lib (a definition, a factory or an instance) learns exactly as the built-in rule it rescales", () => {
  const run = (rule: AdaptOverrides["rule"], lr: number) => {
    const a = new Adapter(pre, adaptConfig({ rule, lr, trials: 12, testEvery: 4, seed: 2 }));
    a.run();
    return a;
  };
  const builtIn = run("rflo", 2e-5);
  registerRule({ name: "scaled_here", description: "RFLO x factor", defaults: { factor: 4 }, create: (o) => new Scaled(o.factor as number) });
  const asDef = run("scaled_here", 2e-5 / 4);
  const asFactory = run(() => new Scaled(8, "scaled_factory"), 2e-5 / 8);
  const asInstance = run(new Scaled(2, "scaled_instance"), 2e-5 / 2);
  // factor x lr / factor is exact for powers of two: the three forms of the rule give the same run, number for number.
  // (All but stepwiseNorm, the sum of the unscaled |dw_k|, which scales with the factor.)
  const log = (a: Adapter) => a.trialLog.map(({ stepwiseNorm, ...r }) => ({ ...r, stepwise: stepwiseNorm / (a.rule as Scaled)["factor"] }));
  for (const other of [asFactory, asInstance]) {
    assert.deepEqual(log(other), log(asDef));
    assert.deepEqual(other.testLog, asDef.testLog);
  }
  // Against the built-in RFLO, equal to float32 rounding: the built-in fuses the next step's drive into its
  // update pass (accumulateWithDrive), which sums in another order.
  const close = (a: number[], b: number[]) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= 1e-6 * Math.abs(b[i]), `${i}: ${x} vs ${b[i]}`));
  close(asDef.trialLog.map((r) => r.loss), builtIn.trialLog.map((r) => r.loss));
  close(asDef.testLog.map((r) => r.testError), builtIn.testLog.map((r) => r.testError));
  assert.ok(ruleNames().includes("scaled_factory"));
  const c = adaptConfig({ rule: "scaled_here", ruleOptions: { factor: 3 }, lr: 2e-5 });
  assert.deepEqual([c.ruleOptions, c.sources["rule:scaled_here"]], [{ factor: 3 }, { kind: "session" }]);
  assert.deepEqual(adaptConfig({ rule: "scaled_here", lr: 1e-3 }).ruleOptions, { factor: 4 }, "the defaults spelled out, so that giving a default changes no setting");
  assert.deepEqual(adaptConfig({ rule: "rflo" }).ruleOptions, {}, "the built-in rflo keeps projection and legacyRow0 as config fields");
  assert.deepEqual(adaptConfig({}).sources, {}, "built-in components record no source");
});

test("bad rules get one line naming the rule (and the trial and step where it failed)", () => {
  assert.throws(() => adaptConfig({ rule: "nope" }), /rule: must be one of "rflo", "bptt", "fed".*got "nope"/);
  assert.throws(() => registerRule({ name: "rflo", description: "mine", create: () => new Rflo() }), /rule rflo: is built in and cannot be replaced/);
  assert.throws(() => adaptConfig({ rule: { name: "half", advance() {} } as never }), /rule: does not implement LearningRule: missing method\(s\) reset, accumulate, lastUpdate/);
  registerRule({ name: "scaled_here", description: "RFLO x factor", defaults: { factor: 4 }, create: (o) => new Scaled(o.factor as number) });
  assert.throws(() => adaptConfig({ rule: "scaled_here", ruleOptions: { facto: 1 }, lr: 1e-3 }), /rule scaled_here options\.facto: is not an option \(options: factor\)/);
  assert.throws(() => adaptConfig({ rule: () => new Scaled(1, "no_lr") }), /lr: rule no_lr has no default learning rate/);
  class Faulty extends Scaled {
    constructor(private readonly how: "throw" | "nan" | "inf" | "size", name: string) {
      super(1, name);
    }
    accumulate(k: number, out: FArray, scale: number) {
      if (k === 3 && this.how === "throw") throw new Error("boom\nsecond line");
      if (k === 3 && this.how === "nan") return NaN;
      if (k === 3 && this.how === "inf") return Infinity;
      if (this.how === "size") out.set(new Float32Array(out.length + 1));
      return super.accumulate(k, out, scale);
    }
  }
  const first = (rule: LearningRule) => new Adapter(pre, adaptConfig({ rule, lr: 2e-5, trials: 2 })).trial();
  assert.throws(() => first(new Faulty("throw", "faulty_throw")), (e: Error) => e instanceof RuleError && e.message === "rule faulty_throw, trial 0, step 3: boom");
  assert.throws(() => first(new Faulty("nan", "faulty_nan")), /^RuleError: rule faulty_nan, trial 0, step 3: its update norm is NaN/);
  // An update whose norm overflows is divergence (too high a rate), recorded as such, not the rule's fault.
  assert.throws(() => first(new Faulty("inf", "faulty_inf")), (e: Error) => e instanceof DivergenceError && /trial 0 .*overflowed at step 3/.test(e.message));
  assert.throws(() => first(new Faulty("size", "faulty_size")), /^RuleError: rule faulty_size, trial 0, step 0: .*(offset|bounds|large)/i);
});

test("perturbations: the curl field by name equals curlGain; a user's perturbation acts on the hand; target rotation stays first", () => {
  const test = (o: Parameters<typeof adaptConfig>[0]) => {
    const a = new Adapter(pre, adaptConfig({ rule: "rflo", lr: 2e-5, trials: 4, testEvery: 2, ...o }));
    a.run();
    return a;
  };
  const gain = test({ curlGain: 0.3 });
  const named = test({ perturbations: [{ name: "curl", options: { gain: 0.3 } }] });
  assert.deepEqual(named.testLog, gain.testLog);
  assert.deepEqual(named.trialLog, gain.trialLog);
  assert.deepEqual(adaptConfig({ perturbations: [{ name: "curl" }] }).perturbations, [{ name: "curl", options: { gain: 0.3 } }], "options spelled out");
  // A visuomotor gain written here: the hand moves (1 + g) times as fast as the network says.
  registerPerturbation({
    name: "speed_gain",
    description: "hand velocity x (1 + g)",
    defaults: { g: 0.5 },
    create: (o) => ({
      name: "speed_gain",
      push(k, ro) {
        // v_{k+1} = y_{k+1} + push_k: the push uses the last velocity as the curl does (a one-step lag).
        for (let i = 0; i < ro.B * ro.nOut; i++) ro.push[k * ro.B * ro.nOut + i] += (o.g as number) * ro.v[k * ro.B * ro.nOut + i];
      },
    }),
  });
  const none = test({});
  const sped = test({ perturbations: [{ name: "speed_gain", options: { g: 0.5 } }] });
  assert.notEqual(sped.testLog[0].testError, none.testLog[0].testError);
  assert.equal(test({ perturbations: [{ name: "speed_gain", options: { g: 0 } }] }).testLog[0].testError, none.testLog[0].testError, "g 0 changes nothing");
  assert.deepEqual(sped.config.sources["perturbation:speed_gain"], { kind: "session" });
  assert.throws(() => adaptConfig({ perturbations: [{ name: "wind" }] }), /perturbation: must be one of "target_rotation", "curl"/);
  registerPerturbation({ name: "nothing", description: "does nothing", create: () => ({ name: "nothing" }) });
  assert.throws(() => new Adapter(pre, adaptConfig({ perturbations: [{ name: "nothing" }] })), /perturbation nothing: must define targets\(batch\), push\(k, ro\) or a cursor map/);
});

test("target sets: the default set is the paper's 8 targets, number for number; 16 targets and two rings are drawn from", () => {
  const rngA = Rng.seeded(5, "t");
  const rngB = Rng.seeded(5, "t");
  const paper = centreOutRandom(6, rngA);
  const set = randomTrials(centreOutTargets(), 6, rngB);
  assert.deepEqual(set.reference, paper.reference);
  assert.deepEqual(set.inputs, paper.inputs);
  const run = (targets: AdaptOverrides["targets"]) => {
    const a = new Adapter(pre, adaptConfig({ rule: "rflo", lr: 2e-5, trials: 40, testEvery: 40, targets }));
    a.run();
    return a;
  };
  const dflt = run(null);
  assert.deepEqual(run({ name: "centre_out" }).trialLog, dflt.trialLog, "centre_out with its defaults = the default");
  const sixteen = run({ name: "centre_out", options: { n: 16 } });
  assert.equal(sixteen.testSet.B, 16);
  assert.ok(sixteen.trialLog.some((r) => r.target >= 8), "targets beyond 8 are drawn");
  const rings = run({ name: "centre_out", options: { n: 4, radii: [2.5, 5] } });
  assert.equal(rings.testSet.B, 8);
  assert.ok(Math.abs(Math.hypot(rings.testSet.end[0], rings.testSet.end[1]) - 2.5) < 1e-12);
  assert.ok(Math.abs(Math.hypot(rings.testSet.end[8], rings.testSet.end[9]) - 5) < 1e-12);
  assert.deepEqual(parseNamed("--targets", "centre_out:n=16,label=x,on=true"), { name: "centre_out", options: { n: 16, label: "x", on: true } });
  assert.throws(() => parseNamed("--targets", "Centre"), /--targets: must be name or name:key=value/);
});

test("a plugin file registers rules that record its SHA-256; node perturbation, a stateful plugin rule, resumes exactly", () => {
  const np = loadPlugin(path.resolve(__dirname, "../../plugins/node-perturbation.ts"));
  assert.deepEqual(np.rules, ["node_perturbation"]);
  assert.equal(np.file, "plugins/node-perturbation.ts");
  const config = adaptConfig({ rule: "node_perturbation", control: true, lr: 1e-4, trials: 20, testEvery: 5, seed: 3 });
  assert.deepEqual(config.sources["rule:node_perturbation"], { kind: "plugin", file: "plugins/node-perturbation.ts", sha256: np.sha256 });
  const straight = new Adapter(pre, config);
  straight.run();
  assert.ok(straight.trialLog.slice(8).some((r) => r.updateNorm > 0), "it learns once every target has a baseline");
  const again = new Adapter(pre, config);
  again.run();
  assert.deepEqual(again.trialLog, straight.trialLog, "same seed, same noise, same numbers");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fbc-np-")), "np.partial.safetensors");
  const first = new Adapter(pre, config);
  while (first.done < 11) {
    first.trial();
    if (first.done % 5 === 0) first.test();
  }
  first.save(file);
  const resumed = Adapter.resume(pre, config, file);
  resumed.run();
  assert.deepEqual(resumed.trialLog, straight.trialLog);
  assert.deepEqual(resumed.net.params.wRec, straight.net.params.wRec);
  assert.throws(() => loadPlugin("no/such/plugin.ts"), /plugin: no\/such\/plugin\.ts: no such file/);
  assert.equal(loadPlugin("plugins/node-perturbation.ts").sha256, np.sha256, "a relative path is found from the project root too");
});

test("node perturbation by hand: the first trial to a target sets its baseline; the second updates by -(L - Lbar)/sigma^2 sum_k xi_k r_k^T", () => {
  loadPlugin(path.resolve(__dirname, "../../plugins/node-perturbation.ts"));
  const tiny = { config: { ...pre.config }, params: Object.fromEntries(Object.entries(pre.params).map(([k, v]) => [k, Float64Array.from(v)])) } as unknown as Network;
  const sigma = 0.05;
  const lr = 1e-3;
  // Two trials to the same target: a target set with one target.
  const a = new Adapter(tiny, adaptConfig({ rule: "node_perturbation", ruleOptions: { sigma, baselineRate: 0.5 }, lr, trials: 2, targets: { name: "points", options: { points: [[5, 0]] } }, seed: 4 }));
  const w0 = Float64Array.from(a.net.params.wRec);
  const first = a.trial();
  assert.deepEqual(a.net.params.wRec, w0, "the first trial to a target only sets its baseline");
  assert.equal(first.updateNorm, 0);
  const N = a.net.config.N;
  // What the second trial's rollout saw: W_rec r_k + xi_k as the drive, xi from the trial's own stream.
  const w1 = Float64Array.from(a.net.params.wRec);
  const rec = a.trial();
  const ro = (a as unknown as { ro: Rollout }).ro;
  const noise = Rng.seeded(4, "node-perturbation:1");
  const E = new Float64Array(N * N);
  for (let k = 0; k < ro.T; k++) {
    const xi = Array.from({ length: N }, () => sigma * noise.normal());
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) E[i * N + j] += xi[i] * ro.r[k * N + j];
  }
  // The drive really carried the noise: x_1 = (1-a) x_0 + a (W_in u_0 + W_rec r_0 + c_0 + b + xi_0).
  const alpha = a.net.config.dt / a.net.config.tau;
  const noise0 = Rng.seeded(4, "node-perturbation:1");
  for (let i = 0; i < N; i++) {
    let drive = a.net.params.b[i] + sigma * noise0.normal() + ro.c[i];
    for (let j = 0; j < N; j++) drive += w1[i * N + j] * ro.r[j];
    for (let c = 0; c < 3; c++) drive += a.net.params.wIn[i * 3 + c] * ro.u[c];
    assert.ok(Math.abs(ro.x[N + i] - ((1 - alpha) * ro.x[i] + alpha * drive)) < 1e-12, `unit ${i}: x_1 holds the noise`);
  }
  const L = rec.loss;
  const Lbar = first.loss;
  for (let i = 0; i < N * N; i++) {
    const want = w1[i] - (lr * (L - Lbar) / (sigma * sigma)) * E[i];
    assert.ok(Math.abs(a.net.params.wRec[i] - want) <= 1e-12 * (1 + Math.abs(want)), `W_rec[${i}]: ${a.net.params.wRec[i]} vs ${want}`);
  }
  assert.ok(rec.updateNorm > 0);
});

test("acute analyses take perturbations too: the curl field by name equals curlGain; a user's perturbation object acts", async () => {
  const { acuteResponses } = await import("../src/analysis/acute");
  const cond = [{ label: "fb on", network: pre, feedback: true }];
  const byGain = acuteResponses(cond, [0, 30], { curlGain: 0.3 });
  const byName = acuteResponses(cond, [0, 30], { perturbations: [{ name: "curl", options: { gain: 0.3 } }] });
  assert.deepEqual(byName.map((r) => r.error), byGain.map((r) => r.error));
  const wind = (v: number) => ({ name: "wind", push: (k: number, ro: Rollout) => { for (let b = 0; b < ro.B; b++) ro.push[(k * ro.B + b) * 2] += v; } });
  assert.equal(acuteResponses(cond, [0], { perturbations: [wind(0)] })[0].error, acuteResponses(cond, [0])[0].error, "a push of 0 changes nothing");
  assert.ok(acuteResponses(cond, [0], { perturbations: [wind(1)] })[0].error > acuteResponses(cond, [0])[0].error, "a steady wind pushes the hand off");
  const doubled = acuteResponses(cond, [0], { perturbations: [{ name: "far", targets: (b) => ({ ...b, reference: b.reference.map((v) => 2 * v) }) }] });
  assert.ok(doubled[0].error > acuteResponses(cond, [0])[0].error, "a target transform changes what the hand must do");
});

test("plugins/rflo-window.ts: RFLO's own update in its period (the go step from the trial context), none outside it", () => {
  loadPlugin(path.resolve(__dirname, "../../plugins/rflo-window.ts"));
  for (const period of ["movement", "preparation"]) {
    const a = new Adapter(pre, adaptConfig({ rule: "rflo_window", ruleOptions: { period }, control: true, lr: 1e-12, trials: 1, compare: "rflo", stepTrials: [0] }));
    a.trial();
    const go = 20; // the paper's task: goTime - rampHalfWidth
    assert.equal(a.stepLog.length, 125);
    for (const s of a.stepLog) {
      const active = period === "movement" ? s.step + 1 >= go : s.step + 1 < go;
      // cos(dw_k, RFLO's dw_k): 1 where it applies RFLO's update (W_rec barely moves at lr 1e-12), 0 where it applies none.
      if (active) assert.ok(Math.abs(s.localAlignment - 1) < 1e-5, `${period} step ${s.step}: ${s.localAlignment}`);
      else assert.equal(s.localAlignment, 0, `${period} step ${s.step}`);
    }
  }
  assert.throws(() => adaptConfig({ rule: "rflo_window", ruleOptions: { period: "hold" }, lr: 1e-5 }) && new Adapter(pre, adaptConfig({ rule: "rflo_window", ruleOptions: { period: "hold" }, lr: 1e-5 })), /period must be/);
});

test("plugins/rflo-lag.ts: RFLO's trace through a first-order lag, by hand in float64 (P, then Q = b P + (1 - b) Q, dw = diag(W_fb e) Q); at tau = dt it is RFLO", () => {
  loadPlugin(path.resolve(__dirname, "../../plugins/rflo-lag.ts"));
  const net = cloneNetwork(pre, "float64");
  const { N, dt, tau } = net.config;
  const ro = simulate(net, centreOutAll(), { feedback: true, init: Rng.seeded(1, "eval-init") });
  const rule = createRule("rflo_lag", { tau: 0.05 });
  rule.reset(net, ro);
  const a = dt / tau, b = dt / 0.05;
  const P = new Float64Array(N * N), Q = new Float64Array(N * N), out = new Float64Array(N * N);
  const BN = ro.B * N;
  for (let k = 0; k < 40; k++) {
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) {
      P[i * N + j] = a * (ro.x[(k + 1) * BN + i] > 0 ? 1 : 0) * ro.r[k * BN + j] + (1 - a) * P[i * N + j];
      Q[i * N + j] = b * P[i * N + j] + (1 - b) * Q[i * N + j];
    }
    rule.advance(k);
    out.fill(0);
    const norm = rule.accumulate(k, out, 1);
    let worst = 0, n2 = 0;
    for (let i = 0; i < N; i++) {
      const at = (k + 1) * ro.B * 2;
      const s = net.params.wFb[2 * i] * ro.e[at] + net.params.wFb[2 * i + 1] * ro.e[at + 1];
      for (let j = 0; j < N; j++) {
        worst = Math.max(worst, Math.abs(out[i * N + j] - s * Q[i * N + j]));
        n2 += (s * Q[i * N + j]) ** 2;
      }
    }
    assert.ok(worst < 1e-15 && Math.abs(norm - Math.sqrt(n2)) < 1e-12 * Math.max(1, Math.sqrt(n2)), `step ${k}: ${worst}`);
  }
  // tau = dt: Q = P, the built-in RFLO's update at every step.
  const same = createRule("rflo_lag", { tau: dt }), rflo = new Rflo();
  same.reset(net, ro);
  rflo.reset(net, ro);
  const o1 = new Float64Array(N * N), o2 = new Float64Array(N * N);
  for (let k = 0; k < 40; k++) {
    same.advance(k);
    rflo.advance(k);
    same.accumulate(k, o1, 1);
    rflo.accumulate(k, o2, 1);
  }
  assert.ok(o1.every((v, i) => Math.abs(v - o2[i]) < 1e-14 * Math.max(1, Math.abs(o2[i]))));
  assert.ok(o2.some((v) => v !== 0));
  assert.throws(() => createRule("rflo_lag", { tau: 0 }), /tau must be a positive number/);
});
