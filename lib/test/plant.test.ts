/**
 * Plants (lib/src/plant): the massless hand, the viscous point mass and the two-joint arm. The tests pin the
 * physics (exact discrete relations, analytic cases, conservation), the kinematics, the joint limits, and the
 * hand-written backward passes against finite differences (float64), against float32, and against
 * TensorFlow.js autodiff.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import type { FArray } from "../src/kernels";
import type { Tensor } from "@tensorflow/tfjs";
import {
  MasslessHand, Muscle, Plant, PointMass, TwoJointArm, TWO_JOINT_ARM_DEFAULTS, makePlant, normalisePlant, plantRegistry,
  stepJacobian, tfStep,
} from "../src/plant";

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;
const RAD = Math.PI / 180;

/** |a - b| / |b| over whole arrays (Frobenius norms). */
function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let r = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    r += b[i] ** 2;
  }
  return r === 0 ? (d === 0 ? 0 : Infinity) : Math.sqrt(d / r);
}

function fill(rng: Rng, n: number, lo: number, hi: number, C: Ctor = Float64Array): FArray {
  const a = new C(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniformIn(lo, hi);
  return a;
}

/** A trial's inputs for a chained check: initial state, commands [T, B, 2], forces [T, B, 2] (or null). */
interface Inputs {
  B: number;
  T: number;
  s0: FArray;
  u: FArray;
  f: FArray | null;
}

/** Random inputs for plant p, in ranges where each plant stays in its smooth region for 20 steps. */
function inputs(p: Plant, seed: number, B: number, T: number, withForce = true): Inputs {
  if (p instanceof Muscle) {
    // The inner plant's inputs, with activations (>= 0) in the commands' range appended to each trial's state.
    const x = inputs(p.inner, seed, B, T, withForce);
    const rng = Rng.seeded(seed, "plant-muscle");
    const [n, N] = [p.inner.nState, p.nState];
    const span = p.inner instanceof TwoJointArm ? 2 : 10;
    const s0 = new Float64Array(B * N);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < n; i++) s0[b * N + i] = x.s0[b * n + i];
      for (let j = n; j < N; j++) s0[b * N + j] = rng.uniformIn(0, span);
    }
    return { ...x, s0 };
  }
  const rng = Rng.seeded(seed, `plant-${p.name}`);
  const s0 = new Float64Array(B * p.nState);
  let u: FArray;
  let f: FArray | null;
  if (p instanceof TwoJointArm) {
    for (let b = 0; b < B; b++) {
      s0[4 * b] = rng.uniformIn(50, 90) * RAD;
      s0[4 * b + 1] = rng.uniformIn(50, 110) * RAD;
      s0[4 * b + 2] = rng.uniformIn(-1, 1);
      s0[4 * b + 3] = rng.uniformIn(-1, 1);
    }
    u = fill(rng, T * B * 2, -2, 2);
    f = withForce ? fill(rng, T * B * 2, -2, 2) : null;
  } else {
    for (let i = 0; i < s0.length; i++) s0[i] = rng.uniformIn(-5, 5);
    u = fill(rng, T * B * 2, -10, 10);
    f = withForce ? fill(rng, T * B * 2, -3, 3) : null;
  }
  return { B, T, s0, u, f };
}

/** Runs T steps: states [T+1, B, nState] and velocities [T, B, 2], in dtype C. */
function rollout(p: Plant, x: Inputs, C: Ctor = Float64Array): { S: FArray; V: FArray } {
  const { B, T } = x;
  const n = B * p.nState;
  const S = new C((T + 1) * n);
  const V = new C(T * B * 2);
  S.set(x.s0);
  const u = C.from(x.u);
  const f = x.f === null ? null : C.from(x.f);
  for (let k = 0; k < T; k++) {
    p.step(B, S.subarray(k * n, (k + 1) * n), u.subarray(k * B * 2, (k + 1) * B * 2), f === null ? null : f.subarray(k * B * 2, (k + 1) * B * 2),
      S.subarray((k + 1) * n, (k + 2) * n), V.subarray(k * B * 2, (k + 1) * B * 2));
  }
  return { S, V };
}

/** The loss L = sum_k <cV_k, v_k> + <cS, state_T>, and its weights, for a chained check. */
interface Weights {
  cV: Float64Array;
  cS: Float64Array;
}
function weights(p: Plant, x: Inputs, seed: number): Weights {
  const rng = Rng.seeded(seed, "loss-weights");
  return { cV: fill(rng, x.T * x.B * 2, -1, 1) as Float64Array, cS: fill(rng, x.B * p.nState, -1, 1) as Float64Array };
}
function chainLoss(p: Plant, x: Inputs, w: Weights): number {
  const { S, V } = rollout(p, x);
  const n = x.B * p.nState;
  let L = 0;
  for (let i = 0; i < V.length; i++) L += w.cV[i] * V[i];
  for (let i = 0; i < n; i++) L += w.cS[i] * S[x.T * n + i];
  return L;
}

/** dL/d s0, dL/d u, dL/d f by the plant's backward, chained over the steps, in dtype C. */
function chainGradient(p: Plant, x: Inputs, w: Weights, C: Ctor = Float64Array): { gS0: FArray; gU: FArray; gF: FArray } {
  const { B, T } = x;
  const n = B * p.nState;
  const { S } = rollout(p, x, C);
  const u = C.from(x.u);
  const f = x.f === null ? null : C.from(x.f);
  const cV = C.from(w.cV);
  let gNext: FArray = C.from(w.cS);
  const gU = new C(T * B * 2);
  const gF = new C(T * B * 2);
  for (let k = T - 1; k >= 0; k--) {
    const gState = new C(n);
    p.backward(B, S.subarray(k * n, (k + 1) * n), u.subarray(k * B * 2, (k + 1) * B * 2), f === null ? null : f.subarray(k * B * 2, (k + 1) * B * 2),
      gNext, cV.subarray(k * B * 2, (k + 1) * B * 2), gState, gU.subarray(k * B * 2, (k + 1) * B * 2), gF.subarray(k * B * 2, (k + 1) * B * 2));
    gNext = gState;
  }
  return { gS0: gNext, gU, gF };
}

