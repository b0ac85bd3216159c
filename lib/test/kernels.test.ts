import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  ADDON_PATH, Engine, FArray, _float32KernelsSpecialised, alignedArray, axpy, distances2, dot, engine, gemm, getThreads, nativeAvailable, rfloStep, scal, setEngine, setThreads,
} from "../src/kernels";

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;
const TYPES: Ctor[] = [Float64Array, Float32Array];
const ENGINES: Engine[] = ["js", "openblas"];
const COMBOS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

/** Deterministic values in [-1, 1) (an LCG; the tests must not depend on the lib's rng module). */
function filler(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

const eps = (T: Ctor) => (T === Float32Array ? 2 ** -23 : 2 ** -52);

interface Case {
  T: Ctor; transA: boolean; transB: boolean; m: number; n: number; k: number;
  alpha: number; beta: number; pad: number; offset: number;
}

/**
 * Runs gemm on matrices stored with leading dimensions padded by `pad` inside subarrays starting
 * at `offset` of larger buffers, and checks every element against a float64 triple loop; padding
 * and the elements around the subarrays must be left untouched.
 */
function check(c: Case, seed = 1): void {
  const { T, transA, transB, m, n, k, alpha, beta, pad, offset } = c;
  const rand = filler(seed);
  const [rA, cA] = transA ? [k, m] : [m, k];
  const [rB, cB] = transB ? [n, k] : [k, n];
  const lda = Math.max(1, cA) + pad, ldb = Math.max(1, cB) + pad, ldc = Math.max(1, n) + pad;
  const make = (rows: number, ld: number) => {
    const len = rows * ld;
    const buf = new T(offset + len + 3).map(() => rand());
    return { buf, view: buf.subarray(offset, offset + len) };
  };
  const a = make(rA, lda), b = make(rB, ldb), cc = make(m, ldc);
  const C0 = Float64Array.from(cc.buf);
  gemm(transA, transB, m, n, k, alpha, a.view, lda, b.view, ldb, beta, cc.view, ldc);

  const A = a.view, B = b.view, C = cc.view;
  const opA = (i: number, p: number) => (transA ? A[p * lda + i] : A[i * lda + p]);
  const opB = (p: number, j: number) => (transB ? B[j * ldb + p] : B[p * ldb + j]);
  const label = `${T.name} ${transA ? "T" : "N"}${transB ? "T" : "N"} m=${m} n=${n} k=${k} alpha=${alpha} beta=${beta} pad=${pad} offset=${offset}`;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, mag = 0;
      for (let p = 0; p < k; p++) {
        s += opA(i, p) * opB(p, j);
        mag += Math.abs(opA(i, p) * opB(p, j));
      }
      const c0 = C0[offset + i * ldc + j];
      const want = alpha * s + (beta === 0 ? 0 : beta * c0);
      const scale = Math.abs(alpha) * mag + Math.abs(beta * c0) + Math.abs(want);
      const tol = 4 * (k + 2) * eps(T) * scale + 1e-300;
      const got = C[i * ldc + j];
      assert.ok(Math.abs(got - want) <= tol, `${label}: C[${i},${j}] = ${got}, want ${want} (tol ${tol})`);
    }
  }
  // Nothing outside op(C)'s m x n elements may change: padding, and the buffer around the view.
  for (let q = 0; q < cc.buf.length; q++) {
    const inside = q >= offset && (q - offset) % ldc < n && Math.floor((q - offset) / ldc) < m;
    if (!inside) assert.equal(cc.buf[q], C0[q], `${label}: element ${q} outside C changed`);
  }
}

function withEngine(name: Engine, t: { skip(msg?: string): void }, body: () => void): void {
  if (name === "openblas" && !nativeAvailable()) {
    t.skip(`OpenBLAS addon not available: ${engine().reason ?? "unknown"}`);
    return;
  }
  setEngine(name);
  try {
    body();
  } finally {
    setEngine("auto");
  }
}

test("the addon path resolves to lib/native from lib/src (and lib/dist)", () => {
  assert.equal(ADDON_PATH, path.resolve(__dirname, "../native/build/Release/fbc_native.node"));
  const status = engine();
  if (process.env.FBC_ENGINE === "js") assert.equal(status.name, "js");
  else if (fs.existsSync(ADDON_PATH)) assert.equal(status.name, "openblas", String(status.reason));
  else assert.match(String(status.reason), /missing/);
});

