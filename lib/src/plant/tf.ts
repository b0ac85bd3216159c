/**
 * The built-in plants' `step` written in TensorFlow.js ops, so that TensorFlow.js's automatic
 * differentiation can check the hand-written `backward` (and so that a tfjs model can drive a plant). Same
 * equations as the plants' own `step`; float32, as tfjs computes.
 */
import type * as tfType from "@tensorflow/tfjs";
import { ParameterError } from "../validate";
import type { Plant } from "./plant";
import { MasslessHand } from "./massless";
import { PointMass } from "./pointMass";
import { TwoJointArm } from "./twoJointArm";
import { Muscle } from "./muscle";

type TF = typeof tfType;
type Tensor = tfType.Tensor;

/** One step in tfjs ops, as `tfStep` returns it. */
export interface TfStep {
  /** The next state, [B, nState]. */
  next: tfType.Tensor;
  /** The hand velocity over the step, [B, 2] (task units / s). */
  v: tfType.Tensor;
}

/**
 * One step of a built-in plant in tfjs ops: state [B, nState], command [B, 2] and force [B, 2] (or null:
 * none) give the next state and the hand velocity, differentiable by tf.grad.
 * @throws ParameterError for a plant that is not built in
 */
export function tfStep(tf: typeof tfType, plant: Plant, state: tfType.Tensor, command: tfType.Tensor, force: tfType.Tensor | null): TfStep {
  if (plant instanceof MasslessHand) {
    const v = force === null ? command : tf.add(command, force);
    return { next: tf.add(state, tf.mul(plant.dt, v)), v };
  }
  if (plant instanceof PointMass) return pointMass(tf, plant, state, command, force);
  if (plant instanceof TwoJointArm) return arm(tf, plant, state, command, force);
  if (plant instanceof Muscle) return muscle(tf, plant, state, command, force);
  throw new ParameterError("plant", `${JSON.stringify(plant.name)} has no TensorFlow.js version (built-in plants only)`);
}

function muscle(tf: TF, p: Muscle, state: Tensor, command: Tensor, force: Tensor | null): TfStep {
  const B = state.shape[0] as number;
  const n = p.inner.nState;
  const m = p.nCommand;
  const s = tf.slice(state, [0, 0], [B, n]);
  // a' = a + kD (e - a) + (kA - kD) relu(e - a): the two branches of a + (dt / tau)(e - a) in one expression.
  const lag = (e: Tensor, a: Tensor): Tensor => {
    const d = tf.sub(e, a);
    return tf.add(tf.add(a, tf.mul(p.kDeactivation, d)), tf.mul(p.kActivation - p.kDeactivation, tf.relu(d)));
  };
  const ap = lag(tf.relu(command), tf.slice(state, [0, n], [B, m]));
  const am = lag(tf.relu(tf.neg(command)), tf.slice(state, [0, n + m], [B, m]));
  const inner = tfStep(tf, p.inner, s, tf.sub(ap, am), force);
  return { next: tf.concat([inner.next, ap, am], 1), v: inner.v };
}

function pointMass(tf: TF, p: PointMass, state: Tensor, command: Tensor, force: Tensor | null): TfStep {
  const B = state.shape[0] as number;
  const pos = tf.slice(state, [0, 0], [B, 2]);
  const vel = tf.slice(state, [0, 2], [B, 2]);
  let F = tf.mul(p.commandScale, command);
  if (force !== null) F = tf.add(F, force);
  // F = S u + f - b vel[m/s]; vel' = vel + (100 dt / m) F.
  F = tf.sub(F, tf.mul(p.viscosity / 100, vel));
  const v = tf.add(vel, tf.mul((100 * p.dt) / p.mass, F));
  return { next: tf.concat([tf.add(pos, tf.mul(p.dt, v)), v], 1), v };
}

