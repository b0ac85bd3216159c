/**
 * A point mass in the plane with viscous damping, driven by a force. State per trial (x, y, vx, vy): the
 * position in task units (cm) and the velocity in task units / s (cm/s). The force on the mass, in newtons:
 *
 *   F = commandScale u + f - b vel          (vel in m/s = 0.01 vel in cm/s)
 *
 * integrated with semi-implicit (symplectic) Euler over dt, velocity first, then position with the new
 * velocity:
 *
 *   vel' = vel + (100 dt / m) F   = (1 - dt b / m) vel + (100 dt / m) (commandScale u + f)      [cm/s]
 *   pos' = pos + dt vel'                                                                        [cm]
 *
 * and v = vel' (the position is advanced with the stored v, so pos' = pos + dt v holds bit for bit).
 *
 * Defaults and why: m = 1 kg (MotorNet's PointMass default, motornet/skeleton.py), b = 10 N s/m, so the
 * velocity relaxes with time constant m / b = 0.1 s (10 steps): fast next to a reach of about 1 s, slow
 * enough that the network has to drive an inertial plant. commandScale = 0.1 N per unit = b x 0.01 m/cm, so
 * that a constant command u moves the hand at u task units / s in the steady state, as the massless hand
 * does: the point mass is then the massless hand seen through a first-order lag of 0.1 s, and a pre-trained
 * network's outputs stay in range: the task's reference speed peaks at about 25 cm/s, and a network pre-trained
 * through the mass commands up to about 30 units (3 N; notebook 14). If you change
 * b, change commandScale with it to keep that property. The external force f is in newtons, in the task's
 * axes; dt b / m must be below 1 (a step must not reverse the velocity).
 */
import type { FArray } from "../kernels";
import type { OptionValues } from "../registry";
import { ParameterError, finite, positive } from "../validate";
import { Plant, ReadArray, checkBackward, checkStep } from "./plant";

/** Options of the point mass. */
export interface PointMassOptions {
  /** Time step, s (default 0.01). */
  dt: number;
  /** Mass, kg (default 1). */
  mass: number;
  /** Viscosity b, N s/m (default 10; 0 for none). */
  viscosity: number;
  /** Newtons per unit of command (default 0.1 = 0.01 b: steady-state velocity u cm/s). */
  commandScale: number;
  /** Newtons of force on the hand per unit of the task's push (default 0.1 = commandScale: a push acts as that much more command). */
  pushScale: number;
}

/** The point mass's option defaults (module comment says why). */
export const POINT_MASS_DEFAULTS: PointMassOptions = { dt: 0.01, mass: 1, viscosity: 10, commandScale: 0.1, pushScale: 0.1 };

/** Task units (cm) per metre. */
const CM = 100;

/** A viscous point mass driven by a force (module comment). */
export class PointMass implements Plant {
  /** "point_mass". */
  readonly name = "point_mass";
  /** 4: position (x, y) in cm, velocity (vx, vy) in cm/s. */
  readonly nState = 4;
  /** 2: a force in units of commandScale newtons. */
  readonly nCommand = 2;
  /** Time step, s. */
  readonly dt: number;
  /** Mass, kg. */
  readonly mass: number;
  /** Viscosity, N s/m. */
  readonly viscosity: number;
  /** Newtons per unit of command. */
  readonly commandScale: number;
  /** Newtons per unit of the task's push. */
  readonly pushScale: number;
  /** The options, defaults included. */
  readonly options: OptionValues;
  /** vel' = decay vel + gain (commandScale u + f): decay = 1 - dt b / m. */
  private readonly decay: number;
  /** 100 dt / m: cm/s of velocity per newton over one step. */
  private readonly gain: number;

  /** @param options dt (s), mass (kg), viscosity (N s/m), commandScale (N per unit); missing ones take POINT_MASS_DEFAULTS */
  constructor(options: Partial<PointMassOptions> = {}) {
    const o = { ...POINT_MASS_DEFAULTS, ...options };
    this.dt = positive("dt", o.dt);
    this.mass = positive("mass", o.mass);
    this.viscosity = finite("viscosity", o.viscosity);
    if (this.viscosity < 0) throw new ParameterError("viscosity", `must be >= 0, got ${this.viscosity}`);
    this.commandScale = finite("commandScale", o.commandScale);
    this.pushScale = finite("pushScale", o.pushScale);
    this.decay = 1 - (this.dt * this.viscosity) / this.mass;
    if (!(this.decay > 0)) throw new ParameterError("viscosity", `dt * viscosity / mass must be below 1, got ${1 - this.decay}`);
    this.gain = (CM * this.dt) / this.mass;
    this.options = { dt: this.dt, mass: this.mass, viscosity: this.viscosity, commandScale: this.commandScale, pushScale: this.pushScale };
  }

  /** At rest at start. */
  init(B: number, start: ReadArray, state: FArray): void {
    for (let b = 0; b < B; b++) {
      state[4 * b] = start[2 * b];
      state[4 * b + 1] = start[2 * b + 1];
      state[4 * b + 2] = 0;
      state[4 * b + 3] = 0;
    }
  }

  /** The position. */
  hand(B: number, state: ReadArray, out: FArray): void {
    for (let b = 0; b < B; b++) {
      out[2 * b] = state[4 * b];
      out[2 * b + 1] = state[4 * b + 1];
    }
  }

  /** Semi-implicit Euler (module comment). */
  step(B: number, state: ReadArray, command: ReadArray, force: ReadArray | null, next: FArray, v: FArray): void {
    checkStep(this, B, state, command, force, next, v);
    const { dt, decay, gain, commandScale: s } = this;
    for (let b = 0; b < B; b++) {
      const o = 4 * b;
      for (let d = 0; d < 2; d++) {
        const f = force === null ? 0 : force[2 * b + d];
        v[2 * b + d] = decay * state[o + 2 + d] + gain * (s * command[2 * b + d] + f);
        const vel = v[2 * b + d];
        next[o + 2 + d] = vel;
        next[o + d] = state[o + d] + dt * vel;
      }
    }
  }

  /** The exact vector-Jacobian product of `step`. */
  backward(
    B: number, state: ReadArray, command: ReadArray, force: ReadArray | null,
    gNext: ReadArray, gV: ReadArray | null, gState: FArray, gCommand: FArray, gForce: FArray | null,
  ): void {
    checkBackward(this, B, state, command, force, gNext, gV, gState, gCommand, gForce);
    const { dt, decay, gain, commandScale: s } = this;
    for (let b = 0; b < B; b++) {
      const o = 4 * b;
      for (let d = 0; d < 2; d++) {
        const gPos = gNext[o + d];
        const gVel = gNext[o + 2 + d] + (gV === null ? 0 : gV[2 * b + d]) + dt * gPos;
        gState[o + d] += gPos;
        gState[o + 2 + d] += decay * gVel;
        gCommand[2 * b + d] = gain * s * gVel;
        if (gForce !== null) gForce[2 * b + d] = gain * gVel;
      }
    }
  }
}
