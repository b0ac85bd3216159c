/**
 * First-order activation dynamics in front of another plant (issue 24, item 1's option; MotorNet's simplest
 * muscle, Codol et al. 2024, with the activation and deactivation time constants of Thelen 2003). Each of
 * the network's signed commands u (a force, a net joint torque) drives an agonist-antagonist pair: the
 * excitations e+ = max(u, 0) and e- = max(-u, 0), each followed by an activation in [0, inf) with a lag,
 * and the pair's difference is the inner plant's command:
 *
 *   a' = a + (dt / tau) (e - a)        tau = tauActivation when e > a (rising), else tauDeactivation
 *   inner', v = inner.step(inner state, a+' - a-', force)
 *
 * integrated with explicit Euler as MotorNet integrates its muscles' activation. The dynamics are continuous
 * (at e = a both branches give a' = a); their derivative has kinks at e = a and at u = 0, where the gradient
 * takes one side, as the joint limits' indicator does (the gradient checks keep away from them). The lag's
 * steady-state gain is 1, so a network's constant command moves the inner plant as before: the muscles only
 * add delay, and the antagonist's slower release.
 *
 * State per trial: the inner plant's state, then the activations a+ (nCommand of them) and a-
 * ([nState_inner + 2 nCommand]); the hand, the push scale and dt are the inner plant's. Every buffer the step
 * needs (the inner plant's slice of the state and its command) is held per dtype and grown with the batch
 * only, so steps allocate nothing.
 *
 *   const arm = plant.makePlant({ name: "muscle", options: { plant: "two_joint_arm" } });
 */
import type { FArray } from "../kernels";
import type { OptionValues } from "../registry";
import { ParameterError, positive } from "../validate";
import { Plant, ReadArray, checkBackward, checkStep } from "./plant";

/** Options of the activation dynamics. */
export interface MuscleOptions {
  /** The plant the activations drive, by registered name (default "point_mass"). */
  plant: string;
  /** That plant's options (default {}: its defaults). */
  plantOptions: OptionValues;
  /** Time constant while the command's size grows, s (default 0.015, Thelen 2003; MotorNet's default). */
  tauActivation: number;
  /** Time constant while it shrinks or turns, s (default 0.05, Thelen 2003; MotorNet's default). */
  tauDeactivation: number;
}

/** The activation dynamics' option defaults. */
export const MUSCLE_DEFAULTS: MuscleOptions = { plant: "point_mass", plantOptions: {}, tauActivation: 0.015, tauDeactivation: 0.05 };

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

/** Scratch buffers of one dtype: the inner plant's states, next states, command and gradients for B trials. */
interface Scratch {
  ctor: Ctor;
  B: number;
  s: FArray;
  next: FArray;
  a: FArray;
  gNext: FArray;
  gState: FArray;
  gA: FArray;
}

/** First-order activation dynamics in front of an inner plant (module comment). */
export class Muscle implements Plant {
  /** "muscle". */
  readonly name = "muscle";
  /** The inner plant's state and two activations (agonist, antagonist) per command. */
  readonly nState: number;
  /** The inner plant's. */
  readonly nCommand: number;
  /** The inner plant's time step, s. */
  readonly dt: number;
  /** The inner plant's. */
  readonly pushScale: number;
  /** The options, defaults included, with the inner plant's options spelled out. */
  readonly options: OptionValues;
  /** The plant the activations drive. */
  readonly inner: Plant;
  /** dt / tauActivation. */
  readonly kActivation: number;
  /** dt / tauDeactivation. */
  readonly kDeactivation: number;
  private readonly scratch: Scratch[] = [];

  /**
   * @param options the time constants (s); `plant` and `plantOptions` name the inner plant, which the
   *   registry makes (plant/index.ts) and passes as `inner`
   * @param inner the plant the activations drive
   */
  constructor(options: Partial<MuscleOptions>, inner: Plant) {
    const o = { ...MUSCLE_DEFAULTS, ...options };
    this.inner = inner;
    this.nState = inner.nState + 2 * inner.nCommand;
    this.nCommand = inner.nCommand;
    this.dt = inner.dt;
    this.pushScale = inner.pushScale;
    const tauA = positive("tauActivation", o.tauActivation);
    const tauD = positive("tauDeactivation", o.tauDeactivation);
    for (const [name, tau] of [["tauActivation", tauA], ["tauDeactivation", tauD]] as const) {
      if (tau < this.dt) throw new ParameterError(name, `must be at least the step dt = ${this.dt} s (explicit Euler overshoots below), got ${tau}`);
    }
    this.kActivation = this.dt / tauA;
    this.kDeactivation = this.dt / tauD;
    this.options = { plant: inner.name, plantOptions: inner.options, tauActivation: tauA, tauDeactivation: tauD };
  }

