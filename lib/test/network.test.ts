import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";

/** An independent, naive float64 implementation of SPEC §2.3 / §11 on nested arrays. */
function referenceRollout(n: net.Network, batch: task.TrialBatch, x0: number[][], feedback: boolean) {
  const { N, nIn, nOut, dt, tau, fbDelay, e0 } = n.config;
  const P = n.params;
  const alpha = dt / tau;
  const W = (a: ArrayLike<number>, rows: number, cols: number) =>
    Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => Number(a[i * cols + j])));
  const wIn = W(P.wIn, N, nIn), wRec = W(P.wRec, N, N), wOut = W(P.wOut, nOut, N), wFb = W(P.wFb, N, nOut), mask = W(P.mask, N, nOut);
  const B = batch.B;
  const out = { x: [] as number[][][], e: [] as number[][][], c: [] as number[][][], y: [] as number[][][] };
  let x = x0.map((row) => row.slice());
  let r = x.map((row) => row.map((v) => Math.max(v, 0)));
  const read = (rr: number[][]) => rr.map((row) => wOut.map((w, o) => w.reduce((s, wj, j) => s + wj * row[j], 0) + Number(P.bOut[o])));
  let y = read(r);
  let e = e0 === "readout" ? y.map((row) => row.slice()) : y.map((row) => row.map(() => 0));
  const E: number[][][] = [y.map((row) => row.map(() => 0))];
  out.x.push(x);
  out.y.push(y);
  for (let k = 0; k < batch.T; k++) {
    const eps = k < fbDelay ? E[0].map((row) => row.map(() => 0)) : E[k - fbDelay];
    const c = eps.map((er) => Array.from({ length: N }, (_, i) => er.reduce((s, ev, o) => s + mask[i][o] * wFb[i][o] * ev, 0)));
    const xNew = x.map((row, b) =>
      row.map((xi, i) => {
        let drive = Number(P.b[i]);
        for (let j = 0; j < nIn; j++) drive += wIn[i][j] * batch.inputs[(k * B + b) * nIn + j];
        for (let j = 0; j < N; j++) drive += wRec[i][j] * r[b][j];
        if (feedback) drive += c[b][i];
        return (1 - alpha) * xi + alpha * drive;
      }),
    );
    x = xNew;
    r = x.map((row) => row.map((v) => Math.max(v, 0)));
    y = read(r);
    e = e.map((row, b) => row.map((ev, o) => ev + dt * (batch.reference[(k * B + b) * 2 + o] - (y[b][o] + batch.pushes[(k * B + b) * 2 + o]))));
    E.push(e);
    out.x.push(x);
    out.y.push(y);
    out.c.push(c);
  }
  out.e = E;
  return out;
}

function tinySetup(dtype: net.DType, overrides: Partial<net.NetworkConfig> = {}) {
  const n = net.initNetwork({ N: 5, ...overrides }, Rng.seeded(1, "weights"), dtype);
  // Pushes on, so that every term of the step is exercised.
  const batch = task.addPushes(task.randomReaches(3, Rng.seeded(1, "trials"), { T: 110, goTime: 55 }), Rng.seeded(2), { probability: 1 });
  const x0 = Array.from({ length: 3 }, (_, b) => Array.from({ length: 5 }, (_, i) => 0.3 * Math.sin(1 + 3 * b + i)));
  return { n, batch, x0 };
}

function maxRelDiff(a: ArrayLike<number>, flat: number[]) {
  let m = 0;
  let scale = 0;
  for (let i = 0; i < flat.length; i++) {
    m = Math.max(m, Math.abs(a[i] - flat[i]));
    scale = Math.max(scale, Math.abs(flat[i]));
  }
  return m / Math.max(scale, 1e-300);
}

for (const feedback of [true, false]) {
  test(`a rollout matches an independent float64 computation on a tiny network (feedback ${feedback ? "on" : "off"})`, () => {
    for (const [dtype, tol] of [["float64", 1e-12], ["float32", 2e-5]] as const) {
      for (const fbDelay of [0, 2]) {
        const { n, batch, x0 } = tinySetup(dtype, { fbDelay });
        const ro = net.simulate(n, batch, { x0: x0.flat(), feedback });
        const ref = referenceRollout(n, batch, x0, feedback);
        assert.ok(maxRelDiff(ro.x, ref.x.flat(2)) < tol, `${dtype} d=${fbDelay}: x differs by ${maxRelDiff(ro.x, ref.x.flat(2))}`);
        assert.ok(maxRelDiff(ro.y, ref.y.flat(2)) < tol, `${dtype}: y`);
        assert.ok(maxRelDiff(ro.e, ref.e.flat(2)) < tol, `${dtype}: e`);
        assert.ok(maxRelDiff(ro.c, ref.c.flat(2)) < tol, `${dtype}: c`);
      }
    }
  });
}