function arm(tf: TF, p: TwoJointArm, state: Tensor, command: Tensor, force: Tensor | null): TfStep {
  const { dt, l1, l2, a1, a2, a3, commandScale: S, limitStiffness: k, limitDamping: c } = p;
  const [b11, b12, b21, b22] = p.viscosity;
  const [q1, q2, w1, w2] = tf.split(state, 4, 1);
  const [u1, u2] = tf.split(command, 2, 1);
  const s2 = tf.sin(q2);
  const c2 = tf.cos(q2);
  // rhs = S u - B w - C w.
  let r1 = tf.sub(tf.mul(S, u1), tf.add(tf.mul(b11, w1), tf.mul(b12, w2)));
  let r2 = tf.sub(tf.mul(S, u2), tf.add(tf.mul(b21, w1), tf.mul(b22, w2)));
  r1 = tf.add(r1, tf.mul(tf.mul(a2, s2), tf.mul(w2, tf.add(tf.mul(2, w1), w2))));
  r2 = tf.sub(r2, tf.mul(tf.mul(a2, s2), tf.square(w1)));
  const fk = (a: Tensor, b: Tensor): [Tensor, Tensor] => {
    const ab = tf.add(a, b);
    return [tf.add(tf.mul(l1, tf.cos(a)), tf.mul(l2, tf.cos(ab))), tf.add(tf.mul(l1, tf.sin(a)), tf.mul(l2, tf.sin(ab)))];
  };
  if (force !== null) {
    const [f1, f2] = tf.split(force, 2, 1);
    const q12 = tf.add(q1, q2);
    const [x, y] = fk(q1, q2);
    // J^T f with J = [[-y, -l2 sin q12], [x, l2 cos q12]].
    r1 = tf.add(r1, tf.add(tf.mul(tf.neg(y), f1), tf.mul(x, f2)));
    r2 = tf.add(r2, tf.add(tf.mul(tf.mul(-l2, tf.sin(q12)), f1), tf.mul(tf.mul(l2, tf.cos(q12)), f2)));
  }
  // Joint limits: -k (q - clamp q) - c w beyond a limit (the indicator carries no gradient).
  const limit = (q: Tensor, w: Tensor, lo: number, hi: number): Tensor => {
    const above = tf.relu(tf.sub(q, hi));
    const below = tf.relu(tf.sub(lo, q));
    const over = tf.sub(above, below);
    const outside = tf.sign(tf.add(above, below)); // 1 beyond a limit, else 0; tf.sign's gradient is 0

    return tf.neg(tf.add(tf.mul(k, over), tf.mul(tf.mul(c, outside), w)));
  };
  r1 = tf.add(r1, limit(q1, w1, p.lower[0], p.upper[0]));
  r2 = tf.add(r2, limit(q2, w2, p.lower[1], p.upper[1]));
  const m11 = tf.add(a1, tf.mul(2 * a2, c2));
  const m12 = tf.add(a3, tf.mul(a2, c2));
  const det = tf.sub(tf.mul(a3, m11), tf.square(m12));
  const acc1 = tf.div(tf.sub(tf.mul(a3, r1), tf.mul(m12, r2)), det);
  const acc2 = tf.div(tf.sub(tf.mul(m11, r2), tf.mul(m12, r1)), det);
  const nw1 = tf.add(w1, tf.mul(dt, acc1));
  const nw2 = tf.add(w2, tf.mul(dt, acc2));
  const nq1 = tf.add(q1, tf.mul(dt, nw1));
  const nq2 = tf.add(q2, tf.mul(dt, nw2));
  // The secant (fk(q') - fk(q)) / dt, with q' - q = dt w' and the difference formulas of cos and sin (no
  // cancellation in float32): cos(a + d) - cos a = -2 sin(d/2) sin(a + d/2), sin(a + d) - sin a = 2 sin(d/2) cos(a + d/2).
  const h1 = tf.mul(dt / 2, nw1);
  const h12 = tf.mul(dt / 2, tf.add(nw1, nw2));
  const e1 = tf.mul(l1, tf.sin(h1));
  const e12 = tf.mul(l2, tf.sin(h12));
  const mid1 = tf.add(q1, h1);
  const mid12 = tf.add(tf.add(q1, q2), h12);
  const vx = tf.mul(-200 / dt, tf.add(tf.mul(e1, tf.sin(mid1)), tf.mul(e12, tf.sin(mid12))));
  const vy = tf.mul(200 / dt, tf.add(tf.mul(e1, tf.cos(mid1)), tf.mul(e12, tf.cos(mid12))));
  const v = tf.concat([vx, vy], 1);
  return { next: tf.concat([nq1, nq2, nw1, nw2], 1), v };
}
