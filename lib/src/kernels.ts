/**
 * Dense linear-algebra kernels: the one place the lib multiplies matrices.
 *
 * `gemm` computes C = alpha * op(A) * op(B) + beta * C on row-major Float32Array or Float64Array
 * matrices, with the BLAS argument order. It runs on one of two engines:
 *   - "openblas": a small N-API addon around OpenBLAS (lib/native, built by scripts/build-native.sh);
 *   - "js": plain TypeScript loops, register-blocked, about 2-4 GFLOP/s on one core.
 * The addon is loaded lazily on first use; when it is missing or fails to load the lib falls back to
 * "js", and `engine()` says why. FBC_ENGINE=js (or =openblas) in the environment forces an engine.
 *
 * The JS kernels are kept monomorphic: V8 shares type feedback between all closures made from one
 * function literal, so a kernel that has seen both Float32Array and Float64Array goes polymorphic
 * and runs at about half speed. Float64 arrays run the kernels as written below; Float32 arrays run
 * copies compiled from the same source text (`specialise`), which get type feedback of their own.
 */
import * as fs from "fs";
import * as path from "path";

/** A float array the kernels take: float32 (training) or float64 (gradient checks). */
export type FArray = Float32Array | Float64Array;
/** The engine `gemm` and the fused kernels run on: the OpenBLAS addon or the TypeScript loops. */
export type Engine = "openblas" | "js";

/** What the native addon reports about the OpenBLAS it is linked against. */
export interface OpenBlasInfo {
  /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64". */
  config: string;
  /** The CPU kernel set chosen at run time, e.g. "Haswell", "SkylakeX", "Zen". */
  corename: string;
  /** Threads OpenBLAS uses now (`setThreads` changes it). */
  threads: number;
  /** Processors OpenBLAS sees. */
  procs: number;
  /** OpenBLAS's threading model, as it was built. */
  parallel: "sequential" | "pthreads" | "openmp" | "unknown";
}

/** The engine in use and why, as `engine()` returns it. */
export interface EngineStatus {
  /** The engine `gemm` uses now. */
  name: Engine;
  /** Why the native engine is not in use (file missing, load error, FBC_ENGINE, setEngine), or null. */
  reason: string | null;
  /** Details of the loaded OpenBLAS, or null when the addon is not loaded. */
  openblas: OpenBlasInfo | null;
  /** One line for logs and template strings, e.g. "openblas (OpenBLAS 0.3.21 on Zen, 2 threads)" or "js (native addon not built: ...)". */
  toString(): string;
}

type GemmFn<T extends FArray> = (
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  A: T, lda: number, B: T, ldb: number, beta: number, C: T, ldc: number,
) => void;

interface NativeAddon {
  sgemm: GemmFn<Float32Array>;
  dgemm: GemmFn<Float64Array>;
  setThreads(n: number): number;
  getThreads(): number;
  info(): OpenBlasInfo;
  outerTrace(P: Float32Array, rows: number, cols: number, gate: Float32Array, pre: Float32Array, alpha: number): void;
  rowScaleAdd(out: Float32Array, P: Float32Array, rows: number, cols: number, s: Float32Array, scale: number, row0: boolean): number;
  distances2(x: Float32Array, a: Float32Array, b: Float32Array, out: Float64Array): void;
  addressMod(a: ArrayBufferView, m: number): number;
  rfloStep(P: Float32Array, out: Float32Array, rows: number, cols: number, gate: Float32Array, pre: Float32Array, alpha: number, s: Float32Array, scale: number, next?: Float32Array, drive?: Float32Array): number;
  bpttGradient(
    k: number, N: number, nOut: number, stride: number, alpha: number, dt: number, position: boolean, recurrent: boolean,
    x: Float32Array, r: Float32Array, eNext: Float32Array, wOut: Float32Array, wRec: Float32Array, wRecT: Float32Array,
    ga: Float32Array, scratch: Float32Array, dw: Float32Array, gy?: Float32Array,
  ): void;
  rnnForwardStep(
    k: number, B: number, N: number, nIn: number, nOut: number, alpha: number, dt: number, feedback: boolean, position: boolean, recurrent: boolean,
    x: Float32Array, r: Float32Array, u: Float32Array, eps: Float32Array, c: Float32Array, y: Float32Array, v: Float32Array, e: Float32Array,
    e0: Float32Array, ref: Float32Array, push: Float32Array, wIn: Float32Array, wRec: Float32Array, F: Float32Array, b: Float32Array,
    wOut: Float32Array, bOut: Float32Array, drive?: Float32Array | null,
  ): number;
  rnnBackwardStep(
    k: number, T: number, B: number, N: number, nIn: number, nOut: number, alpha: number, dt: number, rateScale: number,
    position: boolean, recurrent: boolean, feedbackGrad: boolean, feedbackOn: boolean, fbDelay: number,
    x: Float32Array, r: Float32Array, u: Float32Array, eps: Float32Array, ga: Float32Array, ge: Float32Array, gy: Float32Array,
    gxNext: Float32Array, gr: Float32Array, wRec: Float32Array, wOut: Float32Array, F: Float32Array, acc: Float64Array,
    gyGiven?: boolean, fbNow?: number, fbPrev?: number,
  ): void;
}