/**
 * Central differences of fourth order, (-f(2h) + 8 f(h) - 8 f(-h) + f(-2h)) / 12h, error O(h^4). A large h
 * (1e-3) keeps rounding out: a command moves the next angle by only ~dt^2 S / I h, and the angles (~1) are
 * stored to 1e-16, so a second-order difference with h = 1e-6 would see rounding noise of ~1e-7 relative.
 */
function fd4(f: () => number, a: FArray, i: number, h: number): number {
  const keep = a[i];
  const step = h * Math.max(1, Math.abs(keep));
  const at = (d: number) => {
    a[i] = keep + d;
    const y = f();
    a[i] = keep;
    return y;
  };
  return (-at(2 * step) + 8 * at(step) - 8 * at(-step) + at(-2 * step)) / (12 * step);
}

/** The same derivatives by finite differences of chainLoss (fd4). */
function chainFd(p: Plant, x: Inputs, w: Weights, h = 1e-3): { gS0: Float64Array; gU: Float64Array; gF: Float64Array } {
  const fd = (a: FArray): Float64Array => Float64Array.from({ length: a.length }, (_, i) => fd4(() => chainLoss(p, x, w), a, i, h));
  return { gS0: fd(x.s0), gU: fd(x.u), gF: x.f === null ? new Float64Array(x.u.length) : fd(x.f) };
}

const arm = () => new TwoJointArm();
const PLANTS: [string, () => Plant][] = [
  ["massless", () => new MasslessHand()],
  ["point mass (defaults)", () => new PointMass()],
  ["point mass (m 2 kg, b 4 N s/m, scale 0.3)", () => new PointMass({ mass: 2, viscosity: 4, commandScale: 0.3 })],
  ["two-joint arm", arm],
  ["muscle on the point mass (defaults)", () => makePlant({ name: "muscle" })],
  ["muscle on the arm (defaults)", () => makePlant({ name: "muscle", options: { plant: "two_joint_arm" } })],
  ["muscle on the massless hand (one time constant, 0.03 s)", () => makePlant({ name: "muscle", options: { plant: "massless", tauActivation: 0.03, tauDeactivation: 0.03 } })],
];

/**
 * How far a muscle's rollout stays from the kinks of its activation dynamics (e = a on a driven side, u = 0):
 * the smallest |u| and |e - a| over every step and command (Infinity for other plants).
 */
function kinkMargin(p: Plant, x: Inputs): number {
  if (!(p instanceof Muscle)) return Infinity;
  const { S } = rollout(p, x);
  const [n, N, m] = [p.inner.nState, p.nState, p.nCommand];
  let margin = Infinity;
  for (let k = 0; k < x.T; k++) {
    for (let b = 0; b < x.B; b++) {
      for (let j = 0; j < m; j++) {
        const u = x.u[(k * x.B + b) * m + j];
        const a = S[k * x.B * N + b * N + n + (u > 0 ? j : m + j)];
        margin = Math.min(margin, Math.abs(u), Math.abs(Math.abs(u) - a));
      }
    }
  }
  return margin;
}

/**
 * inputs(p, seed, ...) or, for a muscle, the first of seed, seed + 100, ... whose rollout keeps from the kinks
 * 0.0075 of the commands' span (0.075 for the point mass's, 0.015 for the arm's): several times the largest
 * finite-difference step of a command or an activation (fd4: 2e-3 max(1, |x|)).
 */
function smoothInputs(p: Plant, seed: number, B: number, T: number, withForce = true): Inputs {
  const span = armOf(p) !== null ? 2 : 10;
  for (let i = 0; i < 500; i++) {
    const x = inputs(p, seed + 100 * i, B, T, withForce);
    if (kinkMargin(p, x) > 0.0075 * span) return x;
  }
  throw new Error(`${p.name}: no inputs keep away from the kinks`);
}

/** The arm a plant is or drives (a muscle's inner plant), or null. */
function armOf(p: Plant): TwoJointArm | null {
  return p instanceof TwoJointArm ? p : p instanceof Muscle ? armOf(p.inner) : null;
}

// --- the massless hand --------------------------------------------------------------------------------

test("massless: v is command + force bit for bit (network.ts's y + push), command alone without a force, and next = hand + dt v bit for bit", () => {
  for (const C of [Float32Array, Float64Array] as Ctor[]) {
    const p = new MasslessHand();
    const rng = Rng.seeded(1, "massless");
    const B = 5;
    const s = fill(rng, 2 * B, -5, 5, C);
    const u = fill(rng, 2 * B, -20, 20, C);
    const f = fill(rng, 2 * B, -3, 3, C);
    const next = new C(2 * B);
    const v = new C(2 * B);
    const y = new C(2 * B);
    p.step(B, s, u, f, next, v);
    for (let i = 0; i < 2 * B; i++) y[i] = u[i] + f[i];
    assert.deepEqual(Array.from(v), Array.from(y));
    const h = new C(2 * B);
    for (let i = 0; i < 2 * B; i++) h[i] = s[i] + 0.01 * v[i];
    assert.deepEqual(Array.from(next), Array.from(h));
    p.step(B, s, u, null, next, v);
    assert.deepEqual(Array.from(v), Array.from(u));
    const out = new C(2 * B);
    p.hand(B, next, out);
    assert.deepEqual(Array.from(out), Array.from(next));
  }
});

// --- the point mass -----------------------------------------------------------------------------------

