/**
 * Feedback weights that learn (feedbackRules, issue 23 item 4): the noise_mirror rule against a
 * hand-computed case, its estimate against the exact cursor Jacobian, and its place in the Adapter
 * (control and the learning signal use the learned W_fb; save and resume are exact).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";
import { NoiseMirror, feedbackRuleRegistry, makeFeedbackRule, normaliseFeedbackRule } from "../src/feedbackRules";
import { Adapter, adaptConfig } from "../src/adapt";
import { Pretrainer, pretrainConfig } from "../src/train";
import { rotationMatrix, seenThrough } from "../src/cursor";

test("noise_mirror against a hand-computed case: noise into the drives, G from the seen velocity's change, W_fb moved by eta of its norm and scaled back, masked", () => {
  // N 2 units, 2 outputs, T 2 steps; dt/tau = 0.25. The rule only reads config and ro.v of trial 0.
  const fake = { config: { N: 2, nOut: 2, dt: 0.01, tau: 0.04 } } as unknown as net.Network;
  const v = new Float64Array([0, 0, 1, 2, 3, 1]); // v_0, v_1, v_2 (trial 0; B 1)
  const ro = { T: 2, B: 1, v } as unknown as net.Rollout;
  const rule = new NoiseMirror({ sigma: 0.5, eta: 0.1 });
  rule.reset(fake, ro, { trial: 4, targetId: 0, seed: 7 });
  const xi: number[][] = [];
  for (let k = 0; k < 2; k++) {
    const drive = new Float64Array([10, 20]);
    rule.perturbDrive(k, drive);
    xi.push([drive[0] - 10, drive[1] - 20]);
    rule.observe(k);
  }
  // The noise is the rule's own seeded stream: N(0, sigma^2) draws, the same again for the same seed and trial.
  const again = Rng.seeded(7, "noise-mirror-4");
  for (const x of xi.flat()) assert.ok(Math.abs(x - 0.5 * again.normal()) < 1e-14);
  // dv_0 = (1, 2), dv_1 = (2, -1). G[i][o] = (xi_0i dv_0o + xi_1i dv_1o) / (sigma^2 alpha T) = (...) / (0.25 * 0.25 * 2).
  const dv = [[1, 2], [2, -1]];
  const G = [0, 1].map((i) => [0, 1].map((o) => (xi[0][i] * dv[0][o] + xi[1][i] * dv[1][o]) / 0.125));
  assert.deepEqual([...rule.estimate()].map((x) => +x.toPrecision(12)), G.flat().map((x) => +x.toPrecision(12)));
  // W_fb = [[3, 0], [0, 4]] (rho 5) with entry (0, 1) masked out.
  const mask = new Float64Array([1, 0, 1, 1]);
  const w = new Float64Array([3, 0, 0, 4]);
  const gm = [G[0][0], 0, G[1][0], G[1][1]];
  const gn = Math.hypot(...gm);
  const moved = [3, 0, 0, 4].map((x, i) => x + (0.1 * 5 * gm[i]) / gn);
  const want = moved.map((x) => (x * 5) / Math.hypot(...moved));
  const change = rule.endTrial(w, mask);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(w[i] - want[i]) < 1e-14, `entry ${i}: ${w[i]} vs ${want[i]}`);
  assert.equal(w[1], 0, "a masked-out entry stays 0");
  assert.ok(Math.abs(Math.hypot(...w) - 5) < 1e-14, "the norm is kept");
  assert.ok(Math.abs(change - Math.hypot(...want.map((x, i) => x - [3, 0, 0, 4][i]))) < 1e-14);
  assert.throws(() => new NoiseMirror({ sigma: 0, eta: 0.1 }), /sigma: must be a finite number > 0/);
  assert.throws(() => new NoiseMirror({ sigma: 1, eta: -0.1 }), /eta: must be/);
  // eta 0: the noise without the learning (the control experiment), W_fb untouched.
  const still = new NoiseMirror({ sigma: 0.5, eta: 0 });
  still.reset(fake, ro, { trial: 0, targetId: 0, seed: 1 });
  for (let k = 0; k < 2; k++) {
    const drive = new Float64Array(2);
    still.perturbDrive(k, drive);
    assert.ok(drive[0] !== 0 && drive[1] !== 0);
    still.observe(k);
  }
  const kept = new Float64Array([3, 0, 0, 4]);
  assert.equal(still.endTrial(kept, mask), 0);
  assert.deepEqual([...kept], [3, 0, 0, 4]);
  assert.deepEqual(normaliseFeedbackRule({ name: "noise_mirror" }), { name: "noise_mirror", options: { sigma: 0.5, eta: 0.05 } });
  assert.throws(() => makeFeedbackRule({ name: "noise_mirror", options: { sigm: 1 } }), /sigm/);
  assert.ok(feedbackRuleRegistry.names().includes("noise_mirror"));
});

test("noise_mirror's estimate is the cursor Jacobian's transpose: averaged over trials it points along mean_k relu'(x_{k+1}) (C W_out)^T", () => {
  const n = net.initNetwork({ N: 12 }, Rng.seeded(5, "weights"), "float64");
  const C = rotationMatrix(120);
  const seen = seenThrough(n, C);
  const batch = task.randomReaches(1, Rng.seeded(5, "trials"), { T: 100, goTime: 50 });
  const rule = new NoiseMirror({ sigma: 0.05, eta: 0.1 });
  const { N } = n.config;
  const sum = new Float64Array(N * 2);
  const exact = new Float64Array(N * 2);
  const drive = new Float64Array(N);
  const trials = 400;
  for (let t = 0; t < trials; t++) {
    const ro = net.beginRollout(seen, batch, { feedback: true, detachFeedback: true, init: Rng.seeded(1, "init") });
    rule.reset(seen, ro, { trial: t, targetId: 0, seed: 3 });
    for (let k = 0; k < ro.T; k++) {
      for (let i = 0; i < N; i++) {
        let s = 0;
        for (let j = 0; j < N; j++) s += n.params.wRec[i * N + j] * ro.r[k * N + j];
        drive[i] = s;
      }
      rule.perturbDrive(k, drive);
      net.stepRollout(seen, ro, k, undefined, undefined, drive);
      rule.observe(k);
      if (t === 0) {
        // relu'(x_{k+1}) (C W_out)^T: the noise-free gating is close enough at sigma 0.05 for the first trial's.
        for (let i = 0; i < N; i++) if (ro.x[(k + 1) * N + i] > 0) for (let o = 0; o < 2; o++) exact[i * 2 + o] += seen.params.wOut[o * N + i] / ro.T;
      }
    }
    rule.estimate().forEach((g, i) => (sum[i] += g / trials));
  }
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < sum.length; i++) {
    ab += sum[i] * exact[i];
    aa += sum[i] ** 2;
    bb += exact[i] ** 2;
  }
  const cos = ab / Math.sqrt(aa * bb);
  assert.ok(cos > 0.95, `cos(mean G, exact) = ${cos}`);
  assert.ok(Math.abs(Math.sqrt(aa / bb) - 1) < 0.2, `|mean G| / |exact| = ${Math.sqrt(aa / bb)}`);
});

test("a learned W_fb in the Adapter: control and the learning signal use it, it changes between trials only, and a resumed run ends as an uninterrupted one", () => {
  const p = Pretrainer.create(pretrainConfig({ seed: 3, batches: 20, batchSize: 16, evalEvery: 20, network: { N: 30 } }));
  while (p.done < 20) p.step();
  const pre = p.net;
  const cfg = adaptConfig({ rule: "rflo", lr: 2e-5, trials: 6, testEvery: 3, rotationDeg: 0, perturbations: [{ name: "cursor_rotation", options: { deg: 90 } }], feedbackRule: { name: "noise_mirror" } });
  const whole = new Adapter(pre, cfg);
  const w0 = whole.net.params.wFb.slice();
  whole.run((rec) => {
    if (rec.trial > 0) return;
    assert.ok(rec.feedbackChange! > 0 && Number.isFinite(rec.feedbackAlignment!));
    assert.notDeepEqual(whole.net.params.wFb, w0);
  });
  assert.equal(whole.seen.params.wFb, whole.net.params.wFb, "the network as the learner sees it shares W_fb");
  assert.deepEqual(pre.params.wFb, w0, "the pre-trained network is untouched");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fbrule-"));
  try {
    const part = new Adapter(pre, cfg);
    const stop = new Error("stop");
    assert.throws(() => part.run(() => {
      if (part.done === 3) throw stop;
    }), (e) => e === stop);
    part.save(path.join(dir, "a.safetensors"));
    const resumed = Adapter.resume(pre, cfg, path.join(dir, "a.safetensors"));
    resumed.run();
    assert.deepEqual(resumed.trialLog, whole.trialLog);
    assert.deepEqual(resumed.testLog, whole.testLog);
    assert.deepEqual(resumed.net.params.wFb, whole.net.params.wFb);
    assert.deepEqual(resumed.net.params.wRec, whole.net.params.wRec);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // Without a feedback rule nothing of this appears: W_fb stays the pre-trained one, and no columns are added.
  const fixed = new Adapter(pre, adaptConfig({ rule: "rflo", lr: 2e-5, trials: 2, rotationDeg: 0, perturbations: [{ name: "cursor_rotation", options: { deg: 90 } }] }));
  fixed.run();
  assert.deepEqual(fixed.net.params.wFb, pre.params.wFb);
  assert.equal("feedbackChange" in fixed.trialLog[0], false);
});
