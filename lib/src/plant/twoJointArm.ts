/**
 * A planar two-joint arm (shoulder, elbow) driven by joint torques, in a horizontal plane (no gravity), with
 * the standard parameters of Li and Todorov (2004), "Iterative linear quadratic regulator design for
 * nonlinear biological movement systems", ICINCO, section on the arm model:
 *
 *   M(q) ddq + C(q, dq) dq + B dq = tau + J(q)^T f + tau_lim(q, dq)
 *
 *   M = [[a1 + 2 a2 cos q2, a3 + a2 cos q2], [a3 + a2 cos q2, a3]],   C dq = a2 sin q2 [-dq2 (2 dq1 + dq2), dq1^2]
 *   a1 = I1 + I2 + m2 l1^2,  a2 = m2 l1 s2,  a3 = I2
 *   m2 = 1 kg, l1 = 0.30 m, l2 = 0.33 m, s2 = 0.16 m, I1 = 0.025 kg m^2, I2 = 0.045 kg m^2,
 *   B = [[0.05, 0.025], [0.025, 0.05]] N m s/rad
 *
 * (Values as the paper's model is reproduced in several public implementations; Todorov's own arm_dyn.m,
 * www.cogsci.ucsd.edu/~todorov/software/arm_dyn.m, has m2 = 1.1 kg and a joint friction ten times larger,
 * [[0.5, 0.1], [0.1, 0.5]]: both are options. The paper also gives m1 = 1.4 kg and s1 = 0.11 m, which do
 * not enter: as a1 shows, and arm_dyn.m computes it the same way, I1 and I2 are the segments' moments of
 * inertia about the shoulder and the elbow, which already contain m1 s1^2 and m2 s2^2, and the plane is
 * horizontal.)
 *
 * q1 is the shoulder angle from the x axis, q2 the elbow angle relative to the upper arm (0 = straight),
 * both counter-clockwise, in radians; the shoulder sits at the origin and
 *
 *   hand(q) = (l1 cos q1 + l2 cos(q1 + q2), l1 sin q1 + l2 sin(q1 + q2))   [m]
 *
 * The task's centre (hand position (0, 0)) is the hand at the centre posture (`centreDeg`, default shoulder
 * 45°, elbow 90°: the hand 0.45 m in front of the shoulder, 2 cm to the left), and task units are cm from it,
 * along the same x and y axes. The external force f is in newtons on the hand, in those axes.
 *
 * State per trial (q1, q2, dq1, dq2) in rad and rad/s. Integration: semi-implicit (symplectic) Euler,
 * joint velocities first, then the angles with the new velocities: acc = M(q)^-1 (rhs at (q, dq)),
 * dq' = dq + dt acc, q' = q + dt dq'. The hand velocity is the secant v = (hand(q') - hand(q)) / dt (task
 * units / s) of the stored angles, computed without cancellation (difference formulas of sin and cos), so
 * that integrating v reproduces the hand's path to rounding, in float32 too.
 *
 * Joint limits (MotorNet's TwoDofArm defaults, motornet/skeleton.py: shoulder [0°, 140°], elbow [0°, 160°]):
 * beyond a limit a one-sided linear spring-damper acts on that joint, tau_lim = -k (q - clamp(q)) - c dq,
 * and nothing inside the range. It is continuous in q (a kink at the limit) and jumps in dq when the limit
 * is crossed: the step is differentiable everywhere except on the limits themselves (measure zero), and
 * `backward` gives the one-sided derivative there. k = 50 N m/rad, c = 1 N m s/rad: 0.5 N m (several times
 * what a 5 cm reach needs) holds the joint 0.01 rad (0.6°) past its limit; being linear, the stop is stable
 * with dt = 0.01 s at every penetration (dt^2 k / I + 2 dt c / I < 4 down to the lightest effective inertia,
 * about 0.011 kg m^2 at the straight elbow).
 *
 * Command scale: tau = commandScale u. Default 0.1 N m per unit: minimum-jerk reaches of 5 cm with a peak
 * speed of 10 cm/s (0.94 s) from the centre posture need at most 0.13 N m at the shoulder and 0.05 N m at the
 * elbow over the 8 directions (inverse dynamics of this model), so the network's outputs stay of order 1
 * (|u| <= 1.3).
 *
 * init uses inverse kinematics on one branch: the elbow angle has the sign of the centre posture's (with the
 * default, 0 <= q2 <= 180°), so that init at (0, 0) gives the centre posture back; positions out of reach or
 * whose posture lies beyond the joint limits are refused.
 */
