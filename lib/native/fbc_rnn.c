/*
 * The rate RNN's forward and backward step as one call each (float32), so that a step is one large
 * OpenBLAS product plus one fused pass over the batch in C, instead of several small products and
 * TypeScript loops. Same equations as lib/src/network.ts (stepRollout) and lib/src/loss.ts
 * (lossGradient); the TypeScript versions remain the reference and the fallback, and the tests check
 * that both agree within float32 rounding.
 *
 * rnnForwardStep(k, B, N, nIn, nOut, alpha, dt, feedback, position, recurrent,
 *                x, r, u, eps, c, y, v, e, e0, ref, push, wIn, wRec, F, b, wOut, bOut[, drive]) -> sum of r_{k+1}^2
 *   x_{k+1} = (1-a) x_k + a (W_in u_k + W_rec r_k + [c_k] + b),  c_k = F eps_k,  r = relu(x),
 *   y_{k+1} = W_out r_{k+1} + b_out,  v_{k+1} = y_{k+1} + p_k,  e_{k+1} = e_k + dt (v*_k - v_{k+1})
 *   (or v*_k - v_{k+1} without `position`). Arrays are the rollout's, time-major; eps_k must be set.
 *   `drive` ([B N], optional; null or absent: computed here) is W_rec r_k, already computed by the caller.
 *
 * rnnBackwardStep(k, T, B, N, nIn, nOut, alpha, dt, rateScale, position, recurrent, feedbackGrad,
 *                 feedbackOn, fbDelay, x, r, u, eps, ga, ge, gy, gxNext, gr, wRec, wOut, F, acc[, gyGiven[, fbNow, fbPrev]])
 *   one step k (T >= k >= 1) of lossGradient's backward loop: g_y_k (unless gyGiven: then gy[k] holds it
 *   already, from a plant's backward step, and ge[k] is used only for the integrator), g_r_k, g_x_k (kept in gxNext),
 *   g_a_{k-1} (written into ga), the fed-back and integrated error adjoints (into ge), and the small
 *   weight gradients accumulated in float64 in acc = [b (N) | W_in^T (nIn N) | W_fb^T (nOut N) |
 *   W_out (nOut N) | b_out (nOut)]. W_rec's gradient stays one large product after the loop.
 *   The fed-back error's adjoint F^T g_a_{k-1} reaches ge[j] (j = k-1-fbDelay >= 1) times fbNow and ge[j-1]
 *   times fbPrev (defaults 1 and 0; velocity feedback eps = fbNow E[j] + fbPrev E[j-1], lib/src/network.ts).
 */
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "fbc_napi.h"

/* ---- Two-way row split --------------------------------------------------------------------------
 * A batch step splits its rows between this thread and one helper thread; each half does its own
 * single-threaded OpenBLAS product and its fused pass. That parallelises the fused passes too, and avoids
 * OpenBLAS handing every product to its second thread and back (measured: about half of a step's time
 * beyond the products themselves). Used when OpenBLAS has >= 2 threads and the batch has >= 32 rows;
 * FBC_SPLIT=0 in the environment turns it off. */
typedef void (*part_fn)(void* ctx, int part);
static struct {
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  part_fn fn;
  void* ctx;
  unsigned long issued, finished;
  int state; /* 0: not started, 1: running, -1: could not start */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0};

static void* pool_worker(void* unused) {
  (void)unused;
  unsigned long seen = 0;
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    while (pool.issued == seen) pthread_cond_wait(&pool.go, &pool.mu);
    seen = pool.issued;
    part_fn fn = pool.fn;
    void* ctx = pool.ctx;
    pthread_mutex_unlock(&pool.mu);
    fn(ctx, 1);
    pthread_mutex_lock(&pool.mu);
    pool.finished = seen;
    pthread_cond_signal(&pool.done);
  }
  return NULL;
}

/* Whether to split, and if so, that the helper runs (started on first use). */
static bool split_rows(int B) {
  static int enabled = -1;
  if (enabled < 0) {
    const char* v = getenv("FBC_SPLIT");
    enabled = !(v && v[0] == '0');
  }
  if (!enabled || B < 32 || openblas_get_num_threads() < 2) return false;
  if (pool.state == 0) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pool.state = pthread_create(&th, &attr, pool_worker, NULL) == 0 ? 1 : -1;
    pthread_attr_destroy(&attr);
  }
  return pool.state == 1;
}