test("point mass: from rest under a constant command the velocity follows the exact geometric series and reaches the terminal velocity 100 S u / b", () => {
  for (const opts of [{}, { mass: 2, viscosity: 4, commandScale: 0.3 }]) {
    const p = new PointMass(opts);
    const B = 2;
    const u = Float64Array.from([3, -7, 0.5, 12]);
    let s: FArray = new Float64Array(4 * B);
    p.init(B, [1, 2, -3, 4], s);
    const next = new Float64Array(4 * B);
    const v = new Float64Array(2 * B);
    const decay = 1 - (p.dt * p.viscosity) / p.mass;
    const terminal = (i: number) => (100 * p.commandScale * u[i]) / p.viscosity;
    // Enough steps for decay^k < 1e-11.
    const steps = Math.ceil(Math.log(1e-11) / Math.log(decay));
    for (let k = 1; k <= steps; k++) {
      p.step(B, s, u, null, next, v);
      s = Float64Array.from(next);
      if (k === 7 || k === 50) {
        for (let i = 0; i < 2 * B; i++) {
          const exact = terminal(i) * (1 - decay ** k);
          assert.ok(Math.abs(v[i] - exact) <= 1e-12 * Math.abs(terminal(i)), `step ${k}: ${v[i]} vs ${exact}`);
        }
      }
    }
    for (let i = 0; i < 2 * B; i++) assert.ok(Math.abs(v[i] - terminal(i)) <= 1e-9 * Math.abs(terminal(i)), `terminal ${v[i]} vs ${terminal(i)}`);
  }
  // With the default commandScale = 0.01 b, the terminal velocity is the command itself (task units / s).
  const p = new PointMass();
  assert.equal((100 * p.commandScale) / p.viscosity, 1);
});

test("point mass: each step's change of kinetic energy equals the work of that step's force, F . (vel + vel')/2 dt (viscous work alone with no command)", () => {
  const p = new PointMass({ mass: 1.5, viscosity: 12, commandScale: 0.2 });
  const B = 3;
  for (const withCommand of [false, true]) {
    const rng = Rng.seeded(withCommand ? 2 : 3, "energy");
    let s: FArray = fill(rng, 4 * B, -20, 20);
    const next = new Float64Array(4 * B);
    const v = new Float64Array(2 * B);
    let lost = 0;
    for (let k = 0; k < 60; k++) {
      const u = withCommand ? fill(rng, 2 * B, -10, 10) : new Float64Array(2 * B);
      const f = withCommand ? fill(rng, 2 * B, -2, 2) : null;
      p.step(B, s, u, f, next, v);
      for (let b = 0; b < B; b++) {
        let dKE = 0;
        let work = 0;
        for (let d = 0; d < 2; d++) {
          const vel = s[4 * b + 2 + d] / 100; // m/s
          const vel1 = next[4 * b + 2 + d] / 100;
          dKE += 0.5 * p.mass * (vel1 * vel1 - vel * vel);
          const F = p.commandScale * u[2 * b + d] + (f === null ? 0 : f[2 * b + d]) - p.viscosity * vel;
          work += F * ((vel + vel1) / 2) * p.dt;
        }
        const scale = Math.abs(dKE) + 1e-300;
        assert.ok(Math.abs(dKE - work) <= 1e-12 * Math.max(scale, Math.abs(work)), `step ${k} trial ${b}: dKE ${dKE} vs work ${work}`);
        if (!withCommand) assert.ok(dKE < 0, "with no command the mass only loses energy");
        lost += dKE;
      }
      s = Float64Array.from(next);
    }
    if (!withCommand) assert.ok(lost < 0);
  }
});

test("point mass and massless hand: the hand integrates v bit for bit (hand(next) = hand + dt v), in float32 and float64", () => {
  for (const C of [Float32Array, Float64Array] as Ctor[]) {
    for (const p of [new PointMass(), new MasslessHand()]) {
      const x = inputs(p, 4, 3, 30);
      const { S, V } = rollout(p, x, C);
      const n = 3 * p.nState;
      const h0 = new C(6);
      const h1 = new C(6);
      const want = new C(6);
      for (let k = 0; k < 30; k++) {
        p.hand(3, S.subarray(k * n, (k + 1) * n), h0);
        p.hand(3, S.subarray((k + 1) * n, (k + 2) * n), h1);
        for (let i = 0; i < 6; i++) want[i] = h0[i] + p.dt * V[k * 6 + i];
        assert.deepEqual(Array.from(h1), Array.from(want), `${p.name} ${C.name} step ${k}`);
      }
    }
  }
});

// --- the two-joint arm --------------------------------------------------------------------------------

test("arm: at q2 = 0 M11 is the straight arm's inertia about the shoulder by parallel axes, I1 + (I2 - m2 s2^2) + m2 (l1 + s2)^2", () => {
  const o = TWO_JOINT_ARM_DEFAULTS;
  const rod = o.I1 + (o.I2 - o.m2 * o.s2 ** 2) + o.m2 * (o.l1 + o.s2) ** 2;
  const [m11, m12, m21, m22] = arm().inertia(0);
  assert.ok(Math.abs(m11 - rod) < 1e-15, `${m11} vs ${rod}`);
  // The forearm about the elbow, and its coupling to the shoulder at q2 = 0 (centre of mass at l1 + s2).
  assert.ok(Math.abs(m22 - o.I2) < 1e-15);
  assert.ok(Math.abs(m12 - (o.I2 + o.m2 * o.l1 * o.s2)) < 1e-15);
  assert.equal(m12, m21);
});

test("arm: the straight arm driven by tau = M e1 alpha from rest turns as one rigid rod (elbow acceleration 0, hand on the circle of radius l1 + l2)", () => {
  const p = arm();
  const alpha = 3;
  const q1 = 40 * RAD;
  const [m11, , m21] = p.inertia(0);
  const state = Float64Array.from([q1, 0, 0, 0]);
  const command = Float64Array.from([(m11 * alpha) / p.commandScale, (m21 * alpha) / p.commandScale]);
  const next = new Float64Array(4);
  const v = new Float64Array(2);
  p.step(1, state, command, null, next, v);
  assert.ok(Math.abs(next[2] - p.dt * alpha) < 1e-15, `shoulder velocity ${next[2]}`);
  assert.ok(Math.abs(next[3]) < 1e-15, `elbow velocity ${next[3]}`);
  // The rod's end moves by the chord 2 L sin(dphi / 2) at right angles to the rod's mid direction.
  const L = 100 * (p.l1 + p.l2);
  const dphi = p.dt * p.dt * alpha;
  const chord = (2 * L * Math.sin(dphi / 2)) / p.dt;
  const mid = q1 + dphi / 2;
  assert.ok(Math.abs(v[0] + chord * Math.sin(mid)) < 1e-12 * chord && Math.abs(v[1] - chord * Math.cos(mid)) < 1e-12 * chord, `v ${v[0]}, ${v[1]}`);
});