import type { FArray } from "../kernels";
import type { OptionValues } from "../registry";
import { ParameterError, finite, positive } from "../validate";
import { Plant, ReadArray, checkBackward, checkStep } from "./plant";

/** Options of the two-joint arm (defaults: TWO_JOINT_ARM_DEFAULTS). */
export interface TwoJointArmOptions {
  /** Time step, s (default 0.01). */
  dt: number;
  /** Newton metres of torque per unit of command (default 0.1). */
  commandScale: number;
  /** Newtons of force on the hand per unit of the task's push (default 0.1: a push of 10 task units is 1 N). */
  pushScale: number;
  /** Upper arm length, m (0.30). */
  l1: number;
  /** Forearm length (shoulder-free segment to the hand), m (0.33). */
  l2: number;
  /** Distance from the elbow to the forearm's centre of mass, m (0.16). */
  s2: number;
  /** Forearm mass, kg (1). */
  m2: number;
  /** Upper arm's moment of inertia about the shoulder, kg m^2 (0.025). */
  I1: number;
  /** Forearm's moment of inertia about the elbow, kg m^2 (0.045). */
  I2: number;
  /** Joint viscosity B, row-major [b11, b12, b21, b22], N m s/rad ([0.05, 0.025, 0.025, 0.05]). */
  viscosity: number[];
  /** Shoulder range [lower, upper], degrees ([0, 140]). */
  shoulderLimitsDeg: number[];
  /** Elbow range [lower, upper], degrees ([0, 160]). */
  elbowLimitsDeg: number[];
  /** Stiffness of the joint-limit spring, N m/rad (50). */
  limitStiffness: number;
  /** Damping of the joint limit, N m s/rad (1). */
  limitDamping: number;
  /** The centre posture [shoulder, elbow], degrees ([45, 90]): where the hand is at task (0, 0). */
  centreDeg: number[];
}

/** The arm's option defaults (Li and Todorov 2004; joint limits from MotorNet; module comment). */
export const TWO_JOINT_ARM_DEFAULTS: TwoJointArmOptions = {
  dt: 0.01,
  commandScale: 0.1,
  pushScale: 0.1,
  l1: 0.3,
  l2: 0.33,
  s2: 0.16,
  m2: 1,
  I1: 0.025,
  I2: 0.045,
  viscosity: [0.05, 0.025, 0.025, 0.05],
  shoulderLimitsDeg: [0, 140],
  elbowLimitsDeg: [0, 160],
  limitStiffness: 50,
  limitDamping: 1,
  centreDeg: [45, 90],
};

/** Task units (cm) per metre. */
const CM = 100;
const RAD = Math.PI / 180;

function numbers(name: string, value: unknown, n: number): number[] {
  if (!Array.isArray(value) || value.length !== n || !value.every((x) => typeof x === "number" && Number.isFinite(x))) {
    throw new ParameterError(name, `must be a list of ${n} finite numbers, got ${JSON.stringify(value)}`);
  }
  return value.slice() as number[];
}

function range(name: string, value: unknown): [number, number] {
  const [lo, hi] = numbers(name, value, 2);
  if (!(lo < hi)) throw new ParameterError(name, `must be [lower, upper] with lower < upper, got [${lo}, ${hi}]`);
  return [lo, hi];
}

