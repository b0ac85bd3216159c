/**
 * Population activity across trials: how much the rates differ between the trials of a batch at each
 * step (e.g. between the 8 centre-out targets). In an instructed-delay task, variance that rises after
 * the target cue and before go is preparatory activity: the network already "knows" where it will reach.
 */
import { Rollout } from "../network";

/**
 * [T+1] at each step k, the variance over trials of each unit's rate r_k,i, summed over units (the trace
 * of the across-trial covariance of r_k); with 1 trial, zeros.
 */
export function acrossTrialVariance(ro: Rollout): Float64Array {
  const { T, B, N } = ro;
  const out = new Float64Array(T + 1);
  if (B < 2) return out;
  for (let k = 0; k <= T; k++) {
    let total = 0;
    for (let i = 0; i < N; i++) {
      let mean = 0;
      for (let b = 0; b < B; b++) mean += ro.r[(k * B + b) * N + i];
      mean /= B;
      let v = 0;
      for (let b = 0; b < B; b++) v += (ro.r[(k * B + b) * N + i] - mean) ** 2;
      total += v / (B - 1);
    }
    out[k] = total;
  }
  return out;
}