test("the two engines agree on single-row products (the addon's matrix-vector path), beta = 0 included", (t) => {
  if (!nativeAvailable()) {
    t.skip(`OpenBLAS addon not available: ${engine().reason ?? "unknown"}`);
    return;
  }
  const [m, n, k] = [1, 37, 29];
  try {
    for (const T of TYPES) {
      for (const [transA, transB] of COMBOS) {
        for (const beta of [0, -0.4]) {
          const rand = filler(7);
          const lda = transA ? 3 : k; // a column of A with stride 3
          const A = new T(transA ? (k - 1) * lda + 1 : k).map(() => rand()), B = new T(k * n).map(() => rand());
          const C0 = new T(m * n).map(() => rand());
          if (beta === 0) C0[5] = NaN; // beta = 0 overwrites C, NaN included
          const results = ENGINES.map((name) => {
            setEngine(name);
            const C = C0.slice();
            gemm(transA, transB, m, n, k, 0.9, A, lda, B, transB ? k : n, beta, C, n);
            return C;
          });
          const tol = T === Float32Array ? 1e-5 : 1e-13;
          for (let q = 0; q < n; q++) {
            const [x, y] = [results[0][q], results[1][q]];
            assert.ok(Number.isFinite(y) && Math.abs(x - y) <= tol * (1 + Math.abs(y)), `${T.name} transA=${transA} transB=${transB} beta=${beta} [${q}]: js ${x} vs openblas ${y}`);
          }
        }
      }
    }
  } finally {
    setEngine("auto");
  }
});

for (const name of ENGINES) {
  test(`gemm matches a float64 triple loop (${name})`, (t) =>
    withEngine(name, t, () => {
      const sizes = [[7, 5, 3], [33, 17, 29], [1, 9, 6], [6, 1, 5], [1, 1, 1], [2, 3, 1], [5, 4, 8]];
      const scalars = [[1, 0], [0.7, -1.3], [-2, 1]];
      let seed = 1;
      for (const T of TYPES) {
        for (const [transA, transB] of COMBOS) {
          for (const [m, n, k] of sizes) {
            for (const [alpha, beta] of scalars) {
              check({ T, transA, transB, m, n, k, alpha, beta, pad: 0, offset: 0 }, seed++);
            }
            check({ T, transA, transB, m, n, k, alpha: 1.5, beta: 0.5, pad: 3, offset: 5 }, seed++);
          }
        }
      }
    }));

  test(`gemm edge cases: k = 0, m = 0, n = 0, alpha = 0 (${name})`, (t) =>
    withEngine(name, t, () => {
      for (const T of TYPES) {
        for (const [transA, transB] of COMBOS) {
          check({ T, transA, transB, m: 4, n: 3, k: 0, alpha: 1, beta: 0.5, pad: 1, offset: 2 });
          check({ T, transA, transB, m: 4, n: 3, k: 0, alpha: 1, beta: 0, pad: 0, offset: 0 });
          check({ T, transA, transB, m: 0, n: 3, k: 2, alpha: 1, beta: 0.5, pad: 0, offset: 1 });
          check({ T, transA, transB, m: 3, n: 0, k: 2, alpha: 1, beta: 0.5, pad: 0, offset: 1 });
          check({ T, transA, transB, m: 5, n: 6, k: 7, alpha: 0, beta: -0.5, pad: 2, offset: 3 });
        }
      }
    }));

  test(`gemm with beta = 0 overwrites NaN in C, alpha = 0 ignores NaN in A and B (${name})`, (t) =>
    withEngine(name, t, () => {
      for (const T of TYPES) {
        for (const [transA, transB] of COMBOS) {
          const [m, n, k] = [5, 6, 3];
          const A = new T(m * k).fill(1), B = new T(k * n).fill(2), C = new T(m * n).fill(NaN);
          gemm(transA, transB, m, n, k, 1, A, transA ? m : k, B, transB ? k : n, 0, C, n);
          assert.deepEqual(Array.from(C), new Array(m * n).fill(6));
          A.fill(NaN);
          B.fill(NaN);
          gemm(transA, transB, m, n, k, 0, A, transA ? m : k, B, transB ? k : n, 0.5, C, n);
          assert.deepEqual(Array.from(C), new Array(m * n).fill(3));
        }
      }
    }));
}