/** The two-joint arm (module comment). */
export class TwoJointArm implements Plant {
  /** "two_joint_arm". */
  readonly name = "two_joint_arm";
  /** 4: shoulder and elbow angles (rad), then their velocities (rad/s). */
  readonly nState = 4;
  /** 2: shoulder and elbow torques, in units of commandScale N m. */
  readonly nCommand = 2;
  /** Time step, s. */
  readonly dt: number;
  /** N m per unit of command. */
  readonly commandScale: number;
  /** Newtons per unit of the task's push. */
  readonly pushScale: number;
  /** Upper arm length, m. */
  readonly l1: number;
  /** Forearm length, m. */
  readonly l2: number;
  /** M11 = a1 + 2 a2 cos q2 (kg m^2). */
  readonly a1: number;
  /** The coupling term a2 = m2 l1 s2 (kg m^2). */
  readonly a2: number;
  /** M22 = a3 = I2 (kg m^2). */
  readonly a3: number;
  /** Joint viscosity, row-major [b11, b12, b21, b22] (N m s/rad). */
  readonly viscosity: readonly number[];
  /** Lower joint limits [shoulder, elbow], rad. */
  readonly lower: readonly number[];
  /** Upper joint limits [shoulder, elbow], rad. */
  readonly upper: readonly number[];
  /** Joint-limit stiffness, N m/rad. */
  readonly limitStiffness: number;
  /** Joint-limit damping, N m s/rad. */
  readonly limitDamping: number;
  /** The centre posture [q1, q2], rad. */
  readonly centre: readonly number[];
  /** The hand at the centre posture, m (shoulder at the origin). */
  readonly centreHand: readonly number[];
  /** The options, defaults included. */
  readonly options: OptionValues;
  private readonly branch: number;

  /** @param options see TwoJointArmOptions; missing ones take TWO_JOINT_ARM_DEFAULTS */
  constructor(options: Partial<TwoJointArmOptions> = {}) {
    const o = { ...TWO_JOINT_ARM_DEFAULTS, ...options };
    this.dt = positive("dt", o.dt);
    this.commandScale = finite("commandScale", o.commandScale);
    this.pushScale = finite("pushScale", o.pushScale);
    this.l1 = positive("l1", o.l1);
    this.l2 = positive("l2", o.l2);
    const s2 = finite("s2", o.s2);
    const m2 = positive("m2", o.m2);
    const I1 = positive("I1", o.I1);
    const I2 = positive("I2", o.I2);
    this.a1 = I1 + I2 + m2 * this.l1 * this.l1;
    this.a2 = m2 * this.l1 * s2;
    this.a3 = I2;
    // M is positive definite for every q2 iff det = a3 (a1 - a3) - a2^2 cos^2 q2 > 0 for |cos q2| = 1.
    if (!(this.a3 * (this.a1 - this.a3) - this.a2 * this.a2 > 0)) {
      throw new ParameterError("I2", "with these masses and lengths the inertia matrix is not positive definite at every posture");
    }
    const visc = numbers("viscosity", o.viscosity, 4);
    this.viscosity = visc;
    const sh = range("shoulderLimitsDeg", o.shoulderLimitsDeg);
    const el = range("elbowLimitsDeg", o.elbowLimitsDeg);
    this.lower = [sh[0] * RAD, el[0] * RAD];
    this.upper = [sh[1] * RAD, el[1] * RAD];
    this.limitStiffness = finite("limitStiffness", o.limitStiffness);
    this.limitDamping = finite("limitDamping", o.limitDamping);
    if (this.limitStiffness < 0) throw new ParameterError("limitStiffness", `must be >= 0, got ${this.limitStiffness}`);
    if (this.limitDamping < 0) throw new ParameterError("limitDamping", `must be >= 0, got ${this.limitDamping}`);
    const c = numbers("centreDeg", o.centreDeg, 2);
    this.centre = [c[0] * RAD, c[1] * RAD];
    for (let j = 0; j < 2; j++) {
      if (!(this.centre[j] >= this.lower[j] && this.centre[j] <= this.upper[j])) {
        throw new ParameterError("centreDeg", `the centre posture [${c.join(", ")}] lies beyond the joint limits`);
      }
    }
    if (Math.sin(this.centre[1]) === 0) throw new ParameterError("centreDeg", "the centre posture must not have a straight or folded elbow (a singular posture)");
    this.branch = Math.sin(this.centre[1]) > 0 ? 1 : -1;
    this.centreHand = this.forward(this.centre[0], this.centre[1]);
    this.options = {
      dt: this.dt, commandScale: this.commandScale, pushScale: this.pushScale, l1: this.l1, l2: this.l2, s2, m2, I1, I2, viscosity: visc,
      shoulderLimitsDeg: sh, elbowLimitsDeg: el, limitStiffness: this.limitStiffness, limitDamping: this.limitDamping, centreDeg: c,
    };
  }

  /** The hand (m, shoulder at the origin) at angles q1, q2. */
  forward(q1: number, q2: number): [number, number] {
    return [this.l1 * Math.cos(q1) + this.l2 * Math.cos(q1 + q2), this.l1 * Math.sin(q1) + this.l2 * Math.sin(q1 + q2)];
  }

