/** Alignment measures between weight matrices and gradients. */
import { Network } from "../network";

/** Euclidean (Frobenius) norm of a vector or flattened matrix. */
export function frobenius(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** Cosine similarity of two equally long vectors (0 when either is zero). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`cosine: lengths differ (${a.length} vs ${b.length})`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/**
 * cos(vec(W_fb), vec((W_out W_rec)^T)) (SPEC §7.6): how well the feedback weights match the one-step
 * pathway by which a unit's rate reaches the output error, (W_out W_rec)^T e ~ -dLoss_{t+1}/dr_t.
 */
export function feedbackAlignment(net: Network): number {
  const { N, nOut } = net.config;
  const { wOut, wRec, wFb } = net.params;
  const pathT = new Float64Array(N * nOut); // (W_out W_rec)^T, [N, nOut]
  for (let o = 0; o < nOut; o++) {
    for (let j = 0; j < N; j++) {
      const w = wOut[o * N + j];
      if (w === 0) continue;
      const row = j * N;
      for (let i = 0; i < N; i++) pathT[i * nOut + o] += w * wRec[row + i];
    }
  }
  return cosine(wFb, pathT);
}
