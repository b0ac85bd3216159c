/*
 * fbc_native: a small N-API addon exposing OpenBLAS's row-major GEMM to Node.
 *
 *   sgemm(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)  Float32Array
 *   dgemm(...same...)                                                    Float64Array
 *       C = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T.
 *       op(A) is m x k, op(B) is k x n, C is m x n. Typed-array byteOffset is honoured
 *       (callers may pass subarrays). Every length is checked against the dimensions and
 *       leading dimensions before OpenBLAS is called: a mismatch throws a RangeError that
 *       names the argument, so nothing is ever read or written out of bounds.
 *   setThreads(n) -> number of threads now in use;  getThreads() -> number
 *   info() -> { config, corename, threads, procs, parallel }
 *   outerTrace(P, rows, cols, gate, pre, alpha), rowScaleAdd(out, P, rows, cols, s, scale, row0),
 *   rfloStep(P, out, rows, cols, gate, pre, alpha, s, scale[, next, drive]):
 *       fused float32 loops of the local learning rules (see lib/src/kernels.ts)
 *   distances2(x, a, b, out): out = [|x - a|^2, |x - b|^2] in float64
 *   addressMod(typedArray, m): its data's address modulo m (kernels.alignedArray)
 *   bpttGradient(...): one step of online BPTT, the whole backward chain in C (see below)
 *
 * Build: scripts/build-native.sh (node-gyp bundled with npm, Debian's libopenblas-dev).
 */
#include <cblas.h>
#include <string.h>
#include "fbc_napi.h"

/* Elements needed by a rows x cols row-major matrix with leading dimension ld. */
static int64_t needed(int rows, int cols, int ld) {
  return rows == 0 || cols == 0 ? 0 : (int64_t)(rows - 1) * ld + cols;
}

static bool check_matrix(napi_env env, const char* name, const char* ldname, size_t length,
                         int rows, int cols, int ld) {
  if (ld < (cols > 1 ? cols : 1))
    return range_error(env, ldname, "leading dimension %lld is less than max(1, %lld columns)",
                       ld, cols);
  int64_t need = needed(rows, cols, ld);
  if ((int64_t)length < need)
    return range_error(env, name, "array has %lld elements, the matrix needs %lld",
                       (int64_t)length, need);
  return true;
}

/* C = beta * C over an m x n block (beta = 0 writes zeros, whatever C held). */
static void scale_c(bool dbl, int m, int n, double beta, void* C, int ldc) {
  for (int i = 0; i < m; i++) {
    if (dbl) {
      double* c = (double*)C + (size_t)i * ldc;
      for (int j = 0; j < n; j++) c[j] = beta == 0.0 ? 0.0 : beta * c[j];
    } else {
      float* c = (float*)C + (size_t)i * ldc;
      const float b = (float)beta;
      for (int j = 0; j < n; j++) c[j] = b == 0.0f ? 0.0f : b * c[j];
    }
  }
}