  /** The inertia matrix M(q) = [M11, M12, M21, M22] (kg m^2) at elbow angle q2. */
  inertia(q2: number): [number, number, number, number] {
    const c2 = Math.cos(q2);
    const m12 = this.a3 + this.a2 * c2;
    return [this.a1 + 2 * this.a2 * c2, m12, m12, this.a3];
  }

  /** Kinetic energy 1/2 dq^T M(q) dq (J) of one trial's state (q1, q2, dq1, dq2). */
  kineticEnergy(state: ReadArray, offset = 0): number {
    const [m11, m12, , m22] = this.inertia(state[offset + 1]);
    const w1 = state[offset + 2];
    const w2 = state[offset + 3];
    return 0.5 * (m11 * w1 * w1 + 2 * m12 * w1 * w2 + m22 * w2 * w2);
  }

  /**
   * The joint angles [q1, q2] (rad) that put the hand at task position (x, y) (cm from the centre), on the
   * centre posture's elbow branch.
   * @throws ParameterError when out of reach or beyond the joint limits
   */
  inverse(x: number, y: number): [number, number] {
    const X = this.centreHand[0] + x / CM;
    const Y = this.centreHand[1] + y / CM;
    const { l1, l2 } = this;
    const c2 = (X * X + Y * Y - l1 * l1 - l2 * l2) / (2 * l1 * l2);
    if (!(c2 >= -1 && c2 <= 1)) throw new ParameterError("start", `(${x}, ${y}) is out of the arm's reach`);
    const q2 = this.branch * Math.acos(c2);
    const q1 = Math.atan2(Y, X) - Math.atan2(l2 * Math.sin(q2), l1 + l2 * Math.cos(q2));
    // The shoulder angle as close as possible to the middle of its range (angles are defined modulo 2 pi).
    const mid = (this.lower[0] + this.upper[0]) / 2;
    const q1n = q1 + 2 * Math.PI * Math.round((mid - q1) / (2 * Math.PI));
    if (!(q1n >= this.lower[0] && q1n <= this.upper[0] && q2 >= this.lower[1] && q2 <= this.upper[1])) {
      throw new ParameterError("start", `(${x}, ${y}) needs the posture [${(q1n / RAD).toFixed(1)}°, ${(q2 / RAD).toFixed(1)}°], beyond the joint limits`);
    }
    return [q1n, q2];
  }

  /** At rest, with the angles from `inverse`. */
  init(B: number, start: ReadArray, state: FArray): void {
    for (let b = 0; b < B; b++) {
      const [q1, q2] = this.inverse(start[2 * b], start[2 * b + 1]);
      state[4 * b] = q1;
      state[4 * b + 1] = q2;
      state[4 * b + 2] = 0;
      state[4 * b + 3] = 0;
    }
  }

  /** Forward kinematics, in cm from the centre posture's hand. */
  hand(B: number, state: ReadArray, out: FArray): void {
    const { l1, l2 } = this;
    const [X0, Y0] = this.centreHand;
    for (let b = 0; b < B; b++) {
      const q1 = state[4 * b];
      const q12 = q1 + state[4 * b + 1];
      out[2 * b] = CM * (l1 * Math.cos(q1) + l2 * Math.cos(q12) - X0);
      out[2 * b + 1] = CM * (l1 * Math.sin(q1) + l2 * Math.sin(q12) - Y0);
    }
  }

  /** One semi-implicit Euler step (module comment). */
  step(B: number, state: ReadArray, command: ReadArray, force: ReadArray | null, next: FArray, v: FArray): void {
    checkStep(this, B, state, command, force, next, v);
    const { dt, l1, l2 } = this;
    for (let b = 0; b < B; b++) {
      const o = 4 * b;
      const q1 = state[o];
      const q2 = state[o + 1];
      const acc = this.acceleration(state, o, command, force, b);
      next[o + 2] = state[o + 2] + dt * acc[0];
      next[o + 3] = state[o + 3] + dt * acc[1];
      next[o] = q1 + dt * next[o + 2];
      next[o + 1] = q2 + dt * next[o + 3];
      // The secant (hand(q') - hand(q)) / dt of the stored angles, without cancellation: with d = q' - q
      // (exact for float32 angles), cos(a + d) - cos a = -2 sin(d/2) sin(a + d/2) and
      // sin(a + d) - sin a = 2 sin(d/2) cos(a + d/2).
      const d1 = next[o] - q1;
      const d12 = d1 + (next[o + 1] - q2);
      const e1 = Math.sin(d1 / 2);
      const e12 = Math.sin(d12 / 2);
      const m1 = q1 + d1 / 2;
      const m12 = q1 + q2 + d12 / 2;
      v[2 * b] = (-2 * CM * (l1 * e1 * Math.sin(m1) + l2 * e12 * Math.sin(m12))) / dt;
      v[2 * b + 1] = (2 * CM * (l1 * e1 * Math.cos(m1) + l2 * e12 * Math.cos(m12))) / dt;
    }
  }