test("arm: the straight arm spinning freely (no viscosity, no torque) keeps spinning at constant speed with the elbow exactly straight", () => {
  const p = new TwoJointArm({ viscosity: [0, 0, 0, 0] });
  let s: FArray = Float64Array.from([20 * RAD, 0, 2.5, 0]);
  const next = new Float64Array(4);
  const v = new Float64Array(2);
  const L = 100 * (p.l1 + p.l2);
  const speed = (2 * L * Math.sin((p.dt * 2.5) / 2)) / p.dt;
  for (let k = 0; k < 40; k++) {
    p.step(1, s, [0, 0], null, next, v);
    assert.equal(next[1], 0);
    assert.equal(next[3], 0);
    assert.equal(next[2], 2.5);
    assert.ok(Math.abs(Math.hypot(v[0], v[1]) - speed) < 1e-12 * speed);
    s = Float64Array.from(next);
  }
});

test("arm: from rest with no torque and no force the arm stays exactly at rest, at any posture within the limits", () => {
  const p = arm();
  const B = 4;
  const s = Float64Array.from([45 * RAD, 90 * RAD, 0, 0, 10 * RAD, 150 * RAD, 0, 0, 130 * RAD, 5 * RAD, 0, 0, 0, 0, 0, 0]);
  const next = new Float64Array(4 * B);
  const v = new Float64Array(2 * B);
  p.step(B, s, new Float64Array(2 * B), new Float64Array(2 * B), next, v);
  assert.deepEqual(Array.from(next), Array.from(s));
  assert.ok(v.every((x) => x === 0));
});

function energyDrift(dt: number, viscosity: number[]): { drift: number; final: number; initial: number } {
  // Limits far away: free motion for the whole run.
  const p = new TwoJointArm({ dt, viscosity, shoulderLimitsDeg: [-720, 720], elbowLimitsDeg: [-720, 720] });
  let s: FArray = Float64Array.from([45 * RAD, 90 * RAD, 2, -3]);
  const next = new Float64Array(4);
  const v = new Float64Array(2);
  const initial = p.kineticEnergy(s);
  let drift = 0;
  for (let k = 0; k < Math.round(0.5 / dt); k++) {
    p.step(1, s, [0, 0], null, next, v);
    s = Float64Array.from(next);
    drift = Math.max(drift, Math.abs(p.kineticEnergy(s) - initial) / initial);
  }
  return { drift, final: p.kineticEnergy(s), initial };
}

test("arm: without viscosity the kinetic energy is conserved to O(dt) (10 times smaller drift with a 10 times smaller step); with viscosity it decreases", () => {
  const coarse = energyDrift(0.01, [0, 0, 0, 0]);
  const fine = energyDrift(0.001, [0, 0, 0, 0]);
  assert.ok(coarse.drift < 0.05, `drift ${coarse.drift} with dt = 0.01`);
  const ratio = coarse.drift / fine.drift;
  assert.ok(ratio > 7 && ratio < 13, `drift ratio ${ratio} (${coarse.drift} / ${fine.drift}), first order expects 10`);
  const damped = energyDrift(0.01, TWO_JOINT_ARM_DEFAULTS.viscosity);
  assert.ok(damped.final < damped.initial && damped.final < coarse.final, `energy ${damped.initial} -> ${damped.final} (free: ${coarse.final})`);
});

test("arm: the hand integrates v to rounding (hand(next) = hand + dt v), in float64 and float32", () => {
  // hand() itself rounds to ~1e-14 cm (it subtracts the centre, 45 cm from the shoulder): absolute floor 1e-13 cm.
  for (const [C, tol] of [[Float64Array, 1e-13], [Float32Array, 1e-6]] as [Ctor, number][]) {
    const p = arm();
    const x = inputs(p, 5, 3, 30);
    const { S, V } = rollout(p, x, C);
    const h0 = new Float64Array(6);
    const h1 = new Float64Array(6);
    for (let k = 0; k < 30; k++) {
      p.hand(3, S.subarray(k * 12, (k + 1) * 12), h0);
      p.hand(3, S.subarray((k + 1) * 12, (k + 2) * 12), h1);
      for (let i = 0; i < 6; i++) {
        const step = h1[i] - h0[i];
        assert.ok(Math.abs(p.dt * V[k * 6 + i] - step) <= Math.max(tol * Math.abs(step), 1e-13), `${C.name} step ${k}: ${p.dt * V[k * 6 + i]} vs ${step}`);
      }
    }
  }
});