/* Runs fn(ctx, 0) here and fn(ctx, 1) on the helper, with OpenBLAS single-threaded meanwhile. */
static void run_split(part_fn fn, void* ctx) {
  const int threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
  pthread_mutex_lock(&pool.mu);
  pool.fn = fn;
  pool.ctx = ctx;
  const unsigned long ticket = ++pool.issued;
  pthread_cond_signal(&pool.go);
  pthread_mutex_unlock(&pool.mu);
  fn(ctx, 0);
  pthread_mutex_lock(&pool.mu);
  while (pool.finished != ticket) pthread_cond_wait(&pool.done, &pool.mu);
  pthread_mutex_unlock(&pool.mu);
  openblas_set_num_threads(threads);
}

/* Column `col` of a row-major [N x n] matrix, as a contiguous vector (for loops that vectorise over i). */
static void column(const float* m, int N, int n, int col, float* out) {
  for (int i = 0; i < N; i++) out[i] = m[(size_t)i * n + col];
}

static float dot(const float* restrict a, const float* restrict b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s) /* vectorised reduction (-fopenmp-simd; no OpenMP runtime) */
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

#define MAX_IO 16 /* nIn and nOut are tiny (3 and 2); this bounds the per-row buffers */

struct forward_ctx {
  int k, B, N, nIn, nOut;
  float alpha;
  bool feedback, recurrent;
  float *x, *r, *u, *eps, *c, *y;
  const float *wRec, *bias, *wOut, *bOut, *cols, *drive;
  double sumR2[2];
};

/* Rows b0..b1-1 of one forward step: the recurrent product and the fused pass. */
__attribute__((noinline, hot)) static void forward_rows(struct forward_ctx* f, int b0, int b1, double* sumOut) {
  const int k = f->k, B = f->B, N = f->N, nIn = f->nIn, nOut = f->nOut;
  const size_t BN = (size_t)B * N, BO = (size_t)B * nOut, BI = (size_t)B * nIn;
  const int rows = b1 - b0;
  if (rows <= 0) return;
  float* xNext = f->x + (k + 1) * BN + (size_t)b0 * N;
  const float* rPrev = f->r + k * BN + (size_t)b0 * N;
  if (f->recurrent && f->drive) /* W_rec r_k computed by the caller (rfloStep's fused drive) */
    memcpy(xNext, f->drive + (size_t)b0 * N, sizeof(float) * (size_t)rows * N);
  else if (f->recurrent && rows == 1) { /* gemv: OpenBLAS 0.3.21's gemm packs W_rec on every call */
    memset(xNext, 0, sizeof(float) * N); /* so that beta = 1 below never lets an old NaN through */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, N, N, 1.0f, f->wRec, N, rPrev, 1, 1.0f, xNext, 1);
  } else if (f->recurrent)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, N, 1.0f, rPrev, N, f->wRec, N, 0.0f, xNext, N);
  else
    memset(xNext, 0, sizeof(float) * (size_t)rows * N);
  const float a = f->alpha, keep = 1.0f - f->alpha, fb = f->feedback ? 1.0f : 0.0f;
  const float* cols = f->cols;
  const float* bias = f->bias;
  float* yk = f->y + (k + 1) * BO;
  double sumR2 = 0.0;
  for (int bi = b0; bi < b1; bi++) {
    const float* ub = f->u + k * BI + (size_t)bi * nIn;
    const float* eb = f->eps + k * BO + (size_t)bi * nOut;
    float* restrict xr = f->x + (k + 1) * BN + (size_t)bi * N;
    const float* restrict xp = f->x + k * BN + (size_t)bi * N;
    float* restrict rr = f->r + (k + 1) * BN + (size_t)bi * N;
    float* restrict cr = f->c + k * BN + (size_t)bi * N;
    for (int i = 0; i < N; i++) cr[i] = 0.0f;
    for (int o = 0; o < nOut; o++) {
      const float* fo = cols + (size_t)(nIn + o) * N;
      const float eo = eb[o];
      for (int i = 0; i < N; i++) cr[i] += eo * fo[i];
    }
    for (int i = 0; i < N; i++) xr[i] += bias[i] + fb * cr[i];
    for (int m = 0; m < nIn; m++) {
      const float* wm = cols + (size_t)m * N;
      const float um = ub[m];
      for (int i = 0; i < N; i++) xr[i] += um * wm[i];
    }
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < N; i++) {
      const float xv = keep * xp[i] + a * xr[i];
      const float rv = xv > 0.0f ? xv : 0.0f;
      xr[i] = xv;
      rr[i] = rv;
      s += rv * rv;
    }
    sumR2 += s;
    for (int o = 0; o < nOut; o++) yk[(size_t)bi * nOut + o] = dot(f->wOut + (size_t)o * N, rr, N) + f->bOut[o];
  }
  *sumOut = sumR2;
}

