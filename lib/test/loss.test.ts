import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";
import { GRAD_NAMES, loss, lossGradient, zeroGrads, LossConfig } from "../src/loss";
import { cursorMirror, cursorRotation } from "../src/perturbation";

function setup(overrides: Partial<net.NetworkConfig> = {}, wRecScale = 8) {
  const n = net.initNetwork({ N: 6, ...overrides }, Rng.seeded(11, "weights"), "float64");
  // A larger W_rec and W_fb than the default init, so that recurrence and feedback matter in the check.
  // (x8 lets the rates grow without bound; the arm's state then overflows, so its cases take x2.)
  for (let i = 0; i < n.params.wRec.length; i++) n.params.wRec[i] *= wRecScale;
  const batch = task.addPushes(task.randomReaches(3, Rng.seeded(11, "trials"), { T: 100, goTime: 50 }), Rng.seeded(3), { probability: 0.5 });
  const x0 = Float64Array.from({ length: 3 * 6 }, (_, i) => 0.4 * Math.sin(2 + i));
  return { n, batch, x0 };
}

/** Central finite differences of the loss w.r.t. every parameter entry, in float64. */
function finiteDifferences(n: net.Network, batch: task.TrialBatch, x0: Float64Array, opts: net.SimulateOptions, lc: Partial<LossConfig>, h = 1e-6) {
  const f = () => loss(n, net.simulate(n, batch, { ...opts, x0 }), lc).total;
  const out: Record<string, Float64Array> = {};
  for (const name of GRAD_NAMES) {
    const p = n.params[name];
    const g = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      const keep = p[i];
      p[i] = keep + h;
      const up = f();
      p[i] = keep - h;
      const down = f();
      p[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    out[name] = g;
  }
  return out;
}

const cases: { label: string; config?: Partial<net.NetworkConfig>; sim?: net.SimulateOptions; loss?: Partial<LossConfig>; wRecScale?: number }[] = [
  { label: "feedback on, through the loop (pre-training)" },
  { label: "feedback delay 2", config: { fbDelay: 2 } },
  { label: "feedback detached", sim: { detachFeedback: true } },
  { label: "feedback off", sim: { feedback: false } },
  { label: "e0 = 0, squared penalty, larger rate weight", config: { e0: "zero" }, loss: { penalty: "squared", rateWeight: 0.05 } },
  { label: "velocity error mode, half-density mask", config: { errorMode: "velocity", fbDensity: 0.5 } },
  // Through a plant (issue 24): the hand's velocity comes out of its dynamics, pushes act as forces.
  { label: "a point mass, through the loop", config: { e0: "zero", plant: { name: "point_mass" } } },
  { label: "a point mass, feedback delay 2, detached", config: { e0: "zero", fbDelay: 2, plant: { name: "point_mass" } }, sim: { detachFeedback: true } },
  { label: "a point mass, feedback off", config: { e0: "zero", plant: { name: "point_mass" } }, sim: { feedback: false } },
  { label: "a two-joint arm, feedback off", config: { e0: "zero", plant: { name: "two_joint_arm" } }, sim: { feedback: false }, wRecScale: 2 },
  { label: "a two-joint arm, through the loop", config: { e0: "zero", plant: { name: "two_joint_arm" } }, wRecScale: 2 },
  { label: "a point mass seen through a 60-degree cursor rotation", config: { e0: "zero", plant: { name: "point_mass" } }, sim: { perturbations: [cursorRotation(60)] } },
  { label: "a two-joint arm seen through a mirror", config: { e0: "zero", plant: { name: "two_joint_arm" } }, sim: { perturbations: [cursorMirror()] }, wRecScale: 2 },
  // Velocity feedback (issue 24, item 2): eps = E[j] + kappa (E[j] - E[j-1]) / dt, E[0] read as e_0.
  { label: "velocity feedback (kappa 0.05 s), e0 = readout", config: { fbVelocityGain: 0.05 } },
  { label: "velocity feedback, delay 3", config: { fbVelocityGain: 0.05, fbDelay: 3 } },
  { label: "a point mass, velocity feedback, delay 2", config: { e0: "zero", fbDelay: 2, fbVelocityGain: 0.05, plant: { name: "point_mass" } } },
  { label: "a two-joint arm, velocity feedback", config: { e0: "zero", fbVelocityGain: 0.05, plant: { name: "two_joint_arm" } }, wRecScale: 2 },
  // Activation dynamics in front of a plant (plant/muscle.ts): the lag's state joins the loop.
  { label: "a muscle on a point mass, through the loop", config: { e0: "zero", plant: { name: "muscle" } } },
  { label: "a muscle on a two-joint arm, velocity feedback, delay 2", config: { e0: "zero", fbDelay: 2, fbVelocityGain: 0.05, plant: { name: "muscle", options: { plant: "two_joint_arm" } } }, wRecScale: 2 },
  { label: "a two-joint arm, velocity error mode, stronger torques", config: { e0: "zero", errorMode: "velocity", plant: { name: "two_joint_arm", options: { commandScale: 0.3 } } }, wRecScale: 2 },
];

for (const c of cases) {
  test(`the loss gradient matches float64 central finite differences: ${c.label}`, () => {
    const { n, batch, x0 } = setup(c.config, c.wRecScale);
    const sim = c.sim ?? {};
    const grads = zeroGrads(n);
    const ro = net.simulate(n, batch, { ...sim, x0 });
    const { value } = lossGradient(n, ro, grads, c.loss);
    assert.equal(value.total, loss(n, ro, c.loss).total);
    // Detached feedback is the gradient of the open-loop system that replays the same fed-back error.
    const fdSim = sim.detachFeedback ? { ...sim, replayFeedback: Float64Array.from(ro.eps) } : sim;
    const fd = finiteDifferences(n, batch, x0, fdSim, c.loss ?? {});
    let num = 0;
    let den = 0;
    for (const name of GRAD_NAMES) {
      let en = 0;
      let ed = 0;
      for (let i = 0; i < fd[name].length; i++) {
        en += (grads[name][i] - fd[name][i]) ** 2;
        ed += fd[name][i] ** 2;
      }
      if (name === "wFb" && sim.feedback === false) {
        // Without feedback W_fb's gradient is its penalty's alone, paramWeight W_fb / |W_fb| (the default
        // penalty): checked exactly, since its few-1e-6 size sits at the finite differences' noise (the arm's).
        const w = n.params.wFb;
        const norm = Math.sqrt(Array.from(w).reduce((q, v) => q + v * v, 0));
        for (let i = 0; i < w.length; i++) assert.ok(Math.abs(grads.wFb[i] - (1e-3 * w[i]) / norm) < 1e-15, `wFb[${i}] without feedback`);
        continue;
      }
      num += en;
      den += ed;
      if (ed > 1e-20) assert.ok(Math.sqrt(en / ed) < 1e-6, `${name}: relative error ${Math.sqrt(en / ed)}`);
    }
    assert.ok(Math.sqrt(num / den) < 1e-6, `overall relative error ${Math.sqrt(num / den)}`);
    // A gradient that only matched in trivial entries would not be a check: the feedback path must matter.
    if (!sim.detachFeedback && sim.feedback !== false) assert.ok(Math.abs(fd.wFb.reduce((s, v) => s + Math.abs(v), 0)) > 1e-6);
  });
}

test("detaching the feedback changes the gradient (the loop carries credit) but not the loss", () => {
  const { n, batch, x0 } = setup();
  const g1 = zeroGrads(n);
  const g2 = zeroGrads(n);
  const a = lossGradient(n, net.simulate(n, batch, { x0 }), g1).value.total;
  const b = lossGradient(n, net.simulate(n, batch, { x0, detachFeedback: true }), g2).value.total;
  assert.equal(a, b);
  assert.notDeepEqual(g1.wRec, g2.wRec);
});

test("the loss gradient matches TensorFlow.js autodiff (float32) on the same network", async () => {
  const { initTf } = await import("../src/backend");
  const { tfLossGradient } = await import("../src/tfmodel");
  const { tf } = await initTf();
  for (const [sim, kappa] of [[{}, 0], [{ detachFeedback: true }, 0], [{ feedback: false }, 0], [{}, 0.05]] as [net.SimulateOptions, number][]) {
    const { n, batch, x0 } = setup({ fbDelay: 1, fbVelocityGain: kappa });
    const n32 = net.cloneNetwork(n, "float32");
    const n64 = net.cloneNetwork(n32, "float64"); // the same (float32-representable) weights in float64
    const grads = zeroGrads(n64);
    const { value } = lossGradient(n64, net.simulate(n64, batch, { ...sim, x0 }), grads);
    const auto = tfLossGradient(tf, n32, batch, x0, sim);
    assert.ok(Math.abs(auto.value - value.total) < 1e-5 * value.total, `loss ${auto.value} vs ${value.total}`);
    for (const name of GRAD_NAMES) {
      let en = 0;
      let ed = 0;
      for (let i = 0; i < grads[name].length; i++) {
        en += (grads[name][i] - auto.grads[name][i]) ** 2;
        ed += grads[name][i] ** 2;
      }
      assert.ok(Math.sqrt(en / ed) < 1e-4, `${JSON.stringify(sim)} kappa ${kappa} ${name}: relative difference ${Math.sqrt(en / ed)}`);
    }
  }
});

test("results do not depend on the engine beyond float32 rounding (every branch of the fused native steps)", async () => {
  const { setEngine, nativeAvailable } = await import("../src/kernels");
  if (!nativeAvailable()) return; // only one engine here; kernels.test.ts reports the skip
  const cases: [string, Partial<net.NetworkConfig>, net.SimulateOptions, Partial<LossConfig>][] = [
    ["feedback through the loop", {}, {}, {}],
    ["delay 2, detached", { fbDelay: 2 }, { detachFeedback: true }, {}],
    ["feedback off", {}, { feedback: false }, {}],
    ["velocity error, e0 = 0, half mask, squared penalty", { errorMode: "velocity", e0: "zero", fbDensity: 0.5 }, {}, { penalty: "squared", rateWeight: 0.05 }],
    ["no recurrence", { recurrent: false }, {}, {}],
    ["velocity feedback, delay 2", { fbVelocityGain: 0.05, fbDelay: 2 }, {}, {}],
    ["a point mass with velocity feedback", { fbVelocityGain: 0.05, e0: "zero", plant: { name: "point_mass" } }, {}, {}],
  ];
  // 40 trials with 2 OpenBLAS threads: the native steps split the rows between two threads (B >= 32).
  const { setThreads, getThreads } = await import("../src/kernels");
  const threadsBefore = getThreads();
  setThreads(2);
  try {
    for (const [label, config, options, lossCfg] of cases) {
      const n = net.initNetwork({ N: 40, ...config }, Rng.seeded(2), "float32");
      const batch = task.randomReaches(16, Rng.seeded(2, "trials"));
      const run = (engine: "openblas" | "js") => {
        setEngine(engine);
        const ro = net.simulate(n, batch, { init: Rng.seeded(2, "init"), ...options });
        const g = zeroGrads(n);
        const v = lossGradient(n, ro, g, lossCfg).value.total;
        return { e: Float32Array.from(ro.e), r: Float32Array.from(ro.r), g, v };
      };
      const a = run("openblas");
      const b = run("js");
      assert.ok(Math.abs(a.v - b.v) < 1e-5 * a.v, `${label}: loss ${a.v} vs ${b.v}`);
      let maxE = 0;
      for (let i = 0; i < a.e.length; i++) maxE = Math.max(maxE, Math.abs(a.e[i] - b.e[i]));
      assert.ok(maxE < 1e-4, `${label}: errors differ by ${maxE}`);
      for (const name of GRAD_NAMES) {
        let en = 0;
        let ed = 0;
        for (let i = 0; i < a.g[name].length; i++) {
          en += (a.g[name][i] - b.g[name][i]) ** 2;
          ed += a.g[name][i] ** 2;
        }
        if (ed === 0) assert.equal(en, 0, `${label}: ${name} is zero on one engine only`);
        else assert.ok(Math.sqrt(en / ed) < 1e-4, `${label}: ${name}: relative difference ${Math.sqrt(en / ed)}`);
      }
    }
  } finally {
    setEngine("auto");
    setThreads(threadsBefore);
  }
});

test("through a plant, the loss gradient matches TensorFlow.js autodiff (float32, cpu backend)", async () => {
  const { initTf } = await import("../src/backend");
  const { tfLossGradient } = await import("../src/tfmodel");
  // The cpu backend: wasm's sin and cos are off by about 2e-5 relative for small angles (lib/test/plant.test.ts).
  const { tf } = await initTf("cpu");
  for (const name of ["point_mass", "two_joint_arm", "muscle"]) {
    // Moderate torques (commandScale 0.03): a whirling arm makes float32 and float64 rollouts part ways.
    const plant = name === "two_joint_arm" ? { name, options: { commandScale: 0.03 } } : name === "muscle" ? { name, options: { plant: "two_joint_arm", plantOptions: { commandScale: 0.03 } } } : { name };
    const { n, batch, x0 } = setup({ e0: "zero", fbDelay: 1, fbVelocityGain: name === "point_mass" ? 0.05 : 0, plant }, 2);
    const n32 = net.cloneNetwork(n, "float32");
    const n64 = net.cloneNetwork(n32, "float64");
    const grads = zeroGrads(n64);
    const { value } = lossGradient(n64, net.simulate(n64, batch, { x0 }), grads);
    const auto = tfLossGradient(tf, n32, batch, x0, {});
    assert.ok(Math.abs(auto.value - value.total) < 1e-4 * value.total, `${name} loss ${auto.value} vs ${value.total}`);
    for (const g of GRAD_NAMES) {
      let en = 0;
      let ed = 0;
      for (let i = 0; i < grads[g].length; i++) {
        en += (grads[g][i] - auto.grads[g][i]) ** 2;
        ed += grads[g][i] ** 2;
      }
      assert.ok(Math.sqrt(en / ed) < 1e-3, `${name} ${g}: relative difference ${Math.sqrt(en / ed)}`);
    }
  }
});