  /** The scratch buffers of like's dtype for B trials (made once, grown with the batch only). */
  private buffers(B: number, like: ArrayLike<number>): Scratch {
    const ctor: Ctor = like instanceof Float32Array ? Float32Array : Float64Array;
    const i = this.scratch.findIndex((x) => x.ctor === ctor);
    if (i >= 0 && this.scratch[i].B >= B) return this.scratch[i];
    const n = B * this.inner.nState;
    const m = B * this.nCommand;
    const made: Scratch = { ctor, B, s: new ctor(n), next: new ctor(n), a: new ctor(m), gNext: new ctor(n), gState: new ctor(n), gA: new ctor(m) };
    if (i >= 0) this.scratch[i] = made;
    else this.scratch.push(made);
    return made;
  }

  /** The inner plant at rest at start, activations 0. */
  init(B: number, start: ReadArray, state: FArray): void {
    const sc = this.buffers(B, state);
    this.inner.init(B, start, sc.s);
    this.scatter(B, sc.s, state);
    const n = this.inner.nState;
    const N = this.nState;
    for (let b = 0; b < B; b++) for (let j = n; j < N; j++) state[b * N + j] = 0;
  }

  /** The inner plant's hand. */
  hand(B: number, state: ReadArray, out: FArray): void {
    const sc = this.buffers(B, out);
    this.gather(B, state, sc.s);
    this.inner.hand(B, sc.s, out);
  }

  /** Copies each trial's inner state out of state[B, nState] into s[B, nState_inner]. */
  private gather(B: number, state: ReadArray, s: FArray): void {
    const n = this.inner.nState;
    const N = this.nState;
    for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) s[b * n + i] = state[b * N + i];
  }

  /** Copies s[B, nState_inner] into each trial's inner state in state[B, nState] (gather's inverse). */
  private scatter(B: number, s: ReadArray, state: FArray): void {
    const n = this.inner.nState;
    const N = this.nState;
    for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) state[b * N + i] = s[b * n + i];
  }

  /** dt / tau for an activation a driven by the excitation e: tauActivation while e is above a. */
  private rate(e: number, a: number): number {
    return e > a ? this.kActivation : this.kDeactivation;
  }

  /** One activation's step: a + (dt / tau)(e - a). */
  private lag(e: number, a: number): number {
    return a + this.rate(e, a) * (e - a);
  }

  /** The activations' step into next (when given) and their difference into sc.a; the inner state into sc.s. */
  private activate(B: number, state: ReadArray, command: ReadArray, sc: Scratch, next: FArray | null): void {
    const n = this.inner.nState;
    const N = this.nState;
    const m = this.nCommand;
    this.gather(B, state, sc.s);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < m; j++) {
        const u = command[b * m + j];
        const ap = this.lag(u > 0 ? u : 0, state[b * N + n + j]);
        const am = this.lag(u < 0 ? -u : 0, state[b * N + n + m + j]);
        if (next !== null) {
          next[b * N + n + j] = ap;
          next[b * N + n + m + j] = am;
          sc.a[b * m + j] = next[b * N + n + j] - next[b * N + n + m + j];
        } else sc.a[b * m + j] = ap - am;
      }
    }
  }

  /** Each activation's step, then the inner plant's step driven by a+' - a-'. */
  step(B: number, state: ReadArray, command: ReadArray, force: ReadArray | null, next: FArray, v: FArray): void {
    checkStep(this, B, state, command, force, next, v);
    const sc = this.buffers(B, next);
    this.activate(B, state, command, sc, next);
    this.inner.step(B, sc.s, sc.a, force, sc.next, v);
    this.scatter(B, sc.next, next);
  }

  /**
   * The exact vector-Jacobian product of `step`: the inner plant's backward at (inner state, a+' - a-',
   * force) gives dL/d command_inner, which reaches a+' with sign + and a-' with sign - (dL/d next's
   * activation parts add to them), and a' = (1 - k) a + k e passes it on to a and to e = max(+-u, 0).
   */
  backward(
    B: number, state: ReadArray, command: ReadArray, force: ReadArray | null,
    gNext: ReadArray, gV: ReadArray | null, gState: FArray, gCommand: FArray, gForce: FArray | null,
  ): void {
    checkBackward(this, B, state, command, force, gNext, gV, gState, gCommand, gForce);
    const sc = this.buffers(B, gState);
    this.activate(B, state, command, sc, null);
    const n = this.inner.nState;
    const N = this.nState;
    const m = this.nCommand;
    this.gather(B, gNext, sc.gNext);
    sc.gState.fill(0, 0, B * n);
    this.inner.backward(B, sc.s, sc.a, force, sc.gNext, gV, sc.gState, sc.gA, gForce);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < n; i++) gState[b * N + i] += sc.gState[b * n + i];
      for (let j = 0; j < m; j++) {
        const u = command[b * m + j];
        const ip = b * N + n + j;
        const im = ip + m;
        const kp = this.rate(u > 0 ? u : 0, state[ip]);
        const km = this.rate(u < 0 ? -u : 0, state[im]);
        const gp = sc.gA[b * m + j] + gNext[ip];
        const gm = -sc.gA[b * m + j] + gNext[im];
        gState[ip] += (1 - kp) * gp;
        gState[im] += (1 - km) * gm;
        gCommand[b * m + j] = u > 0 ? kp * gp : u < 0 ? -km * gm : 0;
      }
    }
  }
}
