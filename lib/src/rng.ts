/**
 * Seedable random streams with serialisable state (xoshiro128**).
 *
 * One stream per concern: a run's weights, trials and initial states each draw
 * from their own stream, derived from (seed, stream name), so that e.g. drawing
 * an extra test batch never changes the weights. The state is four uint32
 * words and round-trips through JSON, which is what checkpoints store.
 * The same seed gives the same numbers on every platform and backend: all
 * arithmetic is 32-bit integer, and floats are built from those integers.
 */
import { integer, finite, ParameterError } from "./validate";

/**
 * The serialisable state of an `Rng`: what `Rng.state()` returns, `Rng.fromState` accepts and checkpoints store
 * (plain JSON).
 */
export interface RngState {
  /** The generator; the only one there is. */
  algorithm: "xoshiro128**";
  /** Provenance only: the seed and stream this generator was derived from. */
  seed: number;
  /** Provenance only: the stream name (e.g. "weights") the generator was derived from. */
  stream: string;
  /** The four 32-bit state words. */
  s: [number, number, number, number];
}

/** The streams every run has (more can be made with `Rng.seeded(seed, name)`). */
export const STREAM_NAMES = ["weights", "trials", "init"] as const;
/** The name of one of the standard streams: "weights", "trials" or "init". */
export type StreamName = (typeof STREAM_NAMES)[number];
/** One generator per standard stream, as `makeStreams(seed)` returns them. */
export type Streams = Record<StreamName, Rng>;

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32 finaliser: a bijective mix of 32 bits. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A seedable xoshiro128** generator. Make one with `Rng.seeded(seed, stream)` or `Rng.fromState(state)`; `state()`
 * and `clone()` snapshot it. Every draw advances the state.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * @param seed the run seed it was derived from (provenance only)
   * @param stream the stream name it was derived from (provenance only)
   * @param s the four 32-bit state words
   */
  private constructor(readonly seed: number, readonly stream: string, s: readonly number[]) {
    [this.s0, this.s1, this.s2, this.s3] = s.map((w) => w | 0);
  }

  /** A generator for stream `stream` of run `seed` (an integer in [0, 2^53)). */
  static seeded(seed: number, stream = "default"): Rng {
    integer("seed", seed, 0);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    let x = mix32(fnv1a(stream) ^ mix32(hi ^ mix32(lo + 0x9e3779b9)));
    const s: number[] = [];
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      s.push(mix32(x));
    }
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // the all-zero state is a fixed point
    return new Rng(seed, stream, s);
  }

  /**
   * A generator that continues from a saved state (checked: the algorithm, four words in [0, 2^32), not all zero).
   * @throws ParameterError if the state is not a valid xoshiro128** state
   */
  static fromState(state: RngState): Rng {
    if (!state || state.algorithm !== "xoshiro128**") {
      throw new ParameterError("state.algorithm", `must be "xoshiro128**", got ${JSON.stringify(state?.algorithm)}`);
    }
    if (!Array.isArray(state.s) || state.s.length !== 4 || state.s.some((w) => !Number.isInteger(w) || w < 0 || w >= TWO_POW_32)) {
      throw new ParameterError("state.s", "must be four integers in [0, 2^32)");
    }
    if (state.s.every((w) => w === 0)) throw new ParameterError("state.s", "must not be all zero");
    return new Rng(state.seed, state.stream, state.s);
  }

  /** A snapshot of the current state; `Rng.fromState` of it continues with the same numbers. */
  state(): RngState {
    return {
      algorithm: "xoshiro128**",
      seed: this.seed,
      stream: this.stream,
      s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0],
    };
  }

  /** An independent copy at the same state (draws from one do not advance the other). */
  clone(): Rng {
    return Rng.fromState(this.state());
  }

  /** Next 32 random bits as an unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / TWO_POW_53;
  }

  /** Uniform in [lo, hi). */
  uniformIn(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    integer("n", n, 1, TWO_POW_32);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** Standard normal (Box-Muller; two uniforms per draw, no cached spare, so the state is all there is). */
  normal(): number {
    const u = 1 - this.uniform(); // (0, 1]
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Fills `out` with U(lo, hi) and returns it. */
  fillUniform<A extends Float32Array | Float64Array>(out: A, lo: number, hi: number): A {
    finite("lo", lo);
    finite("hi", hi);
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }
}

/** The standard streams (weights, trials, init) of run `seed`. */
export function makeStreams(seed: number): Streams {
  return {
    weights: Rng.seeded(seed, "weights"),
    trials: Rng.seeded(seed, "trials"),
    init: Rng.seeded(seed, "init"),
  };
}