test("arm: init then hand gives the start back to 1e-12 cm over a grid of the workspace; (0, 0) is the centre posture; out of reach and beyond the limits are refused", () => {
  const p = arm();
  const pts: number[] = [];
  for (let x = -15; x <= 15; x += 2.5) for (let y = -15; y <= 15; y += 2.5) pts.push(x, y);
  const B = pts.length / 2;
  const s = new Float64Array(4 * B);
  const h = new Float64Array(2 * B);
  p.init(B, pts, s);
  p.hand(B, s, h);
  for (let i = 0; i < 2 * B; i++) assert.ok(Math.abs(h[i] - pts[i]) < 1e-12, `point ${i >> 1}: ${h[i]} vs ${pts[i]}`);
  for (let b = 0; b < B; b++) assert.ok(s[4 * b + 2] === 0 && s[4 * b + 3] === 0 && s[4 * b + 1] > 0);
  const c = new Float64Array(4);
  p.init(1, [0, 0], c);
  assert.ok(Math.abs(c[0] - 45 * RAD) < 1e-14 && Math.abs(c[1] - 90 * RAD) < 1e-14, `centre ${c[0] / RAD}°, ${c[1] / RAD}°`);
  assert.throws(() => p.init(1, [0, 30], c), /^ParameterError: start: \(0, 30\) is out of the arm's reach$/);
  // Straight down past the shoulder (y = -45 cm puts the hand behind the shoulder line: shoulder angle < 0).
  assert.throws(() => p.init(1, [30, -45], c), /start: .* beyond the joint limits/);
});

test("arm: beyond a joint limit the spring-damper pushes the joint back into its range, and a sustained torque holds it about tau / k past the limit", () => {
  const p = arm();
  const cases: [number, number, number, number][] = [
    // [q1, q2, joint, expected sign of the next velocity]
    [-5 * RAD, 90 * RAD, 0, 1],
    [145 * RAD, 90 * RAD, 0, -1],
    [60 * RAD, -5 * RAD, 1, 1],
    [60 * RAD, 165 * RAD, 1, -1],
  ];
  for (const [q1, q2, j, sign] of cases) {
    const next = new Float64Array(4);
    p.step(1, [q1, q2, 0, 0], [0, 0], null, next, new Float64Array(2));
    assert.ok(Math.sign(next[2 + j]) === sign, `joint ${j} at [${q1 / RAD}, ${q2 / RAD}]: velocity ${next[2 + j]}`);
  }
  // Inside the range nothing acts: no torque, no motion (the rest test covers it); here 0.5 N m on the elbow
  // into its upper limit for 3 s.
  let s: FArray = Float64Array.from([60 * RAD, 150 * RAD, 0, 0]);
  const next = new Float64Array(4);
  const tau = 0.5;
  let worst = 0;
  for (let k = 0; k < 300; k++) {
    p.step(1, s, [0, tau / p.commandScale], null, next, new Float64Array(2));
    s = Float64Array.from(next);
    worst = Math.max(worst, s[1] - p.upper[1]);
  }
  const pen = s[1] - p.upper[1];
  assert.ok(Math.abs(pen - tau / p.limitStiffness) < 0.1 * (tau / p.limitStiffness), `penetration ${pen} rad, tau / k = ${tau / p.limitStiffness}`);
  // Arriving with speed, the elbow overshoots the equilibrium penetration, but by less than 3° here.
  assert.ok(worst < 0.05, `largest penetration ${worst} rad`);
});

// --- activation dynamics (muscle) -----------------------------------------------------------------------

test("muscle: each command drives an agonist-antagonist pair, a' = a + (dt / tau)(e - a) with e = max(+-u, 0), tauActivation while e > a, tauDeactivation otherwise (by hand); on the massless hand v = a+ - a-", () => {
  const p = makePlant({ name: "muscle", options: { plant: "massless" } });
  assert.ok(p instanceof Muscle && p.nState === 6 && p.nCommand === 2 && p.pushScale === 1);
  // dt / tau: 0.01 / 0.015 = 2/3 while an excitation is above its activation, 0.01 / 0.05 = 0.2 otherwise.
  let s = new Float64Array(6);
  p.init(1, [1, 2], s);
  assert.deepEqual([...s], [1, 2, 0, 0, 0, 0]);
  const next = new Float64Array(6);
  const v = new Float64Array(2);
  const hand = [1, 2];
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-15 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
  /** One step; want = [a+x, a+y, a-x, a-y] after it. */
  const run = (u: number[], want: number[]) => {
    p.step(1, s, u, null, next, v);
    for (let j = 0; j < 4; j++) close(next[2 + j], want[j], `activation ${j}`);
    for (let d = 0; d < 2; d++) {
      close(v[d], want[d] - want[2 + d], "v = a+ - a-");
      hand[d] += 0.01 * v[d];
      close(next[d], hand[d], "hand");
    }
    s = Float64Array.from(next);
  };
  // From rest, u = (3, -1.5): x's agonist and y's antagonist rise as u (1 - (1/3)^k); the others stay 0.
  for (let k = 1; k <= 5; k++) run([3, -1.5], [3 * (1 - 3 ** -k), 0, 0, 1.5 * (1 - 3 ** -k)]);
  // Released: each decays by 1 - 0.2 per step.
  for (let k = 1; k <= 4; k++) run([0, 0], [3 * (1 - 3 ** -5) * 0.8 ** k, 0, 0, 1.5 * (1 - 3 ** -5) * 0.8 ** k]);
  // Reversed on x: the agonist keeps releasing slowly while the antagonist rises fast, 0 + (2/3) 3 = 2.
  const ax = 3 * (1 - 3 ** -5) * 0.8 ** 4;
  const ay = 1.5 * (1 - 3 ** -5) * 0.8 ** 4;
  run([-3, 0], [0.8 * ax, 0, 2, 0.8 * ay]);
  // An excitation below its activation (x's antagonist at 2, e = 1) releases slowly: 2 + 0.2 (1 - 2).
  run([-1, 0], [0.64 * ax, 0, 1.8, 0.64 * ay]);
});

test("muscle: the lag's steady-state gain is 1 (on the point mass a constant command reaches the point mass's own terminal velocity 100 S u / b); init and hand are the inner plant's", () => {
  const p = makePlant({ name: "muscle" });
  const pm = new PointMass();
  let s = new Float64Array(2 * p.nState);
  p.init(2, [0, 0, 3, -4], s);
  const h = new Float64Array(4);
  p.hand(2, s, h);
  assert.deepEqual([...h], [0, 0, 3, -4]);
  const next = new Float64Array(2 * p.nState);
  const v = new Float64Array(4);
  const u = [2, -1, 0.5, 7];
  for (let k = 0; k < 300; k++) {
    p.step(2, s, u, null, next, v);
    s = Float64Array.from(next);
  }
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(v[i] - (100 * pm.commandScale * u[i]) / pm.viscosity) < 1e-9, `v ${v[i]} for u ${u[i]}`);
  // In the first step the agonist passes only dt / tauActivation of the command to the mass.
  const s0 = new Float64Array(p.nState);
  const n1 = new Float64Array(p.nState);
  const v1 = new Float64Array(2);
  p.step(1, s0, [3, 0], null, n1, v1);
  const m1 = new Float64Array(4);
  const w1 = new Float64Array(2);
  pm.step(1, new Float64Array(4), [2, 0], null, m1, w1);
  assert.ok(Math.abs(v1[0] - w1[0]) < 1e-15 && v1[1] === 0);
});