static napi_value gemm(napi_env env, napi_callback_info cbinfo, bool dbl) {
  size_t argc = 13;
  napi_value argv[13];
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc != 13) {
    napi_throw_type_error(env, NULL,
                          "gemm expects 13 arguments: (transA, transB, m, n, k, alpha, A, lda, B, "
                          "ldb, beta, C, ldc)");
    return NULL;
  }
  const napi_typedarray_type want = dbl ? napi_float64_array : napi_float32_array;
  bool ta, tb;
  int m, n, k, lda, ldb, ldc;
  double alpha, beta;
  void *A, *B, *C;
  size_t lenA, lenB, lenC;
  if (!get_bool(env, argv[0], "transA", &ta) || !get_bool(env, argv[1], "transB", &tb) ||
      !get_int(env, argv[2], "m", 0, &m) || !get_int(env, argv[3], "n", 0, &n) ||
      !get_int(env, argv[4], "k", 0, &k) || !get_number(env, argv[5], "alpha", &alpha) ||
      !get_array(env, argv[6], "A", want, &A, &lenA) || !get_int(env, argv[7], "lda", 1, &lda) ||
      !get_array(env, argv[8], "B", want, &B, &lenB) || !get_int(env, argv[9], "ldb", 1, &ldb) ||
      !get_number(env, argv[10], "beta", &beta) ||
      !get_array(env, argv[11], "C", want, &C, &lenC) || !get_int(env, argv[12], "ldc", 1, &ldc))
    return NULL;
  /* Stored shapes: A is m x k (k x m if transposed), B is k x n (n x k if transposed). */
  if (!check_matrix(env, "A", "lda", lenA, ta ? k : m, ta ? m : k, lda) ||
      !check_matrix(env, "B", "ldb", lenB, tb ? n : k, tb ? k : n, ldb) ||
      !check_matrix(env, "C", "ldc", lenC, m, n, ldc))
    return NULL;
  if (m == 0 || n == 0) return NULL;
  /* In BLAS, alpha = 0 (or k = 0) reads neither A nor B. OpenBLAS 0.3.21 (Debian 12, Cooperlake
   * kernels) still let NaN in A or B into C for some transpose combinations: scale C here instead. */
  if (k == 0 || (dbl ? alpha == 0.0 : (float)alpha == 0.0f)) {
    if (beta != 1.0) scale_c(dbl, m, n, beta, C, ldc);
    return NULL;
  }

  const enum CBLAS_TRANSPOSE opA = ta ? CblasTrans : CblasNoTrans;
  const enum CBLAS_TRANSPOSE opB = tb ? CblasTrans : CblasNoTrans;
  if (m == 1) {
    /* A single row: a matrix-vector product. OpenBLAS 0.3.21's gemm packs all of B on every call, which
     * makes [1 x 400] x [400 x 400] about 10x slower than gemv (batch-1 learning lives on these). */
    const int incx = ta ? lda : 1;
    if (beta == 0.0) scale_c(dbl, 1, n, 0.0, C, ldc); /* BLAS: beta = 0 overwrites, NaN included */
    const double b = beta == 0.0 ? 1.0 : beta;
    /* y = op(B)^T x: B stored n x k (transB: y = B x) or k x n (y = B^T x). */
    if (dbl)
      cblas_dgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? n : k, tb ? k : n, alpha, B, ldb, A, incx, b, C, 1);
    else
      cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? n : k, tb ? k : n, (float)alpha, B, ldb, A, incx, (float)b, C, 1);
    return NULL;
  }
  if (dbl)
    cblas_dgemm(CblasRowMajor, opA, opB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    cblas_sgemm(CblasRowMajor, opA, opB, m, n, k, (float)alpha, A, lda, B, ldb, (float)beta, C,
                ldc);
  return NULL; /* undefined */
}

static napi_value sgemm(napi_env env, napi_callback_info info) { return gemm(env, info, false); }
static napi_value dgemm(napi_env env, napi_callback_info info) { return gemm(env, info, true); }

/* ---- Fused kernels for the local learning rules (float32; float64 stays in TypeScript) ---------- */

/* outerTrace(P, rows, cols, gate, pre, alpha): P[i][j] = alpha * (gate[i] > 0) * pre[j] + (1 - alpha) * P[i][j]
 * (RFLO's eligibility trace with the ReLU derivative of the postsynaptic pre-activation as gate). */
static napi_value outer_trace(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 6;
  napi_value argv[6];
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc != 6) {
    napi_throw_type_error(env, NULL, "outerTrace expects (P, rows, cols, gate, pre, alpha)");
    return NULL;
  }
  int rows, cols;
  double alpha;
  float *P, *gate, *pre;
  if (!get_int(env, argv[1], "rows", 0, &rows) || !get_int(env, argv[2], "cols", 0, &cols) ||
      !get_f32(env, argv[0], "P", (size_t)rows * cols, &P) || !get_f32(env, argv[3], "gate", rows, &gate) ||
      !get_f32(env, argv[4], "pre", cols, &pre) || !get_number(env, argv[5], "alpha", &alpha))
    return NULL;
  const float a = (float)alpha, keep = (float)(1.0 - alpha);
  for (int i = 0; i < rows; i++) {
    float* restrict p = P + (size_t)i * cols;
    if (gate[i] > 0.0f) {
      for (int j = 0; j < cols; j++) p[j] = a * pre[j] + keep * p[j];
    } else {
      for (int j = 0; j < cols; j++) p[j] = keep * p[j];
    }
  }
  return NULL;
}

