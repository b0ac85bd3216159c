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
 *   rfloStep(P, out, rows, cols, gate, pre, alpha, s, scale):
 *       fused float32 loops of the local learning rules (see lib/src/kernels.ts)
 *   bpttGradient(...): one step of online BPTT, the whole backward chain in C (see below)
 *
 * Build: scripts/build-native.sh (node-gyp bundled with npm, Debian's libopenblas-dev).
 */
#include <cblas.h>
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

/* rfloStep(P, out, rows, cols, gate, pre, alpha, s, scale) -> |diag(s) P|_F^2 after the update:
 * one pass over P and out doing outerTrace and rowScaleAdd together (RFLO's trace and update per step):
 *   P[i][j] = alpha * (gate[i] > 0) * pre[j] + (1 - alpha) * P[i][j];   out[i][j] += scale * s[i] * P[i][j]. */
static napi_value rflo_step(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 9;
  napi_value argv[9], result;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc != 9) {
    napi_throw_type_error(env, NULL, "rfloStep expects (P, out, rows, cols, gate, pre, alpha, s, scale)");
    return NULL;
  }
  int rows, cols;
  double alpha, scale;
  float *P, *out, *gate, *pre, *sv;
  if (!get_int(env, argv[2], "rows", 0, &rows) || !get_int(env, argv[3], "cols", 0, &cols) ||
      !get_f32(env, argv[0], "P", (size_t)rows * cols, &P) ||
      !get_f32(env, argv[1], "out", (size_t)rows * cols, &out) ||
      !get_f32(env, argv[4], "gate", rows, &gate) || !get_f32(env, argv[5], "pre", cols, &pre) ||
      !get_number(env, argv[6], "alpha", &alpha) || !get_f32(env, argv[7], "s", rows, &sv) ||
      !get_number(env, argv[8], "scale", &scale))
    return NULL;
  const float a = (float)alpha, keep = (float)(1.0 - alpha);
  double norm2 = 0.0;
  for (int i = 0; i < rows; i++) {
    float* restrict p = P + (size_t)i * cols;
    float* restrict o = out + (size_t)i * cols;
    const float f = (float)(scale * sv[i]);
    const float ai = gate[i] > 0.0f ? a : 0.0f;
    float pp = 0.0f;
#pragma omp simd reduction(+ : pp)
    for (int j = 0; j < cols; j++) {
      const float v = ai * pre[j] + keep * p[j];
      p[j] = v;
      pp += v * v;
      o[j] += f * v;
    }
    norm2 += (double)sv[i] * sv[i] * pp;
  }
  NAPI_CALL(env, napi_create_double(env, norm2, &result));
  return result;
}

/* ---- Online BPTT (lib/src/rules/bptt.ts): the whole backward chain of one step in one call ---------
 * bpttGradient(k, N, nOut, stride, alpha, dt, position, recurrent, x, r, eNext, wOut, wRec, wRecT,
 *              ga, scratch, dw)
 * For the step loss l_{k+1} = |e_{k+1}|^2 / 2 of trial 0 (rows of x and r at `stride`), with
 * v = W_out^T e_{k+1} and, for j = k+1 .. 1,
 *   g_r_j = seed_j v + W_rec^T g_a_j  (second term for j <= k),  seed_j = -dt (position) or -[j = k+1],
 *   g_x_j = relu'(x_j) g_r_j + (1 - alpha) g_x_{j+1},   g_a_{j-1} = alpha g_x_j,
 * writes ga rows 0..k and dw = -sum_{j=0..k} g_a_j r_j^T. W_rec^T g_a_j uses wRecT, a transposed copy
 * of W_rec made here (the row-major NoTrans matrix-vector product is the fast one). scratch: 4N floats. */
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
  size_t argc = 17;
  napi_value argv[17];
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc != 17) {
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
    for (int i = 0; i < N; i++) gr[i] = seed * v[i];
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
      {"rfloStep", NULL, rflo_step, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpttGradient", NULL, bptt_gradient, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  if (!fbc_register_rnn(env, exports)) return NULL;
  return exports;
}