test("muscle: options are recorded with the inner plant's spelled out; a time constant below dt or an unknown inner plant is refused in one line", () => {
  const m = makePlant({ name: "muscle", options: { plant: "two_joint_arm", tauDeactivation: 0.04 } });
  assert.ok(m instanceof Muscle && m.inner instanceof TwoJointArm && m.nState === 8);
  assert.deepEqual(m.options, { plant: "two_joint_arm", plantOptions: JSON.parse(JSON.stringify(TWO_JOINT_ARM_DEFAULTS)), tauActivation: 0.015, tauDeactivation: 0.04 });
  assert.deepEqual(normalisePlant({ name: "muscle" }), { name: "muscle", options: { plant: "point_mass", plantOptions: {}, tauActivation: 0.015, tauDeactivation: 0.05 } });
  assert.equal((makePlant({ name: "muscle", options: { plantOptions: { mass: 2 } } }) as Muscle).inner.options.mass, 2);
  assert.throws(() => makePlant({ name: "muscle", options: { tauActivation: 0.005 } }), /^ParameterError: tauActivation: must be at least the step dt = 0\.01 s/);
  assert.throws(() => makePlant({ name: "muscle", options: { plant: "rocket" } }), /^ParameterError: plant: must be one of "massless", "point_mass", "two_joint_arm", "muscle"/);
});

// --- gradients ----------------------------------------------------------------------------------------

test("backward of one step matches central finite differences of step (float64, state, command and force) for every plant", () => {
  for (const [label, make] of PLANTS) {
    const p = make();
    const x = smoothInputs(p, 6, 3, 1);
    const w = weights(p, x, 7);
    const g = chainGradient(p, x, w);
    const fd = chainFd(p, x, w);
    for (const key of ["gS0", "gU", "gF"] as const) {
      const e = rel(g[key], fd[key]);
      assert.ok(e < 1e-7, `${label} ${key}: relative error ${e}`);
    }
  }
});

test("backward chained over 20 steps matches finite differences of the whole chain (linear loss of every v and the final state, float64) for every plant", () => {
  for (const [label, make] of PLANTS) {
    for (const withForce of [true, false]) {
      const p = make();
      const x = smoothInputs(p, 8, 3, 20, withForce);
      const a = armOf(p);
      if (a !== null) {
        // The arm stays inside its joint limits (the smooth region) along the whole chain.
        const { S } = rollout(p, x);
        for (let i = 0; i < S.length; i += p.nState) {
          assert.ok(S[i] > a.lower[0] && S[i] < a.upper[0] && S[i + 1] > a.lower[1] && S[i + 1] < a.upper[1]);
        }
      }
      const w = weights(p, x, 9);
      const g = chainGradient(p, x, w);
      const fd = chainFd(p, x, w);
      for (const key of withForce ? (["gS0", "gU", "gF"] as const) : (["gS0", "gU"] as const)) {
        const e = rel(g[key], fd[key]);
        assert.ok(e < 1e-7, `${label}${withForce ? "" : " (no force)"} ${key}: relative error ${e}`);
      }
    }
  }
});

test("arm: backward matches finite differences beyond each joint limit too (one step, and 5 steps chained, away from the limit itself)", () => {
  const p = arm();
  const rng = Rng.seeded(10, "limits");
  const postures = [[-6, 80], [146, 80], [70, -6], [70, 166]];
  for (const T of [1, 5]) {
    const B = postures.length;
    const s0 = new Float64Array(4 * B);
    postures.forEach(([a, b], i) => s0.set([a * RAD, b * RAD, rng.uniformIn(-0.3, 0.3), rng.uniformIn(-0.3, 0.3)], 4 * i));
    const x: Inputs = { B, T, s0, u: fill(rng, T * B * 2, -1, 1), f: fill(rng, T * B * 2, -1, 1) };
    const { S } = rollout(p, x);
    for (let k = 0; k < T; k++) {
      for (let b = 0; b < B; b++) {
        const j = b < 2 ? 0 : 1;
        const q = S[k * 4 * B + 4 * b + j];
        assert.ok(q < p.lower[j] - 1e-3 || q > p.upper[j] + 1e-3, `trial ${b} left the limit region at step ${k}`);
      }
    }
    const w = weights(p, x, 11);
    const g = chainGradient(p, x, w);
    const fd = chainFd(p, x, w);
    for (const key of ["gS0", "gU", "gF"] as const) {
      const e = rel(g[key], fd[key]);
      assert.ok(e < 1e-7, `T = ${T} ${key}: relative error ${e}`);
    }
  }
});

test("stepJacobian gives the dense one-step derivatives, checked column by column against finite differences (arm with force)", () => {
  const p = arm();
  const state = [50 * RAD, 70 * RAD, 0.4, -0.7];
  const command = [0.8, -1.2];
  const force = [1.5, -0.5];
  const J = stepJacobian(p, state, command, force);
  const out = (s: ArrayLike<number>, u: ArrayLike<number>, f: ArrayLike<number>) => {
    const next = new Float64Array(4);
    const v = new Float64Array(2);
    p.step(1, s, u, f, next, v);
    return [...next, ...v];
  };
  const column = (which: 0 | 1 | 2, i: number) => {
    const args = [Float64Array.from(state), Float64Array.from(command), Float64Array.from(force)];
    return [0, 1, 2, 3, 4, 5].map((r) => fd4(() => out(args[0], args[1], args[2])[r], args[which], i, 1e-3));
  };
  const pick = (which: 0 | 1 | 2, i: number) => {
    const [nx, vx, width] = which === 0 ? [J.nextState, J.vState, 4] : which === 1 ? [J.nextCommand, J.vCommand, 2] : [J.nextForce, J.vForce, 2];
    return [0, 1, 2, 3].map((r) => nx[r * width + i]).concat([0, 1].map((r) => vx[r * width + i]));
  };
  for (const [which, n] of [[0, 4], [1, 2], [2, 2]] as [0 | 1 | 2, number][]) {
    for (let i = 0; i < n; i++) {
      const e = rel(pick(which, i), column(which, i));
      assert.ok(e < 1e-7, `input ${which}/${i}: relative error ${e}`);
    }
  }
});

