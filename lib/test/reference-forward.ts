// Shared by the analysis tests: a small float64 network and an independent forward pass.
import { Rng } from "../src/rng";
import * as task from "../src/task";
import * as net from "../src/network";

/**
 * An independent float64 forward pass written from SPEC §2.3 / §11, with two hooks: a perturbation added
 * to r_m right after it is computed, and a replayed fed-back error (the detached feedback of adaptation).
 * Returns the stored errors E [T+1, B, nOut] (E[0] = 0).
 */
export function naiveForward(
  n: net.Network,
  batch: task.TrialBatch,
  x0: Float64Array,
  opts: { feedback: boolean; replay?: ArrayLike<number>; perturb?: { m: number; delta: Float64Array } },
): Float64Array {
  const { N, nIn, nOut, dt, tau, fbDelay, errorMode, e0 } = n.config;
  const { wIn, wRec, wOut, bOut, b, wFb, mask } = n.params;
  const { T, B } = batch;
  const a = dt / tau;
  const E = new Float64Array((T + 1) * B * nOut);
  for (let bi = 0; bi < B; bi++) {
    let x = Array.from({ length: N }, (_, i) => x0[bi * N + i]);
    const relu = (v: number[]) => v.map((z) => (z > 0 ? z : 0));
    let r = relu(x);
    const bump = (step: number) => {
      if (opts.perturb && opts.perturb.m === step) r = r.map((z, i) => z + opts.perturb!.delta[bi * N + i]);
    };
    bump(0);
    const readout = () => Array.from({ length: nOut }, (_, o) => bOut[o] + r.reduce((s, ri, i) => s + wOut[o * N + i] * ri, 0));
    let eInt = e0 === "readout" ? readout() : new Array(nOut).fill(0);
    for (let k = 0; k < T; k++) {
      const eps = Array.from({ length: nOut }, (_, o) =>
        opts.replay ? opts.replay[(k * B + bi) * nOut + o] : k < fbDelay ? 0 : E[((k - fbDelay) * B + bi) * nOut + o],
      );
      const xn = x.map((xi, i) => {
        let drive = b[i];
        for (let m = 0; m < nIn; m++) drive += wIn[i * nIn + m] * batch.inputs[(k * B + bi) * nIn + m];
        for (let j = 0; j < N; j++) drive += wRec[i * N + j] * r[j];
        if (opts.feedback) for (let o = 0; o < nOut; o++) drive += mask[i * nOut + o] * wFb[i * nOut + o] * eps[o];
        return (1 - a) * xi + a * drive;
      });
      x = xn;
      r = relu(x);
      bump(k + 1);
      const y = readout();
      for (let o = 0; o < nOut; o++) {
        const v = y[o] + batch.pushes[(k * B + bi) * nOut + o];
        const ref = batch.reference[(k * B + bi) * nOut + o];
        const e = errorMode === "position" ? eInt[o] + dt * (ref - v) : ref - v;
        eInt[o] = e;
        E[((k + 1) * B + bi) * nOut + o] = e;
      }
    }
  }
  return E;
}

export function setup(overrides: Partial<net.NetworkConfig> = {}, T = 30) {
  const n = net.initNetwork({ N: 7, ...overrides }, Rng.seeded(5, "weights"), "float64");
  for (let i = 0; i < n.params.wRec.length; i++) n.params.wRec[i] *= 8; // recurrence that matters
  for (let i = 0; i < n.params.wFb.length; i++) n.params.wFb[i] *= 3;
  const batch = task.rotate(task.centreOut([1, 4], { T, goTime: 8, stimOn: 3, rampHalfWidth: 6 }), 30);
  const x0 = Float64Array.from({ length: batch.B * n.config.N }, (_, i) => 0.5 * Math.sin(1 + 2 * i));
  return { n, batch, x0 };
}


/** Every eigenvalue of a symmetric matrix, ascending, by cyclic Jacobi rotations (dense, for small matrices). */
export function symmetricEigenvalues(S: Float64Array, n: number): number[] {
  const A = Float64Array.from(S);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => A[i * n + i]).sort((a, b) => a - b);
}

export function largestEigenvalue(S: Float64Array, n: number): number {
  const ev = symmetricEigenvalues(S, n);
  return ev[n - 1];
}


/** |a - b| / |b| over whole arrays. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}