test("one step by hand: x_1 = (1-a) x_0 + a (W_in u_0 + W_rec r_0 + b) with eps_0 = 0, and e_1 = y_0 + dt (v*_0 - v_1)", () => {
  const { n, batch, x0 } = tinySetup("float64");
  const ro = net.simulate(n, batch, { x0: x0.flat() });
  const P = n.params;
  const b0 = 0;
  for (let i = 0; i < 5; i++) {
    let drive = P.b[i];
    for (let j = 0; j < 3; j++) drive += P.wIn[i * 3 + j] * batch.inputs[b0 * 3 + j];
    for (let j = 0; j < 5; j++) drive += P.wRec[i * 5 + j] * Math.max(x0[b0][j], 0);
    assert.ok(Math.abs(ro.x[3 * 5 + b0 * 5 + i] - (0.8 * x0[b0][i] + 0.2 * drive)) < 1e-14);
  }
  for (let o = 0; o < 2; o++) {
    const v1 = ro.y[3 * 2 + o] + batch.pushes[o];
    assert.ok(Math.abs(ro.v[3 * 2 + o] - v1) < 1e-15);
    assert.ok(Math.abs(ro.e[3 * 2 + o] - (ro.y[o] + 0.01 * (batch.reference[o] - v1))) < 1e-15);
    assert.equal(ro.e[o], 0, "stored E[0] is 0");
  }
  const zero = net.simulate({ ...n, config: { ...n.config, e0: "zero" } }, batch, { x0: x0.flat() });
  for (let o = 0; o < 2; o++) assert.ok(Math.abs(zero.e[3 * 2 + o] - 0.01 * (batch.reference[o] - zero.v[3 * 2 + o])) < 1e-15);
});

test("a feedback delay of d steps shifts the control input by d steps", () => {
  const n0 = net.initNetwork({ N: 20 }, Rng.seeded(4), "float64");
  const batch = task.centreOutAll();
  const x0 = new Float64Array(8 * 20).map((_, i) => 0.1 * Math.cos(i));
  // With feedback off the errors do not depend on d, so c^(d)_k = c^(0)_{k-d} exactly.
  const ref = net.simulate(n0, batch, { x0, feedback: false });
  for (const d of [1, 3, 10]) {
    const nd = { ...n0, config: { ...n0.config, fbDelay: d } };
    const ro = net.simulate(nd, batch, { x0, feedback: false });
    const BN = 8 * 20;
    for (let k = 0; k < batch.T; k++) {
      const got = ro.c.subarray(k * BN, (k + 1) * BN);
      if (k < d) assert.ok(got.every((v) => v === 0), `c_${k} must be 0 for k < d=${d}`);
      else assert.deepEqual(got, ref.c.subarray((k - d) * BN, (k - d + 1) * BN));
    }
  }
  // With feedback on, c_k = (M o W_fb) E[k-d] still holds step by step.
  const nd = { ...n0, config: { ...n0.config, fbDelay: 2 } };
  const on = net.simulate(nd, batch, { x0 });
  const W = net.effectiveFeedback(nd);
  for (const k of [2, 50, 124]) {
    for (let b = 0; b < 8; b++) {
      for (let i = 0; i < 20; i++) {
        const expect = W[i * 2] * on.e[((k - 2) * 8 + b) * 2] + W[i * 2 + 1] * on.e[((k - 2) * 8 + b) * 2 + 1];
        assert.ok(Math.abs(on.c[(k * 8 + b) * 20 + i] - expect) < 1e-14);
      }
    }
  }
});

test("velocity feedback by hand: eps_k = E[j] + kappa (E[j] - E[j-1]) / dt with j = k - d (E[0] read as e_0), 0 for j < 1; kappa 0 is the paper", () => {
  const kappa = 0.03;
  const d = 2;
  const cfg = net.networkConfig({ N: 20, fbDelay: d, fbVelocityGain: kappa });
  const n = net.initNetwork(cfg, Rng.seeded(4), "float64");
  const batch = task.centreOutAll();
  const x0 = new Float64Array(8 * 20).map((_, i) => 0.1 * Math.cos(i));
  const ro = net.simulate(n, batch, { x0 });
  const BO = 16;
  const E = (j: number, i: number) => (j === 0 ? ro.e0[i] : ro.e[j * BO + i]);
  for (const k of [0, 1, 2, 3, 4, 60, 124]) {
    const j = k - d;
    for (let i = 0; i < BO; i++) {
      // dt 0.01: the velocity error (E[j] - E[j-1]) / dt, times kappa 0.03, is 3 (E[j] - E[j-1]).
      const expect = j < 1 ? 0 : E(j, i) + 3 * (E(j, i) - E(j - 1, i));
      assert.ok(Math.abs(ro.eps[k * BO + i] - expect) < 1e-12, `eps_${k}[${i}] = ${ro.eps[k * BO + i]}, by hand ${expect}`);
    }
  }
  // e0 "readout": e_0 = y_0 is not zero, so step j = 1 reads it (the velocity error of the first step).
  assert.ok(ro.e0.some((v) => v !== 0));
  // The velocity term changes the rollout; kappa 0 is dropped from the config and gives the paper's numbers bit for bit.
  const paper = net.simulate({ ...n, config: net.networkConfig({ N: 20, fbDelay: d }) }, batch, { x0 });
  assert.ok(Math.abs(paper.e[100 * BO] - ro.e[100 * BO]) > 1e-6);
  const zero = net.networkConfig({ N: 20, fbDelay: d, fbVelocityGain: 0 });
  assert.equal("fbVelocityGain" in zero, false);
  assert.deepEqual(net.simulate({ ...n, config: zero }, batch, { x0 }).e, paper.e);
  assert.throws(() => net.networkConfig({ fbVelocityGain: -0.01 }), /fbVelocityGain: must be >= 0/);
  assert.throws(() => net.networkConfig({ fbVelocityGain: 0.05, errorMode: "velocity" }), /fbVelocityGain: needs errorMode "position"/);
});