test("the two engines agree on a 64x50x40 product", (t) => {
  if (!nativeAvailable()) {
    t.skip(`OpenBLAS addon not available: ${engine().reason ?? "unknown"}`);
    return;
  }
  const [m, n, k] = [64, 50, 40];
  try {
    for (const T of TYPES) {
      for (const [transA, transB] of COMBOS) {
        const rand = filler(42);
        const A = new T(m * k).map(() => rand()), B = new T(k * n).map(() => rand());
        const C0 = new T(m * n).map(() => rand());
        const results = ENGINES.map((name) => {
          setEngine(name);
          const C = C0.slice();
          gemm(transA, transB, m, n, k, 0.9, A, transA ? m : k, B, transB ? k : n, -0.4, C, n);
          return C;
        });
        const tol = T === Float32Array ? 1e-5 : 1e-13;
        for (let q = 0; q < m * n; q++) {
          const [x, y] = [results[0][q], results[1][q]];
          assert.ok(Math.abs(x - y) <= tol * (1 + Math.abs(y)), `${T.name} transA=${transA} transB=${transB} [${q}]: js ${x} vs openblas ${y}`);
        }
      }
    }
  } finally {
    setEngine("auto");
  }
});

for (const name of ENGINES) {
  test(`bad arguments throw, naming the argument (${name})`, (t) =>
    withEngine(name, t, () => {
      const A = new Float64Array(6), B = new Float64Array(6), C = new Float64Array(4);
      const ok = (over: Partial<Record<string, unknown>>) => {
        const a = { transA: false, transB: false, m: 2, n: 2, k: 3, alpha: 1, A, lda: 3, B, ldb: 2, beta: 0, C, ldc: 2, ...over };
        return () =>
          gemm(a.transA as boolean, a.transB as boolean, a.m as number, a.n as number, a.k as number, a.alpha as number,
            a.A as FArray, a.lda as number, a.B as FArray, a.ldb as number, a.beta as number, a.C as FArray, a.ldc as number);
      };
      ok({})(); // the baseline call is valid
      const range = (argName: string) => new RegExp(`^RangeError: gemm: ${argName}\\b`);
      assert.throws(ok({ m: -1 }), range("m"));
      assert.throws(ok({ n: 1.5 }), range("n"));
      assert.throws(ok({ k: NaN }), range("k"));
      assert.throws(ok({ lda: 2 }), range("lda"));
      assert.throws(ok({ ldb: 1 }), range("ldb"));
      assert.throws(ok({ ldc: 0 }), range("ldc"));
      assert.throws(ok({ A: new Float64Array(5) }), range("A"));
      assert.throws(ok({ A: A.subarray(1) }), range("A"));
      assert.throws(ok({ B: new Float64Array(5) }), range("B"));
      assert.throws(ok({ C: new Float64Array(3) }), range("C"));
      assert.throws(ok({ lda: 4 }), range("A")); // fits lda but the array is too short: 1*4+3 = 7 > 6
      assert.throws(ok({ transA: true }), range("A")); // A stored 3x2 with lda = 3 needs 2*3+2 = 8 elements
      assert.throws(ok({ A: new Float32Array(6) }), /^TypeError: gemm: A must be a Float64Array/);
      assert.throws(ok({ C: new Float32Array(4) }), /^TypeError: gemm: A must be a Float32Array/);
      assert.throws(ok({ B: [1, 2, 3, 4, 5, 6] }), /^TypeError: gemm: B must be/);
      assert.throws(ok({ transB: 1 }), /^TypeError: gemm: transB must be a boolean/);
      const shared = new Float64Array(12);
      assert.throws(ok({ A: shared.subarray(0, 6), C: shared.subarray(5, 9) }), /^RangeError: gemm: C overlaps A/);
      assert.throws(ok({ B: shared.subarray(4, 10), C: shared.subarray(0, 5) }), /^RangeError: gemm: C overlaps B/);
      ok({ A: shared.subarray(0, 6), B: shared.subarray(0, 6), C: shared.subarray(6, 10) })(); // A and B may share
    }));
}

