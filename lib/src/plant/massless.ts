/**
 * The massless hand: the network's command IS the hand velocity, as in the paper. State = the hand position
 * (x, y) in task units; the external "force" is a push velocity (task units / s) added to it:
 *
 *   v = u + f        next = hand + dt v
 *
 * v is computed as u + f in that order (bit for bit what network.ts does with y + push), and the position
 * is advanced with the stored v, so that hand_{k+1} = hand_k + dt v_k holds bit for bit in either dtype.
 */
import type { FArray } from "../kernels";
import type { OptionValues } from "../registry";
import { positive } from "../validate";
import { Plant, ReadArray, checkBackward, checkStep } from "./plant";

/** Options of the massless hand. */
export interface MasslessOptions {
  /** Time step, s (default 0.01, the task's). */
  dt: number;
}

/** The massless hand's option defaults. */
export const MASSLESS_DEFAULTS: MasslessOptions = { dt: 0.01 };

/** The massless hand (module comment): v = command + force, state = hand position. */
export class MasslessHand implements Plant {
  /** "massless". */
  readonly name = "massless";
  /** 2: the hand position (x, y), task units. */
  readonly nState = 2;
  /** 2: the hand velocity (task units / s). */
  readonly nCommand = 2;
  /** Time step, s. */
  readonly dt: number;
  /** The options, defaults included. */
  readonly options: OptionValues;
  /** 1: a push adds to the hand's velocity as it is. */
  readonly pushScale = 1;

  /** @param options dt (s); missing ones take MASSLESS_DEFAULTS */
  constructor(options: Partial<MasslessOptions> = {}) {
    const o = { ...MASSLESS_DEFAULTS, ...options };
    this.dt = positive("dt", o.dt);
    this.options = { dt: this.dt };
  }

  /** The hand at start. */
  init(B: number, start: ReadArray, state: FArray): void {
    for (let i = 0; i < 2 * B; i++) state[i] = start[i];
  }

  /** The state is the hand position. */
  hand(B: number, state: ReadArray, out: FArray): void {
    for (let i = 0; i < 2 * B; i++) out[i] = state[i];
  }

  /** v = command + force; next = state + dt v (with v as stored). */
  step(B: number, state: ReadArray, command: ReadArray, force: ReadArray | null, next: FArray, v: FArray): void {
    checkStep(this, B, state, command, force, next, v);
    const dt = this.dt;
    for (let i = 0; i < 2 * B; i++) {
      v[i] = force === null ? command[i] : command[i] + force[i];
      next[i] = state[i] + dt * v[i];
    }
  }

  /** gv' = gV + dt gNext; gState += gNext; gCommand = gForce = gv'. */
  backward(
    B: number, state: ReadArray, command: ReadArray, force: ReadArray | null,
    gNext: ReadArray, gV: ReadArray | null, gState: FArray, gCommand: FArray, gForce: FArray | null,
  ): void {
    checkBackward(this, B, state, command, force, gNext, gV, gState, gCommand, gForce);
    const dt = this.dt;
    for (let i = 0; i < 2 * B; i++) {
      const g = (gV === null ? 0 : gV[i]) + dt * gNext[i];
      gState[i] += gNext[i];
      gCommand[i] = g;
      if (gForce !== null) gForce[i] = g;
    }
  }
}
