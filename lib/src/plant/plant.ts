/**
 * The plant interface: the effector the network drives. A plant turns the network's command u_k (2 numbers
 * per trial) and an external force on the hand f_k (2 per trial, in the task's x and y axes) into its next
 * state and the hand's velocity:
 *
 *   next = F(state, u, f)        v = (hand(next) - hand(state)) / dt
 *
 * so that integrating v dt gives the hand's path (the task integrates the velocity error). Every method works
 * on B trials at once, row-major ([B, nState], [B, 2]), on Float32Array and Float64Array alike, and allocates
 * nothing: the caller owns every buffer. The arithmetic runs in float64 (JavaScript numbers) and is rounded
 * once when stored.
 *
 * `backward` is the exact vector-Jacobian product of one `step`, hand-written: given dL/d next and dL/d v it
 * adds dL/d state into gState and writes dL/d u and dL/d f. Chained backwards over the steps, it is what
 * backpropagation through time through the plant needs.
 *
 * Built-in plants (registered in index.ts): `massless` (today's hand: v = u + f), `point_mass`,
 * `two_joint_arm`.
 */
import type { FArray } from "../kernels";
import type { OptionValues } from "../registry";
import { ParameterError, integer } from "../validate";

/** A buffer a plant reads: a float array, or any array of numbers (only read). */
export type ReadArray = ArrayLike<number>;

/** An effector driven by the network's command, batched over trials (module comment). */
export interface Plant {
  /** The registered name it was made from ("massless", "point_mass", "two_joint_arm", or a user's). */
  readonly name: string;
  /** Numbers of state per trial (2 for the massless hand, 4 for the point mass and the arm). */
  readonly nState: number;
  /** Numbers of command per trial (2: hand velocity, force or joint torques, as the plant says). */
  readonly nCommand: number;
  /** Time step of `step`, in seconds. */
  readonly dt: number;
  /** Every option it was made with, defaults included, as plain JSON (recorded with results). */
  readonly options: OptionValues;
  /**
   * What the task's push of 1 (a push p on the hand, task units: the pre-training pushes, a curl field) is in
   * this plant's force units: the network passes force = pushScale p to `step`. 1 for the massless hand,
   * whose "force" is a velocity added to the command.
   */
  readonly pushScale: number;
  /**
   * Writes into state[B, nState] the state at rest with the hand at start[B, 2] (task units).
   * @throws ParameterError when a start position cannot be reached
   */
  init(B: number, start: ReadArray, state: FArray): void;
  /** Writes into out[B, 2] the hand positions (task units) of state[B, nState]. */
  hand(B: number, state: ReadArray, out: FArray): void;
  /**
   * One step of dt: next[B, nState] = F(state, command, force), and v[B, 2] the hand's velocity over the
   * step (task units / s), with hand(next) = hand(state) + dt v (bit for bit for the massless hand and the
   * point mass, to rounding for the arm). `force` is the external load on the hand in the task's axes: a
   * push velocity (task units / s) added to v for the massless hand, newtons for the point mass and the
   * arm; null means none (zeros). `next` must not alias `state`.
   */
  step(B: number, state: ReadArray, command: ReadArray, force: ReadArray | null, next: FArray, v: FArray): void;
  /**
   * The vector-Jacobian product of `step` at (state, command, force): given gNext = dL/d next [B, nState] and
   * gV = dL/d v [B, 2], ADDS dL/d state through this step into gState [B, nState], and WRITES dL/d command
   * into gCommand [B, 2] and dL/d force into gForce [B, 2] (gForce null: not wanted). gV null means zeros.
   * gState must not alias gNext.
   */
  backward(
    B: number, state: ReadArray, command: ReadArray, force: ReadArray | null,
    gNext: ReadArray, gV: ReadArray | null, gState: FArray, gCommand: FArray, gForce: FArray | null,
  ): void;
}

/** Throws unless `a` holds at least `n` numbers (a one-line error naming the buffer). */
export function need(name: string, a: ArrayLike<number> | null, n: number): void {
  if (a === null || a.length < n) throw new ParameterError(name, `must hold at least ${n} numbers, got ${a === null ? "null" : a.length}`);
}

/** Checks the batch size and the buffers of a `step` call. */
export function checkStep(p: Plant, B: number, state: ReadArray, command: ReadArray, force: ReadArray | null, next: FArray, v: FArray): void {
  integer("B", B, 0);
  need("state", state, B * p.nState);
  need("command", command, B * p.nCommand);
  if (force !== null) need("force", force, B * 2);
  need("next", next, B * p.nState);
  need("v", v, B * 2);
}

/** Checks the batch size and the buffers of a `backward` call. */
export function checkBackward(
  p: Plant, B: number, state: ReadArray, command: ReadArray, force: ReadArray | null,
  gNext: ReadArray, gV: ReadArray | null, gState: FArray, gCommand: FArray, gForce: FArray | null,
): void {
  integer("B", B, 0);
  need("state", state, B * p.nState);
  need("command", command, B * p.nCommand);
  if (force !== null) need("force", force, B * 2);
  need("gNext", gNext, B * p.nState);
  if (gV !== null) need("gV", gV, B * 2);
  need("gState", gState, B * p.nState);
  need("gCommand", gCommand, B * p.nCommand);
  if (gForce !== null) need("gForce", gForce, B * 2);
}

/** The dense derivatives of one step of one trial (row-major), as `stepJacobian` returns them. */
export interface StepDerivatives {
  /** d next / d state, [nState, nState]. */
  nextState: Float64Array;
  /** d next / d command, [nState, nCommand]. */
  nextCommand: Float64Array;
  /** d next / d force, [nState, 2]. */
  nextForce: Float64Array;
  /** d v / d state, [2, nState]. */
  vState: Float64Array;
  /** d v / d command, [2, nCommand]. */
  vCommand: Float64Array;
  /** d v / d force, [2, 2]. */
  vForce: Float64Array;
}

/**
 * The dense Jacobian of one step of one trial at (state, command, force), built row by row from the plant's
 * `backward` (nState + 2 vector-Jacobian products, float64): for analyses and linearisations. It is as exact
 * as `backward`, which the tests check against finite differences and TensorFlow.js autodiff.
 */
export function stepJacobian(p: Plant, state: ReadArray, command: ReadArray, force: ReadArray | null = null): StepDerivatives {
  const n = p.nState;
  const m = p.nCommand;
  need("state", state, n);
  need("command", command, m);
  const out: StepDerivatives = {
    nextState: new Float64Array(n * n), nextCommand: new Float64Array(n * m), nextForce: new Float64Array(n * 2),
    vState: new Float64Array(2 * n), vCommand: new Float64Array(2 * m), vForce: new Float64Array(4),
  };
  const gNext = new Float64Array(n);
  const gV = new Float64Array(2);
  const gState = new Float64Array(n);
  const gCommand = new Float64Array(m);
  const gForce = new Float64Array(2);
  for (let row = 0; row < n + 2; row++) {
    gNext.fill(0);
    gV.fill(0);
    gState.fill(0);
    if (row < n) gNext[row] = 1;
    else gV[row - n] = 1;
    p.backward(1, state, command, force, gNext, gV, gState, gCommand, gForce);
    const [S, C, F, r] = row < n ? [out.nextState, out.nextCommand, out.nextForce, row] : [out.vState, out.vCommand, out.vForce, row - n];
    S.set(gState, r * n);
    C.set(gCommand, r * m);
    F.set(gForce, r * 2);
  }
  return out;
}