// ---------------------------------------------------------------------------------------------
// Engine selection

/** lib/src (tests, via tsx) and lib/dist (compiled) both sit next to lib/native. */
export const ADDON_PATH = path.join(__dirname, "../native/build/Release/fbc_native.node");

let addon: NativeAddon | null | undefined; // undefined: not tried yet
let addonProblem = "";
let active: { native: NativeAddon | null; reason: string | null } | undefined;

function loadAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (!fs.existsSync(ADDON_PATH)) {
    addonProblem = `native addon not built: ${ADDON_PATH} is missing (run scripts/build-native.sh)`;
  } else {
    try {
      addon = require(ADDON_PATH) as NativeAddon;
    } catch (err) {
      addonProblem = `native addon failed to load: ${String((err as Error)?.message ?? err).split("\n")[0]}`;
    }
  }
  return addon;
}

function resolveEngine(): { native: NativeAddon | null; reason: string | null } {
  if (active) return active;
  const forced = process.env.FBC_ENGINE;
  if (forced === "js") {
    active = { native: null, reason: "FBC_ENGINE=js" };
  } else if (forced === "openblas") {
    setEngine("openblas");
  } else if (forced === undefined || forced === "" || forced === "auto") {
    const native = loadAddon();
    active = { native, reason: native ? null : addonProblem };
  } else {
    throw new Error(`FBC_ENGINE must be "openblas", "js" or "auto", got ${JSON.stringify(forced)}`);
  }
  return active!;
}

/** The engine in use, why the native one is not, and the OpenBLAS configuration when loaded. */
export function engine(): EngineStatus {
  const { native, reason } = resolveEngine();
  const openblas = native ? native.info() : null;
  const name: Engine = native ? "openblas" : "js";
  const detail = openblas
    ? `${openblas.config.split(" ").slice(0, 2).join(" ")} on ${openblas.corename}, ${openblas.threads} thread${openblas.threads === 1 ? "" : "s"}`
    : reason;
  const line = detail ? `${name} (${detail})` : name;
  return { name, reason, openblas, toString: () => line };
}

/**
 * Chooses the engine (for benchmarks and engine-comparison tests). "auto" restores the default:
 * OpenBLAS when the addon loads. Throws if "openblas" is asked for and the addon is unavailable.
 */
export function setEngine(name: Engine | "auto"): void {
  if (name === "js") {
    active = { native: null, reason: 'setEngine("js")' };
  } else if (name === "openblas") {
    const native = loadAddon();
    if (!native) throw new Error(`the "openblas" engine is unavailable: ${addonProblem}`);
    active = { native, reason: null };
  } else if (name === "auto") {
    const native = loadAddon();
    active = { native, reason: native ? null : addonProblem };
  } else {
    throw new Error(`setEngine: unknown engine ${JSON.stringify(name)} (expected "openblas", "js" or "auto")`);
  }
}

/** Whether the native addon can be loaded (whichever engine is active). */
export function nativeAvailable(): boolean {
  return loadAddon() !== null;
}

/**
 * Sets the number of OpenBLAS threads (when the addon loads; the JS engine is single-threaded)
 * and returns the number now in use. OpenBLAS does not cap it at the core count.
 */
