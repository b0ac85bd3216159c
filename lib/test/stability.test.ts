// The delayed-loop stability analysis (lib/src/analysis/stability.ts) on cases with known answers: the
// Levin-May delay equation x_{k+1} = x_k - g x_{k-d} (stable exactly for 0 < g < 2 cos(d pi / (2d + 1))),
// a 2-unit network whose error loop is that equation, checked by simulating the network itself, and the
// kernel and the RFLO learning map against finite differences of the network.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Network, networkConfig, simulate } from "../src/network";
import { centreOutAll } from "../src/task";
import { Rng } from "../src/rng";
import * as st from "../src/analysis/stability";
import { solveDense } from "../src/analysis/dense";

const oneTap = (g: number): st.LoopKernel => ({ nOut: 1, lags: 1, H: Float64Array.of(g), carry: 1, gain: Float64Array.of(g), radiusA: NaN, truncated: false });

test("levinMayBound: 2, 1, 2 cos(2 pi / 5) at d = 0, 1, 2", () => {
  assert.equal(st.levinMayBound(0), 2);
  assert.ok(Math.abs(st.levinMayBound(1) - 1) < 1e-12);
  assert.ok(Math.abs(st.levinMayBound(2) - 0.6180339887) < 1e-9);
});

test("a one-tap kernel is stable exactly below the Levin-May bound; its gain margin is the bound over the gain", () => {
  for (const d of [0, 1, 3, 7, 20]) {
    const b = st.levinMayBound(d);
    const below = st.delayLoopStability(oneTap(0.97 * b), d);
    const above = st.delayLoopStability(oneTap(1.03 * b), d);
    assert.equal(below.stable, true, `d=${d} below`);
    assert.equal(above.stable, false, `d=${d} above`);
    // At d = 0 a real root leaves through -1; for d >= 1 a complex pair crosses the circle.
    assert.equal(above.rootsOutside, d === 0 ? 1 : 2, `d=${d}: roots outside ${above.rootsOutside}`);
    assert.ok(below.radius < 1 && above.radius > 1, `d=${d}: radius ${below.radius} / ${above.radius}`);
    const gm = st.gainMargin(oneTap(0.5), d);
    assert.ok(Math.abs(gm - b / 0.5) / (b / 0.5) < 2e-3, `d=${d}: gain margin ${gm}, expected ${b / 0.5}`);
  }
  // A negative gain (positive feedback) is unstable at once.
  assert.equal(st.delayLoopStability(oneTap(-0.1), 2).stable, false);
  assert.equal(st.firstUnstableDelay(oneTap(0.3)), 5); // bounds: 0.347 at d = 4, 0.285 at d = 5
});

/** N = 2, a = 1 (dt = tau), no recurrence, W_out = I, W_fb = f I, all units active: e_{k+1} = e_k - dt f e_{k-d} + input. */
function tinyNetwork(f: number, d: number): Network {
  const config = networkConfig({ N: 2, dt: 0.01, tau: 0.01, fbDelay: d, e0: "zero" });
  const params = {
    wIn: new Float64Array(2 * config.nIn),
    wRec: new Float64Array(4),
    wOut: Float64Array.of(1, 0, 0, 1),
    bOut: Float64Array.of(-5, -5),
    wFb: Float64Array.of(f, 0, 0, f),
    b: Float64Array.of(5, 5),
    mask: Float64Array.of(1, 1, 1, 1),
  };
  return { config, params };
}

test("a 2-unit network's error loop is the Levin-May equation: kernel, margin, and the simulated network agree", () => {
  const d = 3;
  const bound = st.levinMayBound(d); // 0.4450
  const batch = centreOutAll({ T: 600, radius: 1e-6 });
  for (const [factor, grows] of [[0.8, false], [1.2, true]] as const) {
    const f = (factor * bound) / 0.01;
    const net = tinyNetwork(f, d);
    const k = st.loopKernel(net, [1, 1]);
    assert.ok(k.H.subarray(4).every((v) => v === 0), "with a = 1 and no recurrence the kernel has one tap");
    assert.ok(Math.abs(k.H[0] - factor * bound) < 1e-12 && Math.abs(k.H[1]) < 1e-15, `H_0 = ${Array.from(k.H.subarray(0, 4))}`);
    assert.ok(Math.abs(st.gainMargin(k, d) - 1 / factor) < 2e-3 / factor);
    // Simulate the network: after the reach (it ends by step ~170) the error rings down or up.
    const ro = simulate(net, batch, { feedback: true, x0: new Float64Array(batch.B * 2) });
    const amp = (from: number, to: number) => {
      let m = 0;
      for (let s = from; s < to; s++) for (let i = 0; i < 2 * batch.B; i++) m = Math.max(m, Math.abs(ro.e[s * 2 * batch.B + i]));
      return m;
    };
    for (let i = batch.B * 2; i < 351 * batch.B * 2; i++) assert.ok(ro.x[i] > 0, "every unit stays active (the loop is linear)");
    const early = amp(200, 250); // (radius 1e-6: the growing case stays far from the relu threshold)
    const late = amp(300, 350);
    assert.equal(late > early, grows, `factor ${factor}: amplitude ${early} -> ${late}`);
    // The estimated spectral radius predicts the simulated growth over 100 steps.
    const rho = st.delayLoopStability(k, d).radius;
    const ratio = late / early;
    assert.ok(Math.abs(Math.log(ratio) / 100 - Math.log(rho)) < 0.005, `rho ${rho}, simulated per-step ${Math.pow(ratio, 1 / 100)}`);
  }
});

