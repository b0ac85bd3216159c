/**
 * The test gradient (AdaptConfig.testGradient; F5a iii): at every test, the gradient of the test error,
 * so that the next test records the first-order predicted decrease -grad(testError) . (W - W_prev) beside
 * the distance travelled |W - W_prev|_F. One backward pass per test.
 */
import { TrialGradientWork, trialGradient } from "../analysis/trialGradient";
import { Network, Rollout } from "../network";
import type { Perturbation } from "../perturbation";
import type { TrialBatch } from "../task";
import { Measure, MeasureState } from "./measure";

/** The first-order prediction of each test's error change from the previous test's gradient. */
export class TestGradient implements Measure {
  readonly name = "test_gradient";
  readonly testColumns = ["stepDistance", "predictedDecrease"] as const;
  private at?: { w: Float64Array; g: Float64Array };
  private readonly work: TrialGradientWork = {};

  /**
   * @param net the network as the learner sees it (Adapter.seen); its W_rec is read at every test
   * @param testSet the test trials
   * @param plantCursor the cursor perturbations, for a network that drives a plant (not seen through them)
   */
  constructor(private readonly net: Network, private readonly testSet: TrialBatch, private readonly plantCursor: readonly Perturbation[]) {}

  test(ro: Rollout): Record<string, number> {
    const w = this.net.params.wRec;
    const out: Record<string, number> = {};
    if (this.at) {
      // grad(testError) = -G * 2 / |E| with G = -d(sum |e|^2 / 2)/dW from trialGradient.
      const { w: w0, g } = this.at;
      let d2 = 0;
      let pred = 0;
      for (let i = 0; i < w.length; i++) {
        const d = w[i] - w0[i];
        d2 += d * d;
        pred += g[i] * d;
      }
      out.stepDistance = Math.sqrt(d2);
      out.predictedDecrease = (pred * 2) / ro.e.length;
    } else {
      out.stepDistance = NaN; // the first test has no previous one (NaN, not absent: CSV columns follow the first row)
      out.predictedDecrease = NaN;
    }
    // Pushes from the hand's own motion (a curl field) are those the test realised, taken as external input.
    const realised = ro.pushers.length ? { ...this.testSet, pushes: Float64Array.from(ro.push) } : this.testSet;
    const g = trialGradient(this.net, realised, { x0: ro.x.subarray(0, this.testSet.B * this.net.config.N), feedback: false, perturbations: this.plantCursor }, this.work);
    this.at = { w: Float64Array.from(w), g: Float64Array.from(g) };
    return out;
  }

  saveState(): MeasureState {
    if (!this.at) return {};
    const N = this.net.config.N;
    return { tensors: { "test.w": { shape: [N, N], data: this.at.w }, "test.grad": { shape: [N, N], data: this.at.g } } };
  }

  loadState(state: MeasureState): void {
    const w = state.tensors?.["test.w"];
    const g = state.tensors?.["test.grad"];
    if (w && g) this.at = { w: Float64Array.from(w.data), g: Float64Array.from(g.data) };
  }
}
