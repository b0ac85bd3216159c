/*
 * The machine's floors for the three hot workloads, measured in C against OpenBLAS, so that the bench
 * can print each engine time as a ratio to what this machine can do at best (ratios travel between
 * machines; seconds do not). Compiled and run by bench/floors.ts; prints one JSON object.
 *
 *   pretrainBatch: 3T products [256 x 400] x [400 x 400] at the 2-thread sgemm rate (the unavoidable
 *                  matrix work of one pre-training batch: forward, backward, weight gradient);
 *   bpttTrial:     one online-BPTT trial's unavoidable work on one thread: for every step k the chain of
 *                  k matrix-vector products [400 x 400] x [400] (T(T+1)/2 in all, each feeding the next)
 *                  plus the rank-(k+1) product [400 x (k+1)] x [(k+1) x 400];
 *   rfloTrial:     T steps of two plain streaming passes over two 400 x 400 float32 arrays on one thread
 *                  (the trace P and the weights W: P = a P + b, W += c P).
 * Each figure is the median over repetitions.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double median(double* xs, int n) {
  qsort(xs, n, sizeof *xs, cmp);
  return xs[n / 2];
}

/* On a cache line, as the addon's arrays are (kernels.alignedArray): a misaligned floor ran 25% slower. */
static float* filled(size_t n, float v) {
  float* a = aligned_alloc(64, (n * sizeof *a + 63) / 64 * 64);
  for (size_t i = 0; i < n; i++) a[i] = v * (float)((i * 2654435761u) % 1000) / 1000.0f;
  return a;
}

int main(int argc, char** argv) {
  const int B = 256, N = 400, T = 125;
  const int reps = argc > 1 ? atoi(argv[1]) : 5;
  double ts[64];

  /* Pre-training: sgemm [B x N] x [N x N]^T with 2 threads. */
  openblas_set_num_threads(2);
  float *A = filled((size_t)B * N, 0.5f), *W = filled((size_t)N * N, 0.05f), *C = filled((size_t)B * N, 0.0f);
  for (int i = 0; i < 20; i++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, N, N, 1, A, N, W, N, 0, C, N);
  const int calls = 100;
  double t[100];
  for (int i = 0; i < calls; i++) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, N, N, 1, A, N, W, N, 0, C, N);
    t[i] = now() - t0;
  }
  const double gemm = median(t, calls);

  /* Online BPTT, one thread. */
  openblas_set_num_threads(1);
  float *ga = filled((size_t)T * N, 0.01f), *R = filled((size_t)T * N, 0.5f), *dw = filled((size_t)N * N, 0.0f);
  float *g = filled(N, 0.01f), *h = filled(N, 0.0f);
  for (int rep = 0; rep < reps; rep++) {
    double t0 = now();
    for (int k = 0; k < T; k++) {
      for (int j = k; j >= 1; j--) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, N, N, 1, W, N, g, 1, 0, h, 1);
        float* s = g;
        g = h;
        h = s;
      }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, N, k + 1, -1, ga, N, R, N, 0, dw, N);
    }
    ts[rep] = now() - t0;
  }
  const double bptt = median(ts, reps);

  /* RFLO: two streaming passes per step over P and W. */
  float *P = filled((size_t)N * N, 0.01f), *Wr = filled((size_t)N * N, 0.05f);
  const size_t NN = (size_t)N * N;
  for (int rep = 0; rep < reps; rep++) {
    double t0 = now();
    for (int k = 0; k < T; k++) {
      for (size_t i = 0; i < NN; i++) P[i] = 0.8f * P[i] + 1e-3f;
      for (size_t i = 0; i < NN; i++) Wr[i] += 1e-6f * P[i];
    }
    ts[rep] = now() - t0;
  }
  const double rflo = median(ts, reps);
  volatile float sink = C[7] + dw[3] + Wr[5] + g[1];
  (void)sink;

  printf("{\"sgemm256x400x400_2threads_s\": %.9g, \"sgemm_gflops\": %.6g, \"pretrainBatch\": %.9g, \"bpttTrial\": %.9g, \"rfloTrial\": %.9g}\n",
         gemm, 2.0 * B * N * N / gemm / 1e9, 3.0 * T * gemm, bptt, rflo);
  return 0;
}