// Float32 tolerances. Float32 stores the arm's angles (about 1 rad) to 6e-8 rad; the hand velocity is the
// secant of consecutive stored angles, (hand(q') - hand(q)) / dt, so that rounding reaches v multiplied by
// |J| / dt: the arm's v agrees with float64 to 2.9e-6 .. 7.8e-6 (seeds 12-23), everything else to 2e-7 or
// better. TensorFlow.js (cpu backend) agrees with the float64 backward to 1.2e-6 or better (seeds 12-23).
const F32_TOL = 1e-5;
const F32_ARM_V_TOL = 2e-5;
const TF_TOL = 1e-5;

test("float32 runs every plant and matches float64 (states, velocities and the chained gradients to 1e-5; the arm's velocities to 2e-5)", () => {
  for (const [label, make] of PLANTS) {
    const p = make();
    const x = inputs(p, 12, 3, 20);
    // Inputs exactly representable in float32, so that only the arithmetic differs.
    x.s0 = Float32Array.from(x.s0);
    x.u = Float32Array.from(x.u);
    x.f = Float32Array.from(x.f!);
    const r64 = rollout(p, x, Float64Array);
    const r32 = rollout(p, x, Float32Array);
    assert.ok(r32.S instanceof Float32Array);
    assert.ok(rel(r32.S, r64.S) < F32_TOL, `${label} states: ${rel(r32.S, r64.S)}`);
    const vTol = armOf(p) !== null ? F32_ARM_V_TOL : F32_TOL;
    assert.ok(rel(r32.V, r64.V) < vTol, `${label} velocities: ${rel(r32.V, r64.V)}`);
    const w = weights(p, x, 13);
    const g64 = chainGradient(p, x, w, Float64Array);
    const g32 = chainGradient(p, x, w, Float32Array);
    for (const key of ["gS0", "gU", "gF"] as const) {
      const e = rel(g32[key], g64[key]);
      assert.ok(e < F32_TOL, `${label} ${key}: ${e}`);
    }
  }
});

test("backward chained over a 10-step rollout matches TensorFlow.js autodiff of the tfjs step (tf.grad, float32) for every plant, to 1e-5", async () => {
  const { initTf } = await import("../src/backend");
  // The plain-JavaScript backend: the wasm backend's sin and cos are off by up to ~2e-5 relative for small
  // arguments (sin(-0.0044) = -0.00440006), which the arm's secant velocity multiplies by 1/dt.
  const { tf } = await initTf("cpu");
  for (const [label, make] of PLANTS) {
    const p = make();
    const x = inputs(p, 14, 3, 10);
    x.s0 = Float32Array.from(x.s0);
    x.u = Float32Array.from(x.u);
    x.f = Float32Array.from(x.f!);
    const w = weights(p, x, 15);
    const { B, T } = x;
    const n = p.nState;
    const ref = chainGradient(p, x, w);
    const lossOf = (s0: Tensor, u: Tensor, f: Tensor): Tensor => {
      let s = s0;
      let L: Tensor = tf.scalar(0);
      const us = tf.unstack(u);
      const fs = tf.unstack(f);
      for (let k = 0; k < T; k++) {
        const { next, v } = tfStep(tf, p, s, us[k], fs[k]);
        L = tf.add(L, tf.sum(tf.mul(v, tf.tensor2d(Float32Array.from(w.cV.subarray(k * B * 2, (k + 1) * B * 2)), [B, 2]))));
        s = next;
      }
      return tf.add(L, tf.sum(tf.mul(s, tf.tensor2d(Float32Array.from(w.cS), [B, n]))));
    };
    const grads = tf.tidy(() => {
      const g = tf.grads(lossOf)([tf.tensor2d(Float32Array.from(x.s0), [B, n]), tf.tensor3d(Float32Array.from(x.u), [T, B, 2]), tf.tensor3d(Float32Array.from(x.f!), [T, B, 2])]);
      return g.map((t) => t.dataSync().slice());
    });
    const pairs: [string, ArrayLike<number>, ArrayLike<number>][] = [["state", grads[0], ref.gS0], ["command", grads[1], ref.gU], ["force", grads[2], ref.gF]];
    for (const [name, auto, mine] of pairs) {
      const e = rel(auto, mine);
      assert.ok(e < TF_TOL, `${label} d/d ${name}: relative difference ${e}`);
    }
  }
});

// --- the registry -------------------------------------------------------------------------------------

test("plant registry: massless is the default, the built-ins are made by name with every option recorded, unknown names and options are refused", () => {
  assert.deepEqual(plantRegistry.names().slice(0, 3), ["massless", "point_mass", "two_joint_arm"]);
  assert.ok(makePlant() instanceof MasslessHand);
  const pm = makePlant({ name: "point_mass", options: { viscosity: 20, commandScale: 0.2 } });
  assert.ok(pm instanceof PointMass && pm.viscosity === 20 && pm.mass === 1);
  assert.deepEqual(pm.options, { dt: 0.01, mass: 1, viscosity: 20, commandScale: 0.2, pushScale: 0.1 });
  const a = makePlant({ name: "two_joint_arm" });
  assert.ok(a instanceof TwoJointArm);
  assert.deepEqual(a.options, JSON.parse(JSON.stringify(TWO_JOINT_ARM_DEFAULTS)));
  assert.deepEqual(normalisePlant({ name: "massless" }), { name: "massless", options: { dt: 0.01 } });
  assert.deepEqual(normalisePlant({ name: "two_joint_arm", options: { centreDeg: [30, 100] } }).options!.centreDeg, [30, 100]);
  assert.throws(() => makePlant({ name: "rocket" }), /^ParameterError: plant: must be one of "massless", "point_mass", "two_joint_arm"/);
  assert.throws(() => makePlant({ name: "point_mass", options: { inertia: 1 } }), /plant point_mass options\.inertia: is not an option/);
});