test("feedback off equals a network whose feedback weights are zero; the mask gates feedback", () => {
  const n = net.initNetwork({ N: 16 }, Rng.seeded(5), "float64");
  const batch = task.centreOutAll();
  const init = () => Rng.seeded(5, "init");
  const off = net.simulate(n, batch, { init: init(), feedback: false });
  const zeroFb = net.cloneNetwork(n);
  zeroFb.params.wFb.fill(0);
  assert.deepEqual(net.simulate(zeroFb, batch, { init: init() }).x, off.x);
  const noMask = net.initNetwork({ N: 16, fbDensity: 0 }, Rng.seeded(5), "float64");
  assert.ok(noMask.params.mask.every((m) => m === 0));
  assert.ok(net.simulate(noMask, batch, { init: init() }).c.every((v) => v === 0));
  const on = net.simulate(n, batch, { init: init() });
  assert.notDeepEqual(on.x, off.x);
});

test("initialisation follows PyTorch's defaults and the seed", () => {
  const a = net.initNetwork({ N: 400 }, Rng.seeded(1, "weights"));
  const b = net.initNetwork({ N: 400 }, Rng.seeded(1, "weights"));
  const c = net.initNetwork({ N: 400 }, Rng.seeded(2, "weights"));
  assert.ok(a.params.wRec instanceof Float32Array);
  for (const name of net.PARAM_NAMES) assert.deepEqual(a.params[name], b.params[name]);
  assert.notDeepEqual(a.params.wRec, c.params.wRec);
  const bound = (x: ArrayLike<number>) => Array.from(x).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  for (const name of ["wIn", "wRec", "wOut"] as const) {
    assert.ok(bound(a.params[name]) <= 0.05 && bound(a.params[name]) > 0.045, `${name} ~ U(-0.05, 0.05)`);
  }
  assert.ok(bound(a.params.bOut) <= 0.05, "bOut ~ U(-0.05, 0.05)");
  for (const name of ["wFb", "b"] as const) {
    assert.ok(bound(a.params[name]) <= Math.SQRT1_2 && bound(a.params[name]) > 0.69, `${name} ~ U(-0.707, 0.707)`);
  }
  assert.ok(a.params.mask.every((m) => m === 1));
  assert.equal(a.params.wRec.length, 160000);
  assert.equal(a.params.wFb.length, 800);
});

test("same seed gives identical rollouts; the initial state comes from its own stream", () => {
  const n = net.initNetwork({ N: 32 }, Rng.seeded(3, "weights"));
  const batch = task.randomReaches(4, Rng.seeded(3, "trials"));
  const a = net.simulate(n, batch, { init: Rng.seeded(3, "init") });
  const b = net.simulate(n, batch, { init: Rng.seeded(3, "init") });
  const c = net.simulate(n, batch, { init: Rng.seeded(4, "init") });
  assert.deepEqual(a.e, b.e);
  assert.notDeepEqual(a.e, c.e);
  for (let i = 0; i < 4 * 32; i++) assert.ok(Math.abs(a.x[i]) <= 0.1);
  assert.equal(net.taskLoss(a), Array.from(a.e).reduce((s, v) => s + v * v, 0) / a.e.length);
});

test("a reused rollout gives the same numbers as a fresh one", () => {
  const n = net.initNetwork({ N: 16 }, Rng.seeded(6));
  const b1 = task.randomReaches(4, Rng.seeded(1));
  const b2 = task.randomReaches(4, Rng.seeded(2));
  const first = net.simulate(n, b1, { init: Rng.seeded(1) });
  const snapshot = Float32Array.from(first.e);
  net.simulate(n, b2, { init: Rng.seeded(2) }); // unrelated run in between
  const again = net.simulate(n, b1, { init: Rng.seeded(1), reuse: net.simulate(n, b2, { init: Rng.seeded(3) }) });
  assert.deepEqual(Float32Array.from(again.e), snapshot);
});