  // Scratch for one trial's acceleration and right-hand side (the class allocates nothing per call).
  private readonly accOut = new Float64Array(2);
  private readonly rhsOut = new Float64Array(2);

  /** ddq at trial b's state (offset o): M^-1 (scale u + J^T f + tau_lim - C dq - B dq). Fills rhsOut too. */
  private acceleration(state: ReadArray, o: number, command: ReadArray, force: ReadArray | null, b: number): Float64Array {
    const { l1, l2, a1, a2, a3, commandScale: S, limitStiffness: k, limitDamping: c } = this;
    const [b11, b12, b21, b22] = this.viscosity;
    const q1 = state[o];
    const q2 = state[o + 1];
    const w1 = state[o + 2];
    const w2 = state[o + 3];
    const s2 = Math.sin(q2);
    const c2 = Math.cos(q2);
    let r1 = S * command[2 * b] - b11 * w1 - b12 * w2 + a2 * s2 * w2 * (2 * w1 + w2);
    let r2 = S * command[2 * b + 1] - b21 * w1 - b22 * w2 - a2 * s2 * w1 * w1;
    if (force !== null) {
      const f1 = force[2 * b];
      const f2 = force[2 * b + 1];
      const q12 = q1 + q2;
      const s12 = Math.sin(q12);
      const c12 = Math.cos(q12);
      r1 += -(l1 * Math.sin(q1) + l2 * s12) * f1 + (l1 * Math.cos(q1) + l2 * c12) * f2;
      r2 += -l2 * s12 * f1 + l2 * c12 * f2;
    }
    if (q1 < this.lower[0]) r1 += k * (this.lower[0] - q1) - c * w1;
    else if (q1 > this.upper[0]) r1 += k * (this.upper[0] - q1) - c * w1;
    if (q2 < this.lower[1]) r2 += k * (this.lower[1] - q2) - c * w2;
    else if (q2 > this.upper[1]) r2 += k * (this.upper[1] - q2) - c * w2;
    const m11 = a1 + 2 * a2 * c2;
    const m12 = a3 + a2 * c2;
    const det = m11 * a3 - m12 * m12;
    this.rhsOut[0] = r1;
    this.rhsOut[1] = r2;
    this.accOut[0] = (a3 * r1 - m12 * r2) / det;
    this.accOut[1] = (m11 * r2 - m12 * r1) / det;
    return this.accOut;
  }

