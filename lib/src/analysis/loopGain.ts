/**
 * The error-feedback loop's gain, measured from a network's weights, and what it predicts under a cursor
 * map (cursor.ts). Hold the fed-back error at its closed-loop values plus a small constant offset d along
 * one axis (open loop: `SimulateOptions.replayFeedback`), and the hand's velocity changes by about K d:
 * K (2x2) is the loop's gain from fed-back error to hand velocity, averaged over a window of steps, over
 * the reach's phases and over the targets. A corrective controller has K close to a positive multiple of
 * a rotation by a small phase phi. Through a plant the hand's velocity comes out of its dynamics, so K then
 * includes the plant's lag over the window.
 *
 * Under a cursor map C the cursor's error obeys, to first order, de/dt = -C K e: the loop corrects while
 * every eigenvalue of C K has a positive real part, and pushes the cursor away (positive feedback) along
 * an eigenvector whose eigenvalue has a negative real part. For a cursor rotation by theta and K = k R(phi)
 * the eigenvalues are k exp(+-i (theta + phi)): control corrects up to |theta + phi| = 90°. A mirror has
 * det C < 0, so C K has a negative real eigenvalue whatever K: control makes the mirrored axis worse. This
 * quasi-static argument ignores the loop's own lag (tau and the one-step delay), which shrinks the margin.
 */
import { Network, cloneNetwork, simulate } from "../network";
import { Mat2 } from "../cursor";
import { TrialBatch, centreOutAll } from "../task";
import { Rng } from "../rng";
import { ParameterError, integer, positive } from "../validate";

/** Options of `loopGain`. */
export interface LoopGainOptions {
  /** Trials to measure on (default: the 8 centre-out reaches, unperturbed). */
  batch?: TrialBatch;
  /** Steps at which the offset starts (default: every 10 steps from 10 to T - window). */
  starts?: number[];
  /** Steps the offset is held, and over which the velocity change is averaged (default 10: 100 ms). */
  window?: number;
  /** Size of the offset (central differences at +-delta; default 1e-3, in the error's units). */
  delta?: number;
  /** Seed of the `eval-init` stream of the initial states (default 1). */
  seed?: number;
}

/** The loop gain measured from one start step. */
export interface LoopGainAt {
  /** The step at which the offset starts. */
  start: number;
  /** d(hand velocity)/d(fed-back error) there, mean over trials, row-major. */
  K: Mat2;
}

/** A complex number. */
export interface Complex {
  /** Real part. */
  re: number;
  /** Imaginary part. */
  im: number;
}

/** The loop gain: its mean and its value at each start step. */
export interface LoopGain {
  /** Row-major (a, b, c, d): mean over starts and trials of d(hand velocity)/d(fed-back error), row-major. */
  K: Mat2;
  /** K at each start step (mean over trials). */
  byStart: LoopGainAt[];
  /** The phase of K's rotation part, degrees: atan2(c - b, a + d) (positive: it turns the correction counter-clockwise). */
  phaseDeg: number;
  /** The magnitude of K's rotation part, |(a + d, c - b)| / 2. */
  magnitude: number;
}

/** Measures the loop gain K of a network with its control input on (see the module's comment). */
export function loopGain(net: Network, options: LoopGainOptions = {}): LoopGain {
  const n64 = cloneNetwork(net, "float64");
  const batch = options.batch ?? centreOutAll();
  const window = integer("window", options.window ?? 10, 1);
  const delta = positive("delta", options.delta ?? 1e-3);
  const seed = integer("seed", options.seed ?? 1, 0);
  const { T, B } = batch;
  const starts = options.starts ?? Array.from({ length: Math.floor((T - window - 10) / 10) + 1 }, (_, i) => 10 + 10 * i);
  for (const s of starts) if (!Number.isInteger(s) || s < 0 || s + window > T) throw new ParameterError("starts", `each must be an integer step in [0, ${T - window}], got ${s}`);
  const init = () => Rng.seeded(seed, "eval-init");
  const base = simulate(n64, batch, { feedback: true, init: init() });
  const x0 = Float64Array.from(base.x.subarray(0, B * n64.config.N));
  const byStart: LoopGainAt[] = [];
  const sum = [0, 0, 0, 0];
  for (const start of starts) {
    const K = [0, 0, 0, 0];
    for (let j = 0; j < 2; j++) {
      const mean = [0, 0];
      for (const sign of [1, -1]) {
        const eps = Float64Array.from(base.eps);
        for (let k = start; k < start + window; k++) for (let b = 0; b < B; b++) eps[(k * B + b) * 2 + j] += sign * delta;
        const ro = simulate(n64, batch, { feedback: true, x0, replayFeedback: eps });
        // The hand's velocity v_{k+1} responds to eps_k: average over the window's responses and the trials. It is
        // v, not the readout y: through a plant (NetworkConfig.plant) y is a force or torques, and only v is the hand's.
        for (let k = start + 1; k <= start + window; k++) {
          for (let b = 0; b < B; b++) for (let o = 0; o < 2; o++) mean[o] += (sign * ro.v[(k * B + b) * 2 + o]) / (window * B * 2 * delta);
        }
      }
      K[j] = mean[0]; // column j: d y / d eps_j
      K[2 + j] = mean[1];
    }
    byStart.push({ start, K: [K[0], K[1], K[2], K[3]] });
    for (let i = 0; i < 4; i++) sum[i] += K[i] / starts.length;
  }
  const K: Mat2 = [sum[0], sum[1], sum[2], sum[3]];
  return { K, byStart, phaseDeg: (Math.atan2(K[2] - K[1], K[0] + K[3]) * 180) / Math.PI, magnitude: Math.hypot(K[0] + K[3], K[2] - K[1]) / 2 };
}

/** Eigenvalues of a 2x2 matrix, as { re, im } pairs (a complex pair or two reals). */
export function eigenvalues2(m: Mat2): Complex[] {
  const tr = m[0] + m[3];
  const det = m[0] * m[3] - m[1] * m[2];
  const disc = (tr * tr) / 4 - det;
  if (disc >= 0) {
    const s = Math.sqrt(disc);
    return [{ re: tr / 2 + s, im: 0 }, { re: tr / 2 - s, im: 0 }];
  }
  const s = Math.sqrt(-disc);
  return [{ re: tr / 2, im: s }, { re: tr / 2, im: -s }];
}

/**
 * What the linearised loop predicts under cursor map C with loop gain K: the smallest real part of the
 * eigenvalues of C K (positive: control corrects; negative: it pushes the cursor away along one direction),
 * relative to K's own (so 1 is the unperturbed loop).
 */
export function cursorLoopMargin(C: Mat2, K: Mat2): number {
  const m: Mat2 = [C[0] * K[0] + C[1] * K[2], C[0] * K[1] + C[1] * K[3], C[2] * K[0] + C[3] * K[2], C[2] * K[1] + C[3] * K[3]];
  const own = Math.min(...eigenvalues2(K).map((e) => e.re));
  return Math.min(...eigenvalues2(m).map((e) => e.re)) / own;
}