test("bad parameters are rejected with a message naming the parameter", () => {
  const rng = Rng.seeded(1);
  assert.throws(() => net.initNetwork({ N: 0 }, rng), /N: must be an integer >= 1, got 0/);
  assert.throws(() => net.initNetwork({ N: -3 }, rng), /N: must be an integer/);
  assert.throws(() => net.initNetwork({ N: 2.5 }, rng), /N: must be an integer/);
  assert.throws(() => net.initNetwork({ dt: 0 }, rng), /dt: must be a finite number > 0/);
  assert.throws(() => net.initNetwork({ dt: NaN }, rng), /dt/);
  assert.throws(() => net.initNetwork({ tau: 0.001 }, rng), /dt: must be <= tau/);
  assert.throws(() => net.initNetwork({ fbDensity: 1.5 }, rng), /fbDensity: must be a number in \[0, 1\]/);
  assert.throws(() => net.initNetwork({ fbDelay: -1 }, rng), /fbDelay/);
  assert.throws(() => net.initNetwork({ e0: "one" as never }, rng), /e0: must be one of/);
  const n = net.initNetwork({ N: 4 }, rng);
  assert.throws(() => net.simulate(n, task.centreOutAll()), /init: give an Rng/);
  assert.throws(() => net.simulate(n, task.centreOutAll(), { x0: new Float32Array(3) }), /x0: must have B\*N = 32 entries/);
  const broken = net.cloneNetwork(n);
  broken.params.wRec = new Float32Array(5);
  assert.throws(() => net.simulate(broken, task.centreOutAll(), { init: rng }), /params.wRec: must have 16 entries/);
});

test("a curl force field: the push is gain x the previous hand velocity rotated by +90° at every step; gain 0 is bit-identical to none", async () => {
  const { nativeAvailable, setEngine } = await import("../src/kernels");
  const n = net.initNetwork({ N: 40 }, Rng.seeded(11));
  const base = task.centreOut([0, 3, 6]);
  const batch = task.addPushes(base, Rng.seeded(12, "pushes"), { probability: 1 });
  const g = 0.3;
  for (const dtype of ["float64", "float32"] as const) {
    for (const engine of dtype === "float32" && nativeAvailable() ? (["openblas", "js"] as const) : (["js"] as const)) {
      setEngine(engine);
      try {
        const m = net.cloneNetwork(n, dtype);
        const ro = net.simulate(m, batch, { init: Rng.seeded(13), curlGain: g });
        const { T, B } = ro;
        let pushed = 0;
        for (let k = 0; k < T; k++) {
          for (let b = 0; b < B; b++) {
            const at = (k * B + b) * 2;
            const fx = ro.push[at] - batch.pushes[at];
            const fy = ro.push[at + 1] - batch.pushes[at + 1];
            const tol = dtype === "float64" ? 1e-12 : 1e-5;
            assert.ok(Math.abs(fx - -g * ro.v[at + 1]) <= tol * (1 + Math.abs(ro.v[at + 1])), `${dtype} ${engine} step ${k} trial ${b}: x push ${fx} vs ${-g * ro.v[at + 1]}`);
            assert.ok(Math.abs(fy - g * ro.v[at]) <= tol * (1 + Math.abs(ro.v[at])), `${dtype} ${engine} step ${k} trial ${b}: y push ${fy} vs ${g * ro.v[at]}`);
            // and it reaches the velocity of the next step: v_{k+1} = y_{k+1} + push_k
            const next = ((k + 1) * B + b) * 2;
            assert.ok(Math.abs(ro.v[next] - (ro.y[next] + ro.push[at])) <= tol * (1 + Math.abs(ro.v[next])));
            if (Math.abs(fx) + Math.abs(fy) > 1e-6) pushed++;
          }
        }
        assert.ok(pushed > T, "the field acts during the reach");
        // Gain 0 is the plain network, bit for bit.
        const plain = net.simulate(m, batch, { init: Rng.seeded(13) });
        const zero = net.simulate(m, batch, { init: Rng.seeded(13), curlGain: 0 });
        assert.deepEqual(zero.x, plain.x);
        assert.deepEqual(zero.e, plain.e);
        assert.deepEqual(zero.push, plain.push);
        assert.ok(net.taskLoss(ro) !== net.taskLoss(plain), "a field changes the reach");
      } finally {
        setEngine("auto");
      }
    }
  }
  assert.throws(() => net.simulate(n, batch, { init: Rng.seeded(13), curlGain: NaN }), /curlGain: must be a finite number/);
});