test("plant options are checked with one-line errors naming the field", () => {
  assert.throws(() => new PointMass({ mass: 0 }), /^ParameterError: mass: must be a finite number > 0, got 0$/);
  assert.throws(() => new PointMass({ viscosity: 200 }), /^ParameterError: viscosity: dt \* viscosity \/ mass must be below 1/);
  assert.throws(() => new MasslessHand({ dt: -1 }), /^ParameterError: dt: /);
  assert.throws(() => new TwoJointArm({ elbowLimitsDeg: [160, 0] }), /^ParameterError: elbowLimitsDeg: must be \[lower, upper\] with lower < upper/);
  assert.throws(() => new TwoJointArm({ centreDeg: [45, 170] }), /^ParameterError: centreDeg: .* beyond the joint limits$/);
  assert.throws(() => new TwoJointArm({ viscosity: [0.05, 0.025] }), /^ParameterError: viscosity: must be a list of 4 finite numbers/);
  const p = new PointMass();
  assert.throws(() => p.step(2, new Float64Array(8), new Float64Array(2), null, new Float64Array(8), new Float64Array(4)), /^ParameterError: command: must hold at least 4 numbers, got 2$/);
});

/**
 * The joint state and the torques (N m) of a minimum-jerk reach of D m in direction th (rad) from the centre
 * with a peak speed of 10 cm/s, at time t: the joint motion from the kinematics (dq = J^-1 v,
 * ddq = J^-1 (a - dJ dq)), the torques by inverse dynamics, tau = M(q) ddq + C(q, dq) dq + B dq.
 */
function minimumJerkTorques(p: TwoJointArm, th: number, t: number, D = 0.05): { q: number[]; w: number[]; tau: number[]; T: number } {
  const T = (1.875 * D) / 0.1;
  const s = Math.min(Math.max(t / T, 0), 1);
  const pos = D * (10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5);
  const vel = (D / T) * (30 * s ** 2 - 60 * s ** 3 + 30 * s ** 4);
  const acc = (D / T / T) * (60 * s - 180 * s ** 2 + 120 * s ** 3);
  const [q1, q2] = p.inverse(100 * pos * Math.cos(th), 100 * pos * Math.sin(th));
  const s1 = Math.sin(q1), c1 = Math.cos(q1), s12 = Math.sin(q1 + q2), c12 = Math.cos(q1 + q2);
  const J = [-p.l1 * s1 - p.l2 * s12, -p.l2 * s12, p.l1 * c1 + p.l2 * c12, p.l2 * c12];
  const det = J[0] * J[3] - J[1] * J[2];
  const [vx, vy] = [vel * Math.cos(th), vel * Math.sin(th)];
  const w1 = (J[3] * vx - J[1] * vy) / det;
  const w2 = (-J[2] * vx + J[0] * vy) / det;
  const ax = acc * Math.cos(th) + p.l1 * c1 * w1 * w1 + p.l2 * c12 * (w1 + w2) ** 2;
  const ay = acc * Math.sin(th) + p.l1 * s1 * w1 * w1 + p.l2 * s12 * (w1 + w2) ** 2;
  const dd1 = (J[3] * ax - J[1] * ay) / det;
  const dd2 = (-J[2] * ax + J[0] * ay) / det;
  const [m11, m12, , m22] = p.inertia(q2);
  const [b11, b12, b21, b22] = p.viscosity;
  const t1 = m11 * dd1 + m12 * dd2 - p.a2 * Math.sin(q2) * w2 * (2 * w1 + w2) + b11 * w1 + b12 * w2;
  const t2 = m12 * dd1 + m22 * dd2 + p.a2 * Math.sin(q2) * w1 * w1 + b21 * w1 + b22 * w2;
  return { q: [q1, q2], w: [w1, w2], tau: [t1, t2], T };
}

test("arm: the inverse-dynamics torques of a minimum-jerk reach, played open loop through step, bring the hand to the target (checks M, C and B against the kinematics)", () => {
  const p = arm();
  let worst = 0;
  for (let d = 0; d < 8; d++) {
    const th = (d * Math.PI) / 4;
    const { T } = minimumJerkTorques(p, th, 0);
    let s: FArray = new Float64Array(4);
    p.init(1, [0, 0], s);
    const next = new Float64Array(4);
    const v = new Float64Array(2);
    const h = new Float64Array(2);
    const steps = Math.round(T / p.dt);
    for (let k = 0; k < steps; k++) {
      // The torque at the middle of the step (second-order accurate with semi-implicit Euler).
      const { tau } = minimumJerkTorques(p, th, (k + 0.5) * p.dt);
      p.step(1, s, [tau[0] / p.commandScale, tau[1] / p.commandScale], null, next, v);
      s = Float64Array.from(next);
    }
    p.hand(1, s, h);
    worst = Math.max(worst, Math.hypot(h[0] - 5 * Math.cos(th), h[1] - 5 * Math.sin(th)));
  }
  // Measured 0.022 cm; a flipped sign of the Coriolis terms gives 1.1 cm, no shoulder viscosity 0.7 cm.
  assert.ok(worst < 0.1, `largest end-point error ${worst} cm of a 5 cm reach`);
});

test("the arm's default commandScale lets outputs of order 1 make a 5 cm, 10 cm/s reach: its peak inverse-dynamics torque is under 2 units", () => {
  const p = arm();
  let peak = 0;
  for (let d = 0; d < 8; d++) {
    const th = (d * Math.PI) / 4;
    const { T } = minimumJerkTorques(p, th, 0);
    for (let i = 0; i <= 200; i++) {
      const { tau } = minimumJerkTorques(p, th, (i / 200) * T);
      peak = Math.max(peak, Math.abs(tau[0]) / p.commandScale, Math.abs(tau[1]) / p.commandScale);
    }
  }
  assert.ok(peak > 0.5 && peak < 2, `peak command ${peak}`);
});