test("the native addon validates its arguments too", (t) => {
  if (!nativeAvailable()) {
    t.skip("OpenBLAS addon not available");
    return;
  }
  const addon = require(ADDON_PATH);
  const A = new Float32Array(6), B = new Float32Array(6), C = new Float32Array(4);
  const call = (over: Record<string, unknown>) => {
    const a: Record<string, unknown> = { ta: false, tb: false, m: 2, n: 2, k: 3, alpha: 1, A, lda: 3, B, ldb: 2, beta: 0, C, ldc: 2, ...over };
    return () => addon.sgemm(a.ta, a.tb, a.m, a.n, a.k, a.alpha, a.A, a.lda, a.B, a.ldb, a.beta, a.C, a.ldc);
  };
  call({})();
  assert.throws(call({ m: -1 }), (e: Error) => e instanceof RangeError && /^m must be/.test(e.message));
  assert.throws(call({ k: 2.5 }), (e: Error) => e instanceof RangeError && /^k must be/.test(e.message));
  assert.throws(call({ lda: 2 }), (e: Error) => e instanceof RangeError && /^lda:/.test(e.message));
  assert.throws(call({ A: A.subarray(1) }), (e: Error) => e instanceof RangeError && /^A:/.test(e.message));
  assert.throws(call({ B: new Float32Array(5) }), (e: Error) => e instanceof RangeError && /^B:/.test(e.message));
  assert.throws(call({ C: C.subarray(0, 3) }), (e: Error) => e instanceof RangeError && /^C:/.test(e.message));
  assert.throws(call({ ldc: 1 }), (e: Error) => e instanceof RangeError && /^ldc:/.test(e.message));
  assert.throws(call({ A: new Float64Array(6) }), (e: Error) => e instanceof TypeError && /^A must be a Float32Array/.test(e.message));
  assert.throws(call({ ta: 0 }), (e: Error) => e instanceof TypeError && /^transA must be a boolean/.test(e.message));
  assert.throws(() => addon.dgemm(false), TypeError);
  // byteOffset is honoured: C = A(1x1) * B(1x1) on subarrays.
  const buf = new Float64Array([9, 2, 9, 3, 9, 0]);
  addon.dgemm(false, false, 1, 1, 1, 1, buf.subarray(1, 2), 1, buf.subarray(3, 4), 1, 0, buf.subarray(5), 1);
  assert.deepEqual(Array.from(buf), [9, 2, 9, 3, 9, 6]);
});

test("engine selection and threads", (t) => {
  assert.throws(() => setEngine("gpu" as Engine), /unknown engine/);
  setEngine("js");
  assert.deepEqual([engine().name, engine().reason], ["js", 'setEngine("js")']);
  assert.equal(`${engine()}`, 'js (setEngine("js"))', "reads well in a template string");
  setEngine("auto");
  assert.throws(() => setThreads(0), RangeError);
  if (!nativeAvailable()) {
    assert.throws(() => setEngine("openblas"), /the "openblas" engine is unavailable/);
    t.skip("OpenBLAS addon not available: thread control not tested");
    return;
  }
  const before = getThreads();
  try {
    assert.equal(setThreads(1), 1);
    assert.equal(getThreads(), 1);
    setEngine("openblas");
    const status = engine();
    assert.equal(status.name, "openblas");
    assert.match(status.openblas!.config, /OpenBLAS/);
    assert.match(String(status), /^openblas \(OpenBLAS [0-9.]+ on \w+, 1 thread\)$/);
  } finally {
    setThreads(before);
    setEngine("auto");
  }
});

test("Float32 JS kernels are separate compiled copies (monomorphic type feedback)", () => {
  assert.equal(_float32KernelsSpecialised, true);
});