/* rowScaleAdd(out, P, rows, cols, s, scale, row0) -> |diag(s) P|_F^2 :
 * out[i][j] += scale * s[i] * P[r][j] with r = i (or r = 0 when row0 is true). */
static napi_value row_scale_add(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 7;
  napi_value argv[7], result;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc != 7) {
    napi_throw_type_error(env, NULL, "rowScaleAdd expects (out, P, rows, cols, s, scale, row0)");
    return NULL;
  }
  int rows, cols;
  double scale;
  bool row0;
  float *out, *P, *sv;
  if (!get_int(env, argv[2], "rows", 0, &rows) || !get_int(env, argv[3], "cols", 0, &cols) ||
      !get_bool(env, argv[6], "row0", &row0) ||
      !get_f32(env, argv[0], "out", (size_t)rows * cols, &out) ||
      !get_f32(env, argv[1], "P", row0 ? (size_t)cols : (size_t)rows * cols, &P) ||
      !get_f32(env, argv[4], "s", rows, &sv) || !get_number(env, argv[5], "scale", &scale))
    return NULL;
  double norm2 = 0.0;
  for (int i = 0; i < rows; i++) {
    const float* restrict p = P + (row0 ? 0 : (size_t)i * cols);
    float* restrict o = out + (size_t)i * cols;
    const float f = (float)(scale * sv[i]);
    float pp = 0.0f;
#pragma omp simd reduction(+ : pp) /* vectorised reduction (-fopenmp-simd; no OpenMP runtime) */
    for (int j = 0; j < cols; j++) {
      const float v = p[j];
      pp += v * v;
      o[j] += f * v;
    }
    norm2 += (double)sv[i] * sv[i] * pp;
  }
  NAPI_CALL(env, napi_create_double(env, norm2, &result));
  return result;
}

/* rfloStep(P, out, rows, cols, gate, pre, alpha, s, scale[, next, drive]) -> |diag(s) P|_F^2 after the update:
 * one pass over P and out doing outerTrace and rowScaleAdd together (RFLO's trace and update per step):
 *   P[i][j] = alpha * (gate[i] > 0) * pre[j] + (1 - alpha) * P[i][j];   out[i][j] += scale * s[i] * P[i][j].
 * With next ([cols]) and drive ([rows]) it also writes drive[i] = sum_j out[i][j] * next[j] from the
 * updated out, in the same pass: with out = W_rec and next = r_{k+1}, the next step's recurrent drive,
 * which then needs no pass of its own over W_rec (rnnForwardStep's `drive`). */
/* Eight floats in a vector register (GCC/Clang vector extension; aligned(4): loads need no alignment). */
typedef float v8f __attribute__((vector_size(32), aligned(4)));
typedef float v4f __attribute__((vector_size(16)));

/* The sum of a vector's lanes, in registers (lane-by-lane extraction went through the stack). */
static inline float hsum8(v8f v) {
  v4f h = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
  h += __builtin_shufflevector(h, h, 2, 3, 0, 1);
  h += __builtin_shufflevector(h, h, 1, 0, 3, 2);
  return h[0];
}

/* The rows of rfloStep. The two sums per row (|P_i|^2, and the drive) use two vector accumulators each,
 * written out with the vector extension: with one (what `omp simd reduction` gives) the loop waits on the
 * adds' latency and ran 25% slower than its memory traffic. */