static void forward_part(void* ctx, int part) {
  struct forward_ctx* f = ctx;
  const int mid = f->B / 2;
  forward_rows(f, part ? mid : 0, part ? f->B : mid, &f->sumR2[part]);
}

static napi_value rnn_forward_step(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 28;
  napi_value argv[28], result;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc != 27 && argc != 28) {
    napi_throw_type_error(env, NULL, "rnnForwardStep expects 27 or 28 arguments (see lib/native/fbc_rnn.c)");
    return NULL;
  }
  int k, B, N, nIn, nOut;
  double alpha, dt;
  bool feedback, position, recurrent;
  if (!get_int(env, argv[0], "k", 0, &k) || !get_int(env, argv[1], "B", 1, &B) || !get_int(env, argv[2], "N", 1, &N) ||
      !get_int(env, argv[3], "nIn", 1, &nIn) || !get_int(env, argv[4], "nOut", 1, &nOut) ||
      !get_number(env, argv[5], "alpha", &alpha) || !get_number(env, argv[6], "dt", &dt) ||
      !get_bool(env, argv[7], "feedback", &feedback) || !get_bool(env, argv[8], "position", &position) ||
      !get_bool(env, argv[9], "recurrent", &recurrent))
    return NULL;
  if (nIn > MAX_IO || nOut > MAX_IO) return range_error(env, "nIn/nOut", "must be <= 16, got %lld / %lld", nIn, nOut), NULL;
  const size_t BN = (size_t)B * N, BO = (size_t)B * nOut, BI = (size_t)B * nIn;
  float *x, *r, *u, *eps, *c, *y, *v, *e, *e0, *ref, *push, *wIn, *wRec, *F, *bias, *wOut, *bOut;
  if (!get_f32(env, argv[10], "x", (k + 2) * BN, &x) || !get_f32(env, argv[11], "r", (k + 2) * BN, &r) ||
      !get_f32(env, argv[12], "u", (k + 1) * BI, &u) || !get_f32(env, argv[13], "eps", (k + 1) * BO, &eps) ||
      !get_f32(env, argv[14], "c", (k + 1) * BN, &c) || !get_f32(env, argv[15], "y", (k + 2) * BO, &y) ||
      !get_f32(env, argv[16], "v", (k + 2) * BO, &v) || !get_f32(env, argv[17], "e", (k + 2) * BO, &e) ||
      !get_f32(env, argv[18], "e0", BO, &e0) || !get_f32(env, argv[19], "ref", (k + 1) * BO, &ref) ||
      !get_f32(env, argv[20], "push", (k + 1) * BO, &push) || !get_f32(env, argv[21], "wIn", (size_t)N * nIn, &wIn) ||
      !get_f32(env, argv[22], "wRec", (size_t)N * N, &wRec) || !get_f32(env, argv[23], "F", (size_t)N * nOut, &F) ||
      !get_f32(env, argv[24], "b", N, &bias) || !get_f32(env, argv[25], "wOut", (size_t)nOut * N, &wOut) ||
      !get_f32(env, argv[26], "bOut", nOut, &bOut))
    return NULL;
  float* drive = NULL;
  if (argc == 28) {
    napi_valuetype t;
    NAPI_CALL(env, napi_typeof(env, argv[27], &t));
    if (t != napi_null && t != napi_undefined && !get_f32(env, argv[27], "drive", BN, &drive)) return NULL;
  }

  float* cols = malloc(sizeof(float) * (size_t)N * (nIn + nOut)); /* W_in and F by column */
  if (!cols) return napi_throw_error(env, NULL, "rnnForwardStep: out of memory"), NULL;
  for (int m = 0; m < nIn; m++) column(wIn, N, nIn, m, cols + (size_t)m * N);
  for (int o = 0; o < nOut; o++) column(F, N, nOut, o, cols + (size_t)(nIn + o) * N);
  struct forward_ctx fc = {k, B, N, nIn, nOut, (float)alpha, feedback, recurrent, x, r, u, eps, c, y, wRec, bias, wOut, bOut, cols, drive, {0, 0}};
  if (split_rows(B))
    run_split(forward_part, &fc);
  else
    forward_rows(&fc, 0, B, &fc.sumR2[0]);
  free(cols);
  const double sumR2 = fc.sumR2[0] + fc.sumR2[1];
  const float* yk = y + (k + 1) * BO;
  float* vk = v + (k + 1) * BO;
  float* eNext = e + (k + 1) * BO;
  const float* ePrev = k == 0 ? e0 : e + k * BO;
  const float* refk = ref + k * BO;
  const float* pushk = push + k * BO;
  const float fdt = (float)dt;
  for (size_t idx = 0; idx < BO; idx++) {
    vk[idx] = yk[idx] + pushk[idx];
    eNext[idx] = position ? ePrev[idx] + fdt * (refk[idx] - vk[idx]) : refk[idx] - vk[idx];
  }
  NAPI_CALL(env, napi_create_double(env, sumR2, &result));
  return result;
}

