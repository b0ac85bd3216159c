/**
 * Update efficiency (SPEC §7.3, result F5a) under three definitions, computed from the records of an
 * adaptation run (results.RunRecords or a live Adapter's logs):
 *
 *   (i)   within a trial:  |sum_k dw_k| / sum_k |dw_k|                      (TrialRecord.efficiency)
 *   (ii)  across trials:   |W_t - W_0| / sum_{s<t} |dW_s|  over the whole run (from driftNorm and updateNorm),
 *                          and |W_{t+w} - W_t| / sum |dW_s| over windows of w trials (efficiencyWindows)
 *   (iii) in function space: the decrease of the rotated test error (feedback off) per unit |dW| between
 *                          consecutive tests, measured and first-order predicted (testGradient)
 *
 * All are ratios in which the learning rate cancels (i, ii) or is divided out by the distance moved (iii).
 */
import type { TestRecord, TrialRecord, WindowRecord } from "../adapt";
import { ParameterError } from "../validate";

/** The logs the efficiencies are computed from: a results.RunRecords or a live Adapter's logs. */
export interface EfficiencyRecords {
  /** One record per trial (updateNorm, driftNorm, efficiency). */
  trials: TrialRecord[];
  /** One record per test (testError; stepDistance and predictedDecrease with testGradient). */
  tests: TestRecord[];
  /** Efficiency windows (recorded with efficiencyWindows). */
  windows?: WindowRecord[];
}

/** (i) Per trial: |sum_k dw_k| / sum_k |dw_k|. */
export function withinTrialEfficiency(run: EfficiencyRecords): Float64Array {
  return Float64Array.from(run.trials, (t) => Number(t.efficiency));
}

/** (ii) After each trial t (t = 1..n): |W_t - W_0| / sum_{s<t} |dW_s|, the whole run so far. */
export function cumulativeEfficiency(run: EfficiencyRecords): Float64Array {
  let path = 0;
  return Float64Array.from(run.trials, (t) => {
    if (t.driftNorm === undefined) throw new ParameterError("run", "has no driftNorm column (recorded since 2026-12-03); rerun it");
    path += Number(t.updateNorm);
    return path > 0 ? Number(t.driftNorm) / path : NaN;
  });
}

/** (ii) For window length w: |W_{t+w} - W_t| / sum |dW_s| per window, with each window's end trial. */
export function windowEfficiency(
  run: EfficiencyRecords,
  w: number,
): {
  /** Each window's end trial. */
  end: number[];
  /** Each window's |W_{t+w} - W_t| / sum |dW_s|. */
  efficiency: number[];
} {
  const mine = (run.windows ?? []).filter((r) => Number(r.window) === w);
  if (mine.length === 0) throw new ParameterError("w", `no windows of length ${w} recorded (run with efficiencyWindows including ${w})`);
  return { end: mine.map((r) => Number(r.end)), efficiency: mine.map((r) => Number(r.distance) / Number(r.path)) };
}

/**
 * (iii) Between consecutive tests: the measured decrease of the test error per unit |W_rec change|, and
 * the first-order prediction -grad . dW / |dW| from the earlier test's gradient; with each interval's end.
 */
export function functionSpaceEfficiency(run: EfficiencyRecords): {
  /** The trial count at the end of each interval (its later test). */
  end: number[];
  /** Measured decrease of the test error per unit |dW| over the interval. */
  measured: number[];
  /** First-order predicted decrease per unit |dW|, -grad . dW / |dW|. */
  predicted: number[];
} {
  const out = { end: [] as number[], measured: [] as number[], predicted: [] as number[] };
  for (let i = 1; i < run.tests.length; i++) {
    const t = run.tests[i];
    if (t.stepDistance === undefined || t.predictedDecrease === undefined) throw new ParameterError("run", "has no test-gradient columns (run with testGradient)");
    const d = Number(t.stepDistance);
    out.end.push(Number(t.trial));
    out.measured.push((Number(run.tests[i - 1].testError) - Number(t.testError)) / d);
    out.predicted.push(Number(t.predictedDecrease) / d);
  }
  return out;
}

/** Mean of the entries whose x lies in [from, to) (NaN skipped). */
export function meanOver(x: ArrayLike<number>, y: ArrayLike<number>, from: number, to: number): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < from || x[i] >= to || Number.isNaN(y[i])) continue;
    s += y[i];
    n++;
  }
  return n ? s / n : NaN;
}