static inline __attribute__((always_inline)) double rflo_rows_body(
    float* restrict P, float* restrict out, int rows, int cols, const float* restrict gate, const float* restrict pre,
    float a, float keep, const float* restrict sv, double scale, const float* restrict next, float* restrict drive) {
  double norm2 = 0.0;
  const v8f vk = {keep, keep, keep, keep, keep, keep, keep, keep};
  for (int i = 0; i < rows; i++) {
    float* restrict p = P + (size_t)i * cols;
    float* restrict o = out + (size_t)i * cols;
    const float f = (float)(scale * sv[i]);
    const float ai = gate[i] > 0.0f ? a : 0.0f;
    const v8f va = {ai, ai, ai, ai, ai, ai, ai, ai}, vf = {f, f, f, f, f, f, f, f};
    v8f p0 = {0}, p1 = {0}, d0 = {0}, d1 = {0};
    int j = 0;
    for (; j + 16 <= cols; j += 16) {
      const v8f x0 = va * *(const v8f*)(pre + j) + vk * *(const v8f*)(p + j);
      const v8f x1 = va * *(const v8f*)(pre + j + 8) + vk * *(const v8f*)(p + j + 8);
      *(v8f*)(p + j) = x0;
      *(v8f*)(p + j + 8) = x1;
      p0 += x0 * x0;
      p1 += x1 * x1;
      const v8f w0 = *(const v8f*)(o + j) + vf * x0, w1 = *(const v8f*)(o + j + 8) + vf * x1;
      *(v8f*)(o + j) = w0;
      *(v8f*)(o + j + 8) = w1;
      if (next) {
        d0 += w0 * *(const v8f*)(next + j);
        d1 += w1 * *(const v8f*)(next + j + 8);
      }
    }
    float pp = 0.0f, d = 0.0f;
    for (; j < cols; j++) {
      const float v = ai * pre[j] + keep * p[j];
      p[j] = v;
      pp += v * v;
      const float w = o[j] + f * v;
      o[j] = w;
      if (next) d += w * next[j];
    }
    pp += hsum8(p0 + p1);
    if (next) d += hsum8(d0 + d1);
    if (next) drive[i] = d;
    norm2 += (double)sv[i] * sv[i] * pp;
  }
  return norm2;
}

/* Compiled twice, with and without the drive, so that the loop carries no test of `next`. */
__attribute__((noinline, hot)) static double rflo_rows(float* restrict P, float* restrict out, int rows, int cols,
                                                       const float* restrict gate, const float* restrict pre,
                                                       float a, float keep, const float* restrict sv, double scale,
                                                       const float* restrict next, float* restrict drive) {
  /* pre and next are read once per row: copies on a cache line keep their loads from straddling two. */
  enum { MAXC = 2048 };
  float preA[MAXC] __attribute__((aligned(64))), nextA[MAXC] __attribute__((aligned(64)));
  if (cols <= MAXC) {
    memcpy(preA, pre, sizeof(float) * cols);
    pre = preA;
    if (next) {
      memcpy(nextA, next, sizeof(float) * cols);
      next = nextA;
    }
  }
  return next ? rflo_rows_body(P, out, rows, cols, gate, pre, a, keep, sv, scale, next, drive)
              : rflo_rows_body(P, out, rows, cols, gate, pre, a, keep, sv, scale, NULL, NULL);
}