struct backward_ctx {
  int k, T, B, N, nIn, nOut, target;
  float alpha, rateScale, fbNow, fbPrev;
  bool recurrent, feedbackGrad, feedbackOn;
  const float *x, *r, *u, *eps, *wRec, *wOut, *Fcols;
  float *ga, *ge, *gy, *gxNext, *gr;
  double* acc[2]; /* per part: [b (N) | W_in^T (nIn N) | W_fb^T (nOut N) | W_out (nOut N) | b_out (nOut)] */
};

/* Rows b0..b1-1 of one backward step: the product g_a_k W_rec and the fused pass, accumulating into acc.
 * Kept apart from argument parsing: inlined into the parser, GCC 12 left all of its loops scalar (about
 * 4x slower); as its own hot function they vectorise. */
__attribute__((noinline, hot)) static void backward_rows(struct backward_ctx* c, int b0, int b1, double* acc) {
  const int k = c->k, B = c->B, N = c->N, nIn = c->nIn, nOut = c->nOut, target = c->target;
  const size_t BN = (size_t)B * N, BO = (size_t)B * nOut, BI = (size_t)B * nIn;
  const int rows = b1 - b0;
  if (rows <= 0) return;
  double *gB = acc, *gWinT = acc + N, *gWfbT = gWinT + (size_t)nIn * N, *gWout = gWfbT + (size_t)nOut * N,
         *gBout = gWout + (size_t)nOut * N;
  float* gr = c->gr + (size_t)b0 * N;
  if (k < c->T && c->recurrent)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, N, N, 1.0f, c->ga + (size_t)k * BN + (size_t)b0 * N, N,
                c->wRec, N, 0.0f, gr, N);
  else
    memset(gr, 0, sizeof(float) * (size_t)rows * N);
  const float a = c->alpha, keep = 1.0f - c->alpha, rs = c->rateScale;
  const float* gyK = c->gy + (size_t)k * BO;
  const float* xk = c->x + (size_t)k * BN;
  const float* rk = c->r + (size_t)k * BN;
  float* gaPrev = c->ga + (size_t)(k - 1) * BN;
  const float* uPrev = c->u + (size_t)(k - 1) * BI;
  const float* epsPrev = c->eps + (size_t)(k - 1) * BO;
  for (int bi = b0; bi < b1; bi++) {
    float* restrict grow = c->gr + (size_t)bi * N;
    const float* gyb = gyK + (size_t)bi * nOut;
    for (int o = 0; o < nOut; o++) {
      const float* wo = c->wOut + (size_t)o * N;
      const float go = gyb[o];
      for (int i = 0; i < N; i++) grow[i] += go * wo[i];
    }
    const float* restrict xb = xk + (size_t)bi * N;
    const float* restrict rb = rk + (size_t)bi * N;
    float* restrict gxn = c->gxNext + (size_t)bi * N;
    float* restrict gap = gaPrev + (size_t)bi * N;
    for (int i = 0; i < N; i++) {
      const float on = xb[i] > 0.0f ? 1.0f : 0.0f; /* relu'; branch-free so that the loop vectorises */
      const float g = on * (grow[i] + rs * rb[i]) + keep * gxn[i];
      gxn[i] = g;
      gap[i] = a * g;
    }
    for (int i = 0; i < N; i++) gB[i] += gap[i];
    for (int m = 0; m < nIn; m++) {
      const double um = uPrev[(size_t)bi * nIn + m];
      double* w = gWinT + (size_t)m * N;
      for (int i = 0; i < N; i++) w[i] += um * gap[i];
    }
    if (c->feedbackOn)
      for (int o = 0; o < nOut; o++) {
        const double eo = epsPrev[(size_t)bi * nOut + o];
        double* w = gWfbT + (size_t)o * N;
        for (int i = 0; i < N; i++) w[i] += eo * gap[i];
      }
    for (int o = 0; o < nOut; o++) {
      const double go = gyb[o];
      double* w = gWout + (size_t)o * N;
      for (int i = 0; i < N; i++) w[i] += go * rb[i];
      gBout[o] += go;
    }
    if (c->feedbackGrad && target >= 1)
      for (int o = 0; o < nOut; o++) {
        const float g = dot(gap, c->Fcols + (size_t)o * N, N);
        c->ge[(size_t)target * BO + (size_t)bi * nOut + o] += c->fbNow * g;
        if (c->fbPrev != 0.0f) c->ge[(size_t)(target - 1) * BO + (size_t)bi * nOut + o] += c->fbPrev * g;
      }
  }
}