  /** The exact vector-Jacobian product of `step` (the one-sided derivative on a joint limit). */
  backward(
    B: number, state: ReadArray, command: ReadArray, force: ReadArray | null,
    gNext: ReadArray, gV: ReadArray | null, gState: FArray, gCommand: FArray, gForce: FArray | null,
  ): void {
    checkBackward(this, B, state, command, force, gNext, gV, gState, gCommand, gForce);
    const { dt, l1, l2, a1, a2, a3, commandScale: S, limitStiffness: k, limitDamping: c } = this;
    const [b11, b12, b21, b22] = this.viscosity;
    const hv = CM / dt;
    for (let b = 0; b < B; b++) {
      const o = 4 * b;
      const q1 = state[o];
      const q2 = state[o + 1];
      const w1 = state[o + 2];
      const w2 = state[o + 3];
      const acc = this.acceleration(state, o, command, force, b);
      const acc1 = acc[0];
      const acc2 = acc[1];
      // The forward pass's new velocities and angles (as step computes them, in float64).
      const n1 = q1 + dt * (w1 + dt * acc1);
      const n2 = q2 + dt * (w2 + dt * acc2);
      const gv1 = gV === null ? 0 : gV[2 * b];
      const gv2 = gV === null ? 0 : gV[2 * b + 1];
      // v = CM (fk(q') - fk(q)) / dt: d fk / dq = J(q) = [[-l1 s1 - l2 s12, -l2 s12], [l1 c1 + l2 c12, l2 c12]].
      const ns1 = Math.sin(n1), nc1 = Math.cos(n1), ns12 = Math.sin(n1 + n2), nc12 = Math.cos(n1 + n2);
      const s1 = Math.sin(q1), c1 = Math.cos(q1), s12 = Math.sin(q1 + q2), c12 = Math.cos(q1 + q2);
      const gn1 = gNext[o] + hv * ((-l1 * ns1 - l2 * ns12) * gv1 + (l1 * nc1 + l2 * nc12) * gv2);
      const gn2 = gNext[o + 1] + hv * (-l2 * ns12 * gv1 + l2 * nc12 * gv2);
      let gq1 = gn1 - hv * ((-l1 * s1 - l2 * s12) * gv1 + (l1 * c1 + l2 * c12) * gv2);
      let gq2 = gn2 - hv * (-l2 * s12 * gv1 + l2 * c12 * gv2);
      // q' = q + dt w', w' = w + dt acc.
      const gw1n = gNext[o + 2] + dt * gn1;
      const gw2n = gNext[o + 3] + dt * gn2;
      let gw1 = gw1n;
      let gw2 = gw2n;
      const ga1 = dt * gw1n;
      const ga2 = dt * gw2n;
      // acc = M^-1 rhs (M symmetric): grhs = M^-1 gacc; gM = -grhs acc^T, and dM/dq2 = -a2 s2 [[2, 1], [1, 0]].
      const s2 = Math.sin(q2);
      const c2 = Math.cos(q2);
      const m11 = a1 + 2 * a2 * c2;
      const m12 = a3 + a2 * c2;
      const det = m11 * a3 - m12 * m12;
      const gr1 = (a3 * ga1 - m12 * ga2) / det;
      const gr2 = (m11 * ga2 - m12 * ga1) / det;
      gq2 += a2 * s2 * (2 * gr1 * acc1 + gr1 * acc2 + gr2 * acc1);
      // rhs = S u + J^T f + tau_lim - C dq - B dq.
      gCommand[2 * b] = S * gr1;
      gCommand[2 * b + 1] = S * gr2;
      if (force !== null) {
        const f1 = force[2 * b];
        const f2 = force[2 * b + 1];
        const d2 = -l2 * c12 * f1 - l2 * s12 * f2; // d(J^T f)_2 / dq1 = d(J^T f)_2 / dq2 = d(J^T f)_1 / dq2
        const d11 = -(l1 * c1 + l2 * c12) * f1 - (l1 * s1 + l2 * s12) * f2;
        gq1 += gr1 * d11 + gr2 * d2;
        gq2 += (gr1 + gr2) * d2;
      }
      if (gForce !== null) {
        gForce[2 * b] = (-l1 * s1 - l2 * s12) * gr1 - l2 * s12 * gr2;
        gForce[2 * b + 1] = (l1 * c1 + l2 * c12) * gr1 + l2 * c12 * gr2;
      }
      // -C dq: rhs1 += a2 s2 w2 (2 w1 + w2), rhs2 -= a2 s2 w1^2.
      gq2 += gr1 * a2 * c2 * w2 * (2 * w1 + w2) - gr2 * a2 * c2 * w1 * w1;
      gw1 += gr1 * 2 * a2 * s2 * w2 - gr2 * 2 * a2 * s2 * w1;
      gw2 += gr1 * 2 * a2 * s2 * (w1 + w2);
      // -B dq.
      gw1 -= b11 * gr1 + b21 * gr2;
      gw2 -= b12 * gr1 + b22 * gr2;
      // Joint limits: -k (q - clamp q) - c w beyond a limit.
      if (q1 < this.lower[0] || q1 > this.upper[0]) {
        gq1 -= k * gr1;
        gw1 -= c * gr1;
      }
      if (q2 < this.lower[1] || q2 > this.upper[1]) {
        gq2 -= k * gr2;
        gw2 -= c * gr2;
      }
      gState[o] += gq1;
      gState[o + 1] += gq2;
      gState[o + 2] += gw1;
      gState[o + 3] += gw2;
    }
  }
}