static napi_value rflo_step(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 11;
  napi_value argv[11], result;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc != 9 && argc != 11) {
    napi_throw_type_error(env, NULL, "rfloStep expects (P, out, rows, cols, gate, pre, alpha, s, scale[, next, drive])");
    return NULL;
  }
  int rows, cols;
  double alpha, scale;
  float *P, *out, *gate, *pre, *sv, *next = NULL, *drive = NULL;
  if (!get_int(env, argv[2], "rows", 0, &rows) || !get_int(env, argv[3], "cols", 0, &cols) ||
      !get_f32(env, argv[0], "P", (size_t)rows * cols, &P) ||
      !get_f32(env, argv[1], "out", (size_t)rows * cols, &out) ||
      !get_f32(env, argv[4], "gate", rows, &gate) || !get_f32(env, argv[5], "pre", cols, &pre) ||
      !get_number(env, argv[6], "alpha", &alpha) || !get_f32(env, argv[7], "s", rows, &sv) ||
      !get_number(env, argv[8], "scale", &scale))
    return NULL;
  if (argc == 11 && (!get_f32(env, argv[9], "next", cols, &next) || !get_f32(env, argv[10], "drive", rows, &drive)))
    return NULL;
  const double norm2 = rflo_rows(P, out, rows, cols, gate, pre, (float)alpha, (float)(1.0 - alpha), sv, scale, next, drive);
  NAPI_CALL(env, napi_create_double(env, norm2, &result));
  return result;
}

/* addressMod(typedArray, m) -> the address of its first element modulo m (for 64-byte-aligned views:
 * kernels.alignedArray). V8 never moves an ArrayBuffer's backing store, so the answer stays true. */
static napi_value address_mod(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 2;
  napi_value argv[2], result;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  bool isTyped = false;
  if (argc == 2) NAPI_CALL(env, napi_is_typedarray(env, argv[0], &isTyped));
  if (!isTyped) return napi_throw_type_error(env, NULL, "addressMod expects (typedArray, m)"), NULL;
  void* data;
  int m;
  NAPI_CALL(env, napi_get_typedarray_info(env, argv[0], NULL, NULL, &data, NULL, NULL));
  if (!get_int(env, argv[1], "m", 1, &m)) return NULL;
  NAPI_CALL(env, napi_create_int32(env, (int32_t)((uintptr_t)data % (uintptr_t)m), &result));
  return result;
}

/* distances2(x, a, b, out) : out[0] = sum (x - a)^2, out[1] = sum (x - b)^2, differences and sums in
 * float64 (x, a, b float32 of one length; out a Float64Array of 2). An adaptation trial's update and drift
 * norms in one vectorised pass instead of a scalar JavaScript loop. */
static napi_value distances2(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc != 4) {
    napi_throw_type_error(env, NULL, "distances2 expects (x, a, b, out)");
    return NULL;
  }
  float *x, *a, *b;
  size_t n;
  if (!get_f32(env, argv[0], "x", 0, &x)) return NULL;
  NAPI_CALL(env, napi_get_typedarray_info(env, argv[0], NULL, &n, NULL, NULL, NULL));
  void* outData;
  size_t outLen;
  napi_typedarray_type t;
  bool isTyped;
  NAPI_CALL(env, napi_is_typedarray(env, argv[3], &isTyped));
  if (!isTyped) return napi_throw_type_error(env, NULL, "distances2: out must be a Float64Array"), NULL;
  NAPI_CALL(env, napi_get_typedarray_info(env, argv[3], &t, &outLen, &outData, NULL, NULL));
  if (t != napi_float64_array || outLen < 2) return napi_throw_type_error(env, NULL, "distances2: out must be a Float64Array of 2"), NULL;
  if (!get_f32(env, argv[1], "a", n, &a) || !get_f32(env, argv[2], "b", n, &b)) return NULL;
  double sa = 0.0, sb = 0.0;
#pragma omp simd reduction(+ : sa, sb)
  for (size_t i = 0; i < n; i++) {
    const double xi = x[i], da = xi - a[i], db = xi - b[i];
    sa += da * da;
    sb += db * db;
  }
  ((double*)outData)[0] = sa;
  ((double*)outData)[1] = sb;
  return NULL;
}