static void backward_part(void* ctx, int part) {
  struct backward_ctx* c = ctx;
  const int mid = c->B / 2;
  backward_rows(c, part ? mid : 0, part ? c->B : mid, c->acc[part]);
}

/* One backward step (see the top of this file); false when out of memory. */
static bool backward_step(int k, int T, int B, int N, int nIn, int nOut, double alpha, double dt, double rateScale,
                          bool position, bool recurrent, bool feedbackGrad, bool feedbackOn, int fbDelay,
                          const float* x, const float* r, const float* u, const float* eps, float* ga, float* ge, float* gy,
                          float* gxNext, float* gr, const float* wRec, const float* wOut, const float* F, double* acc, bool gyGiven,
                          double fbNow, double fbPrev) {
  const size_t BO = (size_t)B * nOut, accLen = (size_t)N * (1 + nIn + 2 * nOut) + nOut;
  float* Fcols = malloc(sizeof(float) * (size_t)N * nOut);
  if (!Fcols) return false;
  for (int o = 0; o < nOut; o++) column(F, N, nOut, o, Fcols + (size_t)o * N);
  const float* geK = ge + (size_t)k * BO;
  float* gyK = gy + (size_t)k * BO;
  if (!gyGiven)
    for (size_t idx = 0; idx < BO; idx++) gyK[idx] = position ? (float)-dt * geK[idx] : -geK[idx];
  struct backward_ctx c = {k, T, B, N, nIn, nOut, k - 1 - fbDelay, (float)alpha, (float)rateScale, (float)fbNow, (float)fbPrev, recurrent, feedbackGrad,
                           feedbackOn, x, r, u, eps, wRec, wOut, Fcols, ga, ge, gy, gxNext, gr, {acc, NULL}};
  if (split_rows(B) && (c.acc[1] = calloc(accLen, sizeof(double)))) {
    run_split(backward_part, &c);
    for (size_t i = 0; i < accLen; i++) acc[i] += c.acc[1][i];
    free(c.acc[1]);
  } else {
    backward_rows(&c, 0, B, acc);
  }
  free(Fcols);
  if (position) {
    float* gePrev = ge + (size_t)(k - 1) * BO;
    for (size_t idx = 0; idx < BO; idx++) gePrev[idx] += geK[idx];
  }
  return true;
}