test("vector helpers: axpy, dot, scal", () => {
  for (const T of TYPES) {
    const x = T.from([1, 2, 3, 4, 5]), y = T.from([1, 1, 1, 1, 1]);
    axpy(2, x, y);
    assert.deepEqual(Array.from(y), [3, 5, 7, 9, 11]);
    assert.equal(dot(x, y), 3 + 10 + 21 + 36 + 55);
    scal(0.5, y);
    assert.deepEqual(Array.from(y), [1.5, 2.5, 3.5, 4.5, 5.5]);
    y.fill(NaN);
    scal(0, y);
    assert.deepEqual(Array.from(y), [0, 0, 0, 0, 0]);
    assert.throws(() => axpy(1, x, y.subarray(1)), /^RangeError: axpy: x has 5 elements but y has 4/);
    assert.throws(() => dot(x.subarray(2), y), /^RangeError: dot/);
  }
  assert.throws(() => axpy(1, new Float32Array(2), new Float64Array(2) as unknown as Float32Array), TypeError);
});

test("rfloStep's fused drive equals the updated matrix times next; distances2; aligned arrays (both engines, odd sizes)", () => {
  for (const e of ENGINES) {
    if (e === "openblas" && !nativeAvailable()) continue;
    setEngine(e);
    try {
      for (const [rows, cols] of [[37, 45], [16, 16], [3, 70]] as const) {
        const rnd = filler(rows * 100 + cols);
        const fill = (n: number) => Float32Array.from({ length: n }, rnd);
        const P = fill(rows * cols), W = fill(rows * cols), gate = fill(rows), pre = fill(cols), s = fill(rows), next = fill(cols);
        const P2 = P.slice(), W2 = W.slice();
        const drive = new Float32Array(rows);
        const n1 = rfloStep(P, W, rows, cols, gate, pre, 0.2, s, 0.5, { next, drive });
        const n2 = rfloStep(P2, W2, rows, cols, gate, pre, 0.2, s, 0.5);
        assert.deepEqual(P, P2, `${e}: the trace is the same with or without the drive`);
        assert.deepEqual(W, W2, `${e}: the update is the same with or without the drive`);
        assert.ok(Math.abs(n1 - n2) <= 1e-6 * n2, `${e}: norm ${n1} vs ${n2}`);
        for (let i = 0; i < rows; i++) {
          let d = 0;
          for (let j = 0; j < cols; j++) d += W[i * cols + j] * next[j];
          assert.ok(Math.abs(drive[i] - d) <= 1e-5 * (1 + Math.abs(d)), `${e} ${rows}x${cols}: drive[${i}] ${drive[i]} vs ${d}`);
        }
        // The norm is |diag(s) P|_F^2 of the new trace.
        let want = 0;
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) want += (s[i] * P[i * cols + j]) ** 2;
        assert.ok(Math.abs(n1 - want) <= 1e-5 * want, `${e}: norm ${n1} vs ${want}`);
      }
      const x = Float32Array.from({ length: 1001 }, filler(1)), a = Float32Array.from({ length: 1001 }, filler(2)), b = Float32Array.from({ length: 1001 }, filler(3));
      const out = new Float64Array(2);
      distances2(x, a, b, out);
      let da = 0, db = 0;
      for (let i = 0; i < x.length; i++) { da += (x[i] - a[i]) ** 2; db += (x[i] - b[i]) ** 2; }
      assert.ok(Math.abs(out[0] - da) <= 1e-12 * da && Math.abs(out[1] - db) <= 1e-12 * db, `${e}: distances2 ${out} vs ${da}, ${db}`);
      assert.throws(() => distances2(x, a.subarray(0, 10), b, out), /distances2: a has 10 elements/);
    } finally {
      setEngine("auto");
    }
  }
  for (const dtype of ["float32", "float64"] as const) {
    for (const n of [0, 1, 7, 160000]) {
      const arr = alignedArray(dtype, n);
      assert.equal(arr.length, n);
      assert.equal(arr instanceof Float64Array, dtype === "float64");
      assert.ok(arr.every((v) => v === 0), "zeroed");
    }
  }
  if (nativeAvailable()) {
    const addon = require(ADDON_PATH);
    for (let k = 0; k < 5; k++) assert.equal(addon.addressMod(alignedArray("float32", 1000 + k), 64), 0, "starts on a 64-byte boundary");
  }
});