/* ---- Online BPTT (lib/src/rules/bptt.ts): the whole backward chain of one step in one call ---------
 * bpttGradient(k, N, nOut, stride, alpha, dt, position, recurrent, x, r, eNext, wOut, wRec, wRecT,
 *              ga, scratch, dw[, gy])
 * For the step loss l_{k+1} = |e_{k+1}|^2 / 2 of trial 0 (rows of x and r at `stride`), with
 * v = W_out^T e_{k+1} and, for j = k+1 .. 1,
 *   g_r_j = seed_j v + W_rec^T g_a_j  (second term for j <= k),  seed_j = -dt (position) or -[j = k+1],
 *   g_x_j = relu'(x_j) g_r_j + (1 - alpha) g_x_{j+1},   g_a_{j-1} = alpha g_x_j,
 * writes ga rows 0..k and dw = -sum_{j=0..k} g_a_j r_j^T. W_rec^T g_a_j uses wRecT, a transposed copy
 * of W_rec made here (the row-major NoTrans matrix-vector product is the fast one). scratch: 4N floats.
 * With `gy` ([(k+2) nOut], rows j = 1..k+1: dl/dy_j through a plant, computed by the caller), the seed term
 * seed_j v is replaced by W_out^T gy_j. */
static void transpose_f32(const float* restrict a, float* restrict t, int n) {
  const int bs = 32;
  for (int i0 = 0; i0 < n; i0 += bs)
    for (int j0 = 0; j0 < n; j0 += bs) {
      const int i1 = i0 + bs < n ? i0 + bs : n, j1 = j0 + bs < n ? j0 + bs : n;
      for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++) t[(size_t)j * n + i] = a[(size_t)i * n + j];
    }
}

static napi_value bptt_gradient(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 18;
  napi_value argv[18];
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc != 17 && argc != 18) {
    napi_throw_type_error(env, NULL,
                          "bpttGradient expects (k, N, nOut, stride, alpha, dt, position, recurrent, x, r, "
                          "eNext, wOut, wRec, wRecT, ga, scratch, dw)");
    return NULL;
  }
  int k, N, nOut, stride;
  double alpha, dt;
  bool position, recurrent;
  float *x, *r, *eNext, *wOut, *wRec, *wRecT, *ga, *scratch, *dw;
  if (!get_int(env, argv[0], "k", 0, &k) || !get_int(env, argv[1], "N", 1, &N) ||
      !get_int(env, argv[2], "nOut", 1, &nOut) || !get_int(env, argv[3], "stride", 1, &stride) ||
      !get_number(env, argv[4], "alpha", &alpha) || !get_number(env, argv[5], "dt", &dt) ||
      !get_bool(env, argv[6], "position", &position) || !get_bool(env, argv[7], "recurrent", &recurrent))
    return NULL;
  if (stride < N) return range_error(env, "stride", "%lld is less than N = %lld", stride, N), NULL;
  const size_t NN = (size_t)N * N;
  if (!get_f32(env, argv[8], "x", (size_t)(k + 1) * stride + N, &x) ||
      !get_f32(env, argv[9], "r", (size_t)k * stride + N, &r) || !get_f32(env, argv[10], "eNext", nOut, &eNext) ||
      !get_f32(env, argv[11], "wOut", (size_t)nOut * N, &wOut) || !get_f32(env, argv[12], "wRec", NN, &wRec) ||
      !get_f32(env, argv[13], "wRecT", NN, &wRecT) || !get_f32(env, argv[14], "ga", (size_t)(k + 1) * N, &ga) ||
      !get_f32(env, argv[15], "scratch", (size_t)4 * N, &scratch) || !get_f32(env, argv[16], "dw", NN, &dw))
    return NULL;
  float* gyPlant = NULL;
  if (argc == 18 && !get_f32(env, argv[17], "gy", (size_t)(k + 2) * nOut, &gyPlant)) return NULL;
  float *gx = scratch, *gxNext = scratch + N, *gr = scratch + 2 * (size_t)N, *v = scratch + 3 * (size_t)N;
  const float a = (float)alpha, keep = (float)(1.0 - alpha);
  for (int i = 0; i < N; i++) {
    double s = 0.0;
    for (int o = 0; o < nOut; o++) s += (double)wOut[(size_t)o * N + i] * eNext[o];
    v[i] = (float)s;
  }
  if (recurrent && k > 0) transpose_f32(wRec, wRecT, N);
  for (int i = 0; i < N; i++) gxNext[i] = 0.0f;
  for (int j = k + 1; j >= 1; j--) {
    const float seed = position ? (float)-dt : (j == k + 1 ? -1.0f : 0.0f);
    if (gyPlant) {
      const float* gyj = gyPlant + (size_t)j * nOut;
      for (int i = 0; i < N; i++) {
        double s = 0.0;
        for (int o = 0; o < nOut; o++) s += (double)wOut[(size_t)o * N + i] * gyj[o];
        gr[i] = (float)s;
      }
    } else {
      for (int i = 0; i < N; i++) gr[i] = seed * v[i];
    }
    if (j <= k && recurrent) cblas_sgemv(CblasRowMajor, CblasNoTrans, N, N, 1.0f, wRecT, N, ga + (size_t)j * N, 1, 1.0f, gr, 1);
    const float* restrict xj = x + (size_t)j * stride;
    float* restrict gaPrev = ga + (size_t)(j - 1) * N;
    for (int i = 0; i < N; i++) {
      const float g = (xj[i] > 0.0f ? gr[i] : 0.0f) + keep * gxNext[i];
      gx[i] = g;
      gaPrev[i] = a * g;
    }
    float* t = gx;
    gx = gxNext;
    gxNext = t;
  }
  if (recurrent)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, N, k + 1, -1.0f, ga, N, r, stride, 0.0f, dw, N);
  else
    for (size_t i = 0; i < NN; i++) dw[i] = 0.0f;
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1], result;
  int n;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "setThreads expects 1 argument");
    return NULL;
  }
  if (!get_int(env, argv[0], "n", 1, &n)) return NULL;
  openblas_set_num_threads(n);
  NAPI_CALL(env, napi_create_int32(env, openblas_get_num_threads(), &result));
  return result;
}