static napi_value rnn_backward_step(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 30;
  napi_value argv[30];
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc != 27 && argc != 28 && argc != 30) {
    napi_throw_type_error(env, NULL, "rnnBackwardStep expects 27, 28 or 30 arguments (see lib/native/fbc_rnn.c)");
    return NULL;
  }
  bool gyGiven = false;
  double fbNow = 1.0, fbPrev = 0.0;
  if (argc >= 28 && !get_bool(env, argv[27], "gyGiven", &gyGiven)) return NULL;
  if (argc == 30 && (!get_number(env, argv[28], "fbNow", &fbNow) || !get_number(env, argv[29], "fbPrev", &fbPrev))) return NULL;
  int k, T, B, N, nIn, nOut, fbDelay;
  double alpha, dt, rateScale;
  bool position, recurrent, feedbackGrad, feedbackOn;
  if (!get_int(env, argv[0], "k", 1, &k) || !get_int(env, argv[1], "T", 1, &T) || !get_int(env, argv[2], "B", 1, &B) ||
      !get_int(env, argv[3], "N", 1, &N) || !get_int(env, argv[4], "nIn", 1, &nIn) || !get_int(env, argv[5], "nOut", 1, &nOut) ||
      !get_number(env, argv[6], "alpha", &alpha) || !get_number(env, argv[7], "dt", &dt) ||
      !get_number(env, argv[8], "rateScale", &rateScale) || !get_bool(env, argv[9], "position", &position) ||
      !get_bool(env, argv[10], "recurrent", &recurrent) || !get_bool(env, argv[11], "feedbackGrad", &feedbackGrad) ||
      !get_bool(env, argv[12], "feedbackOn", &feedbackOn) || !get_int(env, argv[13], "fbDelay", 0, &fbDelay))
    return NULL;
  if (k > T) return range_error(env, "k", "%lld is larger than T = %lld", k, T), NULL;
  const size_t BN = (size_t)B * N, BO = (size_t)B * nOut, BI = (size_t)B * nIn, TN = (size_t)T;
  float *x, *r, *u, *eps, *ga, *ge, *gy, *gxNext, *gr, *wRec, *wOut, *F;
  double* acc;
  if (!get_f32(env, argv[14], "x", (TN + 1) * BN, &x) || !get_f32(env, argv[15], "r", (TN + 1) * BN, &r) ||
      !get_f32(env, argv[16], "u", TN * BI, &u) || !get_f32(env, argv[17], "eps", TN * BO, &eps) ||
      !get_f32(env, argv[18], "ga", TN * BN, &ga) || !get_f32(env, argv[19], "ge", (TN + 1) * BO, &ge) ||
      !get_f32(env, argv[20], "gy", (TN + 1) * BO, &gy) || !get_f32(env, argv[21], "gxNext", BN, &gxNext) ||
      !get_f32(env, argv[22], "gr", BN, &gr) || !get_f32(env, argv[23], "wRec", (size_t)N * N, &wRec) ||
      !get_f32(env, argv[24], "wOut", (size_t)nOut * N, &wOut) || !get_f32(env, argv[25], "F", (size_t)N * nOut, &F) ||
      !get_f64(env, argv[26], "acc", (size_t)N * (1 + nIn + 2 * nOut) + nOut, &acc))
    return NULL;
  if (!backward_step(k, T, B, N, nIn, nOut, alpha, dt, rateScale, position, recurrent, feedbackGrad, feedbackOn, fbDelay,
                     x, r, u, eps, ga, ge, gy, gxNext, gr, wRec, wOut, F, acc, gyGiven, fbNow, fbPrev))
    return napi_throw_error(env, NULL, "rnnBackwardStep: out of memory"), NULL;
  return NULL;
}

bool fbc_register_rnn(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"rnnForwardStep", NULL, rnn_forward_step, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rnnBackwardStep", NULL, rnn_backward_step, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