export function setThreads(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: n must be an integer >= 1, got ${n}`);
  const native = loadAddon();
  return native ? native.setThreads(n) : 1;
}

/** The number of OpenBLAS threads (1 when the addon is not loaded). */
export function getThreads(): number {
  const native = loadAddon();
  return native ? native.getThreads() : 1;
}

// ---------------------------------------------------------------------------------------------
// Argument checks (shared by both engines; the addon repeats them in C)

function checkDim(name: string, v: number, min: number): void {
  if (!(Number.isInteger(v) && v >= min && v <= 0x7fffffff)) {
    throw new RangeError(`gemm: ${name} must be an integer >= ${min}, got ${v}`);
  }
}

/** A rows x cols row-major matrix with leading dimension ld must fit in an array of `length`. */
function checkMatrix(name: string, ldName: string, length: number, rows: number, cols: number, ld: number): void {
  if (ld < Math.max(1, cols)) {
    throw new RangeError(`gemm: ${ldName} (${ld}) is less than max(1, ${cols} columns of ${name})`);
  }
  const needed = rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
  if (length < needed) {
    throw new RangeError(`gemm: ${name} has ${length} elements, its ${rows}x${cols} matrix with ${ldName}=${ld} needs ${needed}`);
  }
}

function overlaps(x: FArray, y: FArray): boolean {
  return x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
}

// ---------------------------------------------------------------------------------------------
// Public entry point

/**
 * C = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X, or X^T when transX is true.
 * op(A) is m x k, op(B) is k x n, C is m x n; A, B and C are all Float32Array or all Float64Array
 * (subarrays are fine; C must not overlap A or B: that throws). As in BLAS, beta = 0 overwrites C (NaN in C
 * is ignored) and alpha = 0 does not read A or B. Throws a RangeError naming the argument when a
 * dimension or array length does not fit.
 */
export function gemm<T extends FArray>(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  A: T, lda: number, B: T, ldb: number, beta: number, C: T, ldc: number,
): void {
  checkDim("m", m, 0);
  checkDim("n", n, 0);
  checkDim("k", k, 0);
  checkDim("lda", lda, 1);
  checkDim("ldb", ldb, 1);
  checkDim("ldc", ldc, 1);
  if (typeof transA !== "boolean") throw new TypeError("gemm: transA must be a boolean");
  if (typeof transB !== "boolean") throw new TypeError("gemm: transB must be a boolean");
  if (typeof alpha !== "number") throw new TypeError("gemm: alpha must be a number");
  if (typeof beta !== "number") throw new TypeError("gemm: beta must be a number");
  const f64 = C instanceof Float64Array;
  if (!f64 && !(C instanceof Float32Array)) throw new TypeError("gemm: C must be a Float32Array or Float64Array");
  const kind = f64 ? Float64Array : Float32Array;
  if (!(A instanceof kind)) throw new TypeError(`gemm: A must be a ${kind.name}, like C`);
  if (!(B instanceof kind)) throw new TypeError(`gemm: B must be a ${kind.name}, like C`);
  checkMatrix("A", "lda", A.length, transA ? k : m, transA ? m : k, lda);
  checkMatrix("B", "ldb", B.length, transB ? n : k, transB ? k : n, ldb);
  checkMatrix("C", "ldc", C.length, m, n, ldc);
  if (m === 0 || n === 0) return;
  if (overlaps(C, A)) throw new RangeError("gemm: C overlaps A in memory (the result would be wrong)");
  if (overlaps(C, B)) throw new RangeError("gemm: C overlaps B in memory (the result would be wrong)");

  const native = (active ?? resolveEngine()).native;
  if (native) {
    if (f64) native.dgemm(transA, transB, m, n, k, alpha, A as Float64Array, lda, B as Float64Array, ldb, beta, C as Float64Array, ldc);
    else native.sgemm(transA, transB, m, n, k, alpha, A as Float32Array, lda, B as Float32Array, ldb, beta, C as Float32Array, ldc);
    return;
  }
  // Strides of op(A)(i, p) and op(B)(p, j) in the stored arrays.
  const rsA = transA ? 1 : lda, csA = transA ? lda : 1;
  const rsB = transB ? 1 : ldb, csB = transB ? ldb : 1;
  const kernels = f64 ? kernels64 : kernels32;
  if (alpha === 0 || k === 0) kernels.scale(m, n, beta, C, ldc);
  else if (!transB && n >= 4) kernels.rowUpdates(m, n, k, alpha, A, rsA, csA, B, ldb, beta, C, ldc);
  else kernels.dotProducts(m, n, k, alpha, A, rsA, csA, B, rsB, csB, beta, C, ldc);
}

// ---------------------------------------------------------------------------------------------
// Pure TypeScript kernels. Each must be self-contained (no calls, no closures, no outer names):
// `specialise` recompiles them from their source text.

/** C = beta * C (beta = 0 writes zeros). */
function scaleKernel(m: number, n: number, beta: number, C: FArray, ldc: number): void {
  if (beta === 1) return;
  for (let i = 0; i < m; i++) {
    const c = i * ldc;
    if (beta === 0) for (let j = 0; j < n; j++) C[c + j] = 0;
    else for (let j = 0; j < n; j++) C[c + j] *= beta;
  }
}

/**
 * C = alpha * op(A) * B + beta * C with B's rows contiguous (transB false): each row of C is
 * updated by scaled rows of B, two rows of C and four rows of B at a time so that every loaded
 * element of B serves two rows of C. op(A)(i, p) = A[i * rsA + p * csA].
 */
function rowUpdatesKernel(
  m: number, n: number, k: number, alpha: number, A: FArray, rsA: number, csA: number,
  B: FArray, ldb: number, beta: number, C: FArray, ldc: number,
): void {
  for (let i = 0; i < m; i++) {
    const c = i * ldc;
    if (beta === 0) for (let j = 0; j < n; j++) C[c + j] = 0;
    else if (beta !== 1) for (let j = 0; j < n; j++) C[c + j] *= beta;
  }
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const c0 = i * ldc, c1 = c0 + ldc, a0 = i * rsA, a1 = a0 + rsA;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      const q = p * csA;
      const x0 = alpha * A[a0 + q], x1 = alpha * A[a0 + q + csA], x2 = alpha * A[a0 + q + 2 * csA], x3 = alpha * A[a0 + q + 3 * csA];
      const y0 = alpha * A[a1 + q], y1 = alpha * A[a1 + q + csA], y2 = alpha * A[a1 + q + 2 * csA], y3 = alpha * A[a1 + q + 3 * csA];
      const b0 = p * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
      for (let j = 0; j < n; j++) {
        const u0 = B[b0 + j], u1 = B[b1 + j], u2 = B[b2 + j], u3 = B[b3 + j];
        C[c0 + j] += x0 * u0 + x1 * u1 + x2 * u2 + x3 * u3;
        C[c1 + j] += y0 * u0 + y1 * u1 + y2 * u2 + y3 * u3;
      }
    }
    for (; p < k; p++) {
      const x0 = alpha * A[a0 + p * csA], y0 = alpha * A[a1 + p * csA], b0 = p * ldb;
      for (let j = 0; j < n; j++) {
        const u0 = B[b0 + j];
        C[c0 + j] += x0 * u0;
        C[c1 + j] += y0 * u0;
      }
    }
  }
  if (i < m) {
    const c0 = i * ldc, a0 = i * rsA;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      const q = p * csA;
      const x0 = alpha * A[a0 + q], x1 = alpha * A[a0 + q + csA], x2 = alpha * A[a0 + q + 2 * csA], x3 = alpha * A[a0 + q + 3 * csA];
      const b0 = p * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
      for (let j = 0; j < n; j++) C[c0 + j] += x0 * B[b0 + j] + x1 * B[b1 + j] + x2 * B[b2 + j] + x3 * B[b3 + j];
    }
    for (; p < k; p++) {
      const x0 = alpha * A[a0 + p * csA], b0 = p * ldb;
      for (let j = 0; j < n; j++) C[c0 + j] += x0 * B[b0 + j];
    }
  }
}

/**
 * C = alpha * op(A) * op(B) + beta * C as dot products along k, for 2 x 4 blocks of C (eight
 * accumulators; each loaded element is used two or four times), then 1 x 4 blocks for the last
 * row of an odd m. Fastest when op(A)'s rows and op(B)'s columns are contiguous (transA false,
 * transB true); correct for any strides:
 * op(A)(i, p) = A[i * rsA + p * csA], op(B)(p, j) = B[p * rsB + j * csB].
 */
function dotProductsKernel(
  m: number, n: number, k: number, alpha: number, A: FArray, rsA: number, csA: number,
  B: FArray, rsB: number, csB: number, beta: number, C: FArray, ldc: number,
): void {
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const c0 = i * ldc, c1 = c0 + ldc, a0 = i * rsA, a1 = a0 + rsA;
    let j = 0;
    for (; j + 3 < n; j += 4) {
      const b0 = j * csB, b1 = b0 + csB, b2 = b1 + csB, b3 = b2 + csB;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0;
      for (let p = 0, qa = 0, qb = 0; p < k; p++, qa += csA, qb += rsB) {
        const x = A[a0 + qa], y = A[a1 + qa];
        const u0 = B[b0 + qb], u1 = B[b1 + qb], u2 = B[b2 + qb], u3 = B[b3 + qb];
        s0 += x * u0; s1 += x * u1; s2 += x * u2; s3 += x * u3;
        t0 += y * u0; t1 += y * u1; t2 += y * u2; t3 += y * u3;
      }
      if (beta === 0) {
        C[c0 + j] = alpha * s0; C[c0 + j + 1] = alpha * s1; C[c0 + j + 2] = alpha * s2; C[c0 + j + 3] = alpha * s3;
        C[c1 + j] = alpha * t0; C[c1 + j + 1] = alpha * t1; C[c1 + j + 2] = alpha * t2; C[c1 + j + 3] = alpha * t3;
      } else {
        C[c0 + j] = alpha * s0 + beta * C[c0 + j];
        C[c0 + j + 1] = alpha * s1 + beta * C[c0 + j + 1];
        C[c0 + j + 2] = alpha * s2 + beta * C[c0 + j + 2];
        C[c0 + j + 3] = alpha * s3 + beta * C[c0 + j + 3];
        C[c1 + j] = alpha * t0 + beta * C[c1 + j];
        C[c1 + j + 1] = alpha * t1 + beta * C[c1 + j + 1];
        C[c1 + j + 2] = alpha * t2 + beta * C[c1 + j + 2];
        C[c1 + j + 3] = alpha * t3 + beta * C[c1 + j + 3];
      }
    }
    for (; j < n; j++) {
      const b0 = j * csB;
      let s0 = 0, t0 = 0;
      for (let p = 0, qa = 0, qb = 0; p < k; p++, qa += csA, qb += rsB) {
        const u0 = B[b0 + qb];
        s0 += A[a0 + qa] * u0;
        t0 += A[a1 + qa] * u0;
      }
      C[c0 + j] = beta === 0 ? alpha * s0 : alpha * s0 + beta * C[c0 + j];
      C[c1 + j] = beta === 0 ? alpha * t0 : alpha * t0 + beta * C[c1 + j];
    }
  }
  if (i < m) {
    const c0 = i * ldc, a0 = i * rsA;
    let j = 0;
    for (; j + 3 < n; j += 4) {
      const b0 = j * csB, b1 = b0 + csB, b2 = b1 + csB, b3 = b2 + csB;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0, qa = 0, qb = 0; p < k; p++, qa += csA, qb += rsB) {
        const x = A[a0 + qa];
        s0 += x * B[b0 + qb]; s1 += x * B[b1 + qb]; s2 += x * B[b2 + qb]; s3 += x * B[b3 + qb];
      }
      if (beta === 0) {
        C[c0 + j] = alpha * s0; C[c0 + j + 1] = alpha * s1; C[c0 + j + 2] = alpha * s2; C[c0 + j + 3] = alpha * s3;
      } else {
        C[c0 + j] = alpha * s0 + beta * C[c0 + j];
        C[c0 + j + 1] = alpha * s1 + beta * C[c0 + j + 1];
        C[c0 + j + 2] = alpha * s2 + beta * C[c0 + j + 2];
        C[c0 + j + 3] = alpha * s3 + beta * C[c0 + j + 3];
      }
    }
    for (; j < n; j++) {
      const b0 = j * csB;
      let s0 = 0;
      for (let p = 0, qa = 0, qb = 0; p < k; p++, qa += csA, qb += rsB) s0 += A[a0 + qa] * B[b0 + qb];
      C[c0 + j] = beta === 0 ? alpha * s0 : alpha * s0 + beta * C[c0 + j];
    }
  }
}

/** y += alpha * x, elementwise over equal lengths. */
function axpyKernel(alpha: number, x: FArray, y: FArray): void {
  const n = y.length;
  for (let i = 0; i < n; i++) y[i] += alpha * x[i];
}

/** Sum of x[i] * y[i] over equal lengths, accumulated in double precision. */
function dotKernel(x: FArray, y: FArray): number {
  const n = x.length;
  let s0 = 0, s1 = 0, i = 0;
  for (; i + 1 < n; i += 2) {
    s0 += x[i] * y[i];
    s1 += x[i + 1] * y[i + 1];
  }
  if (i < n) s0 += x[i] * y[i];
  return s0 + s1;
}

/** x *= alpha (alpha = 0 writes zeros). */
function scalKernel(alpha: number, x: FArray): void {
  const n = x.length;
  if (alpha === 0) x.fill(0);
  else for (let i = 0; i < n; i++) x[i] *= alpha;
}

/**
 * A copy of a self-contained function compiled from its source text. The copy has its own type
 * feedback in V8, so Float32 and Float64 callers each keep a monomorphic kernel. If the source
 * cannot be recompiled (e.g. a code-coverage tool instrumented it), the original is returned:
 * still correct, only slower when both precisions are used.
 * @typeParam F the function's type, which the copy keeps
 */
export function specialise<F extends (...args: never[]) => unknown>(fn: F): F {
  try {
    const copy = new Function(`"use strict"; return (${fn.toString()});`)() as F;
    if (typeof copy === "function") return copy;
  } catch {
    // fall through
  }
  return fn;
}

const kernels64 = {
  scale: scaleKernel,
  rowUpdates: rowUpdatesKernel,
  dotProducts: dotProductsKernel,
  axpy: axpyKernel,
  dot: dotKernel,
  scal: scalKernel,
};
const kernels32: typeof kernels64 = {
  scale: specialise(scaleKernel),
  rowUpdates: specialise(rowUpdatesKernel),
  dotProducts: specialise(dotProductsKernel),
  axpy: specialise(axpyKernel),
  dot: specialise(dotKernel),
  scal: specialise(scalKernel),
};

/**
 * Runs every branch of the kernels once on tiny inputs, in the interpreter, before any real call.
 * Without this, a kernel first optimised on, say, even m only, met its odd-m tail with no type
 * feedback there, and V8 (Node 20) sometimes re-entered the same optimised code and deoptimised
 * again tens of times in a row ("Insufficient type feedback for compare operation"), halving the
 * speed of a whole run. Costs well under a millisecond at load.
 */
function warmUp(kernels: typeof kernels64, T: Float32ArrayConstructor | Float64ArrayConstructor): void {
  const A = new T(64).fill(0.5), B = new T(64).fill(0.25), C = new T(64).fill(1);
  for (const [alpha, beta] of [[1, 0], [0.5, 0.5], [1.5, 1], [-1, -0.25]]) {
    for (const [m, n, k] of [[3, 5, 5], [2, 4, 4], [1, 3, 2]]) {
      kernels.scale(m, n, beta, C, n);
      kernels.rowUpdates(m, n, k, alpha, A, k, 1, B, n, beta, C, n); // NN
      kernels.rowUpdates(m, n, k, alpha, A, 1, m, B, n, beta, C, n); // TN
      kernels.dotProducts(m, n, k, alpha, A, k, 1, B, 1, k, beta, C, n); // NT
      kernels.dotProducts(m, n, k, alpha, A, 1, m, B, n, 1, beta, C, n); // TN strides, as for small n
      C.fill(1);
    }
    kernels.axpy(alpha, A, C);
    kernels.dot(A, B);
    kernels.scal(beta, C);
  }
}
warmUp(kernels64, Float64Array);
warmUp(kernels32, Float32Array);

/** @internal For tests: whether the Float32 kernels got compiled copies of their own. */
export const _float32KernelsSpecialised = kernels32.rowUpdates !== kernels64.rowUpdates;

// ---------------------------------------------------------------------------------------------
// Allocation-free vector helpers (pure TypeScript on both engines: they are memory-bound)

function checkVectors(fn: string, x: FArray, y: FArray): void {
  if (x.length !== y.length) throw new RangeError(`${fn}: x has ${x.length} elements but y has ${y.length}`);
  if (x instanceof Float64Array !== y instanceof Float64Array) {
    throw new TypeError(`${fn}: x and y must both be Float32Array or both Float64Array`);
  }
}

/** y += alpha * x (x and y of equal length and the same type). */
export function axpy<T extends FArray>(alpha: number, x: T, y: T): void {
  checkVectors("axpy", x, y);
  if (y instanceof Float64Array) kernels64.axpy(alpha, x, y);
  else kernels32.axpy(alpha, x, y);
}

/** The dot product of x and y (equal lengths, same type), accumulated in double precision. */
export function dot<T extends FArray>(x: T, y: T): number {
  checkVectors("dot", x, y);
  return x instanceof Float64Array ? kernels64.dot(x, y) : kernels32.dot(x, y);
}

/** x *= alpha (alpha = 0 writes zeros, as BLAS does). */
export function scal(alpha: number, x: FArray): void {
  if (x instanceof Float64Array) kernels64.scal(alpha, x);
  else kernels32.scal(alpha, x);
}

// ---------------------------------------------------------------------------------------------
// Fused loops of the local learning rules (RFLO): memory-bound N x N passes at every time step.
// V8 does not vectorise them (about 1.6 ns per element here), so Float32 arrays go to the addon's
// C loops when the native engine is active; Float64 arrays (tests) always run the TypeScript.

function outerTraceKernel(P: FArray, rows: number, cols: number, gate: FArray, pre: FArray, alpha: number): void {
  const keep = 1 - alpha;
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    if (gate[i] > 0) for (let j = 0; j < cols; j++) P[row + j] = alpha * pre[j] + keep * P[row + j];
    else for (let j = 0; j < cols; j++) P[row + j] = keep * P[row + j];
  }
}

function rowScaleAddKernel(out: FArray, P: FArray, rows: number, cols: number, s: FArray, scale: number, row0: boolean): number {
  let norm2 = 0;
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    const prow = row0 ? 0 : row;
    const f = scale * s[i];
    let pp = 0;
    for (let j = 0; j < cols; j++) {
      const p = P[prow + j];
      pp += p * p;
      out[row + j] += f * p;
    }
    norm2 += s[i] * s[i] * pp;
  }
  return norm2;
}

const ruleKernels64 = { outerTrace: outerTraceKernel, rowScaleAdd: rowScaleAddKernel };
const ruleKernels32: typeof ruleKernels64 = { outerTrace: specialise(outerTraceKernel), rowScaleAdd: specialise(rowScaleAddKernel) };

function checkLength(fn: string, name: string, a: FArray, need: number): void {
  if (a.length < need) throw new RangeError(`${fn}: ${name} has ${a.length} elements, needs ${need}`);
}

/**
 * P[i][j] = alpha * (gate[i] > 0) * pre[j] + (1 - alpha) * P[i][j] over a rows x cols row-major P:
 * a leaky trace of outer products gated by the ReLU derivative (RFLO's eligibility trace).
 */
export function outerTrace<T extends FArray>(P: T, rows: number, cols: number, gate: T, pre: T, alpha: number): void {
  checkLength("outerTrace", "P", P, rows * cols);
  checkLength("outerTrace", "gate", gate, rows);
  checkLength("outerTrace", "pre", pre, cols);
  const { native } = resolveEngine();
  if (P instanceof Float64Array) ruleKernels64.outerTrace(P, rows, cols, gate, pre, alpha);
  else if (native) native.outerTrace(P, rows, cols, gate as Float32Array, pre as Float32Array, alpha);
  else ruleKernels32.outerTrace(P, rows, cols, gate, pre, alpha);
}

/**
 * out[i][j] += scale * s[i] * P[r][j] with r = i, or r = 0 for every i when row0 is true; returns
 * |diag(s) P|_F^2 (of the unscaled update). RFLO's update diag(W_fb e) P added into a weight matrix.
 */
export function rowScaleAdd<T extends FArray>(out: T, P: T, rows: number, cols: number, s: T, scale: number, row0 = false): number {
  checkLength("rowScaleAdd", "out", out, rows * cols);
  checkLength("rowScaleAdd", "P", P, row0 ? cols : rows * cols);
  checkLength("rowScaleAdd", "s", s, rows);
  const { native } = resolveEngine();
  if (out instanceof Float64Array) return ruleKernels64.rowScaleAdd(out, P, rows, cols, s, scale, row0);
  if (native) return native.rowScaleAdd(out, P as Float32Array, rows, cols, s as Float32Array, scale, row0);
  return ruleKernels32.rowScaleAdd(out, P, rows, cols, s, scale, row0);
}

/**
 * RFLO's trace and update in one pass (returns |diag(s) P|_F^2 after the trace update):
 *   P = alpha * (gate > 0) pre^T + (1 - alpha) P;   out += scale * diag(s) P.
 * The same as outerTrace followed by rowScaleAdd; the addon does it reading P and out once.
 * With `fuse` it also writes fuse.drive = out · fuse.next ([rows]) from the updated out: with out = W_rec
 * and next = r_{k+1}, the next step's recurrent drive, computed in the same pass over W_rec.
 */
export function rfloStep<T extends FArray>(P: T, out: T, rows: number, cols: number, gate: T, pre: T, alpha: number, s: T, scale: number, fuse?: { next: T; drive: T }): number {
  const { native } = resolveEngine();
  if (fuse) {
    checkLength("rfloStep", "next", fuse.next, cols);
    checkLength("rfloStep", "drive", fuse.drive, rows);
  }
  if (native && P instanceof Float32Array) {
    checkLength("rfloStep", "P", P, rows * cols);
    checkLength("rfloStep", "out", out, rows * cols);
    checkLength("rfloStep", "gate", gate, rows);
    checkLength("rfloStep", "pre", pre, cols);
    checkLength("rfloStep", "s", s, rows);
    const f = (a: FArray) => a as Float32Array;
    return fuse
      ? native.rfloStep(P, f(out), rows, cols, f(gate), f(pre), alpha, f(s), scale, f(fuse.next), f(fuse.drive))
      : native.rfloStep(P, f(out), rows, cols, f(gate), f(pre), alpha, f(s), scale);
  }
  outerTrace(P, rows, cols, gate, pre, alpha);
  const norm2 = rowScaleAdd(out, P, rows, cols, s, scale);
  if (fuse) gemm(false, false, rows, 1, cols, 1, out, cols, fuse.next, 1, 0, fuse.drive, 1);
  return norm2;
}

/**
 * A zeroed array of n elements whose data starts on a 64-byte boundary when the addon is loaded (one
 * cache line; the addon's vector loops over whole rows of 400 floats then never split a load across
 * two lines, which cost RFLO's pass about 20%). A plain array otherwise.
 */
export function alignedArray(dtype: "float32" | "float64", n: number): FArray {
  const Ctor = dtype === "float64" ? Float64Array : Float32Array;
  const addon = loadAddon();
  if (!addon || typeof addon.addressMod !== "function" || n === 0) return new Ctor(n);
  const buffer = new ArrayBuffer(n * Ctor.BYTES_PER_ELEMENT + 64);
  const miss = addon.addressMod(new Uint8Array(buffer, 0, 1), 64);
  const offset = (64 - miss) % 64;
  // Backing stores start at least 8-byte aligned, so the offset keeps float64 elements aligned too.
  return offset % Ctor.BYTES_PER_ELEMENT === 0 ? new Ctor(buffer, offset, n) : new Ctor(n);
}

function distances2Kernel(x: FArray, a: FArray, b: FArray, out: Float64Array): void {
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < x.length; i++) {
    const da = x[i] - a[i];
    const db = x[i] - b[i];
    sa += da * da; // not ** 2, which V8 runs through pow()
    sb += db * db;
  }
  out[0] = sa;
  out[1] = sb;
}
const distances2_32 = specialise(distances2Kernel);
const distances2_64 = specialise(distances2Kernel);

/** out = [|x - a|^2, |x - b|^2], with differences and sums in float64 (one vectorised pass in the addon for float32). */
export function distances2<T extends FArray>(x: T, a: T, b: T, out: Float64Array): void {
  checkLength("distances2", "a", a, x.length);
  checkLength("distances2", "b", b, x.length);
  checkLength("distances2", "out", out, 2);
  const { native } = resolveEngine();
  if (x instanceof Float64Array) distances2_64(x, a, b, out);
  else if (native) native.distances2(x, a as Float32Array, b as Float32Array, out);
  else distances2_32(x, a, b, out);
}

/**
 * The addon's fused float32 kernels of the hot paths, or null when the OpenBLAS engine is not in use
 * (callers then run their TypeScript loops): the RNN's forward and backward step (lib/native/fbc_rnn.c:
 * one large product plus one pass in C per step) and online BPTT's whole per-step chain (bpttGradient
 * in lib/native/fbc_native.c). Internal: the lib's own network, loss and online-BPTT code call it.
 * @internal
 */
export function nativeKernels(): Pick<NativeAddon, "rnnForwardStep" | "rnnBackwardStep" | "bpttGradient"> | null {
  return resolveEngine().native;
}

/** y += alpha * x over whole arrays, returning |x|^2 (the addon's vectorised loop for float32; TypeScript otherwise). */
export function axpyNorm2<T extends FArray>(alpha: number, x: T, y: T): number {
  checkLength("axpyNorm2", "y", y, x.length);
  return rowScaleAdd(y, x, 1, x.length, (x instanceof Float64Array ? ONE64 : ONE32) as T, alpha);
}
const ONE32 = new Float32Array([1]);
const ONE64 = new Float64Array([1]);