static napi_value get_threads(napi_env env, napi_callback_info cbinfo) {
  (void)cbinfo;
  napi_value result;
  NAPI_CALL(env, napi_create_int32(env, openblas_get_num_threads(), &result));
  return result;
}

static napi_value info(napi_env env, napi_callback_info cbinfo) {
  (void)cbinfo;
  static const char* parallel[] = {"sequential", "pthreads", "openmp"};
  int par = openblas_get_parallel();
  napi_value obj, config, corename, threads, procs, model;
  NAPI_CALL(env, napi_create_object(env, &obj));
  NAPI_CALL(env, napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config));
  NAPI_CALL(env,
            napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &corename));
  NAPI_CALL(env, napi_create_int32(env, openblas_get_num_threads(), &threads));
  NAPI_CALL(env, napi_create_int32(env, openblas_get_num_procs(), &procs));
  NAPI_CALL(env, napi_create_string_utf8(env, par >= 0 && par <= 2 ? parallel[par] : "unknown",
                                         NAPI_AUTO_LENGTH, &model));
  NAPI_CALL(env, napi_set_named_property(env, obj, "config", config));
  NAPI_CALL(env, napi_set_named_property(env, obj, "corename", corename));
  NAPI_CALL(env, napi_set_named_property(env, obj, "threads", threads));
  NAPI_CALL(env, napi_set_named_property(env, obj, "procs", procs));
  NAPI_CALL(env, napi_set_named_property(env, obj, "parallel", model));
  return obj;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  const napi_property_descriptor props[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dgemm", NULL, dgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"outerTrace", NULL, outer_trace, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rowScaleAdd", NULL, row_scale_add, NULL, NULL, NULL, napi_enumerable, NULL},
      {"distances2", NULL, distances2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addressMod", NULL, address_mod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rfloStep", NULL, rflo_step, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpttGradient", NULL, bptt_gradient, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  if (!fbc_register_rnn(env, exports)) return NULL;
  return exports;
}