/** A small random network with every unit active (large bias), so that its frozen-D linearisation is exact. */
function smallNetwork(d: number): Network {
  const rng = Rng.seeded(7, "stability-test");
  const N = 5;
  const config = networkConfig({ N, dt: 0.01, tau: 0.05, fbDelay: d, e0: "zero" });
  const u = (s: number) => (rng.uniform() * 2 - 1) * s;
  const params = {
    wIn: Float64Array.from({ length: N * config.nIn }, () => u(0.5)),
    wRec: Float64Array.from({ length: N * N }, () => u(0.1)),
    wOut: Float64Array.from({ length: 2 * N }, () => u(1)),
    bOut: Float64Array.of(0, 0),
    wFb: Float64Array.from({ length: N * 2 }, () => u(2)),
    b: Float64Array.from({ length: N }, () => 200),
    mask: new Float64Array(N * 2).fill(1),
  };
  // b_out cancels the readout of the rates' fixed point (I - W_rec) r = b, so that the hand starts near rest.
  const A = new Float64Array(N * N);
  for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) A[i * N + j] = (i === j ? 1 : 0) - params.wRec[i * N + j];
  const r = solveDense(A, params.b, N);
  for (let o = 0; o < 2; o++) params.bOut[o] = -r.reduce((s, v, i) => s + params.wOut[o * N + i] * v, 0);
  return { config, params };
}

test("loopKernel: taps match the error's response to a replayed feedback impulse; sum = quasiStaticGain", () => {
  const net = smallNetwork(0);
  const batch = centreOutAll({ T: 125 });
  const ro = simulate(net, batch, { feedback: false, init: Rng.seeded(1, "x") });
  const D = st.reluGains(ro);
  assert.deepEqual(Array.from(D), [1, 1, 1, 1, 1]);
  const k = st.loopKernel(net, D);
  assert.equal(k.truncated, false);
  const K = st.quasiStaticGain(net, D);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(K[i] - k.gain[i]) < 1e-9 * Math.max(1, Math.abs(K[i])), `K ${Array.from(K)} vs ${Array.from(k.gain)}`);
  // Replay the feedback with an impulse h in channel q at step j: e_{n+1} - e_n changes by -H_{n-j}[:, q] h.
  const B = batch.B;
  const j = 10, q = 1, h = 1e-4;
  const replay = new Float64Array(ro.eps.length);
  const base = simulate(net, batch, { feedback: true, x0: ro.x.subarray(0, B * 5), replayFeedback: replay });
  replay[(j * B + 0) * 2 + q] += h;
  const pert = simulate(net, batch, { feedback: true, x0: ro.x.subarray(0, B * 5), replayFeedback: replay });
  for (let n = j; n < j + 30; n++) {
    for (let o = 0; o < 2; o++) {
      const dInc = (pert.e[((n + 1) * B) * 2 + o] - base.e[((n + 1) * B) * 2 + o]) - (n === 0 ? 0 : pert.e[(n * B) * 2 + o] - base.e[(n * B) * 2 + o]);
      const want = -k.H[(n - j) * 4 + o * 2 + q] * h;
      assert.ok(Math.abs(dInc - want) < 1e-6 * h + 1e-4 * Math.abs(want), `n=${n} o=${o}: ${dInc} vs ${want}`);
    }
  }
});

test("learningMap: eta M e predicts the change in the errors after one RFLO(+c) trial on each target, with a delay", () => {
  for (const control of [false, true]) {
    const d = 4;
    const net = smallNetwork(d);
    const batch = centreOutAll({ T: 60, goTime: 35, rampHalfWidth: 20, stimOn: 5, nTargets: 3 });
    const x0 = new Float64Array(batch.B * 5);
    const ro = simulate(net, batch, { feedback: control, x0 });
    const map = st.learningMap(net, ro, { control });
    const lr = 1e-9;
    const wRec = Float64Array.from(net.params.wRec);
    for (let b = 0; b < batch.B; b++) {
      const dW = st.rfloControlUpdate(net, ro, b, lr);
      for (let i = 0; i < wRec.length; i++) wRec[i] += dW[i];
    }
    const after = simulate({ config: net.config, params: { ...net.params, wRec } }, batch, { feedback: control, x0 });
    const T = batch.T, B = batch.B;
    const e = new Float64Array(map.dim);
    const de = new Float64Array(map.dim);
    for (let b = 0; b < B; b++) {
      for (let n = 0; n < T; n++) {
        for (let o = 0; o < 2; o++) {
          e[(b * T + n) * 2 + o] = ro.e[((n + 1) * B + b) * 2 + o];
          de[(b * T + n) * 2 + o] = after.e[((n + 1) * B + b) * 2 + o] - ro.e[((n + 1) * B + b) * 2 + o];
        }
      }
    }
    let err2 = 0, ref2 = 0;
    for (let i = 0; i < map.dim; i++) {
      let s = 0;
      for (let j = 0; j < map.dim; j++) s += map.M[i * map.dim + j] * e[j];
      err2 += (lr * s - de[i]) ** 2;
      ref2 += de[i] ** 2;
    }
    assert.ok(ref2 > 0, "the update changes the errors");
    assert.ok(Math.sqrt(err2 / ref2) < 1e-3, `control ${control}: relative error ${Math.sqrt(err2 / ref2)}`);
  }
});

test("learningGrowth: the spectral radius of I + lr M for a known diagonal M", () => {
  const M = Float64Array.of(-2, 0, 0, 0.5);
  const map: st.LearningMap = { dim: 2, trials: [0], M };
  assert.ok(Math.abs(st.learningGrowth(map, 0.1, { iterations: 400 }) - 1.05) < 1e-6);
  assert.ok(Math.abs(st.learningGrowth(map, 1.5, { iterations: 400 }) - 2) < 1e-6);
});
