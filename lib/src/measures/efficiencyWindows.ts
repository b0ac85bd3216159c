/**
 * Efficiency windows (AdaptConfig.efficiencyWindows; F5a ii): over windows of w trials starting at
 * multiples of w, the distance W_rec travelled |W_end - W_start|_F against its path length, the sum of
 * the trials' |dW_trial|_F. Their ratio is the across-trial update efficiency.
 */
import { FArray } from "../kernels";
import { Measure, MeasureState, TrialView } from "./measure";

/** Over trials [end - window, end), |W_end - W_start|_F against the path length sum |dW_trial|_F. */
export interface WindowRecord {
  /** Window length (trials). */
  window: number;
  /** Trials done at the window's end. */
  end: number;
  /** |W_end - W_start|_F. */
  distance: number;
  /** Path length: sum of |dW_trial|_F over the window. */
  path: number;
}

/** Distance against path length over windows of trials. */
export class EfficiencyWindows implements Measure {
  readonly name = "efficiency_windows";
  /** One record per completed window. */
  readonly windows: WindowRecord[] = [];
  private readonly start = new Map<number, { w: Float64Array; path: number }>();

  /**
   * @param lengths the window lengths (trials)
   * @param w0 the pre-trained W_rec, where the first windows start
   */
  constructor(readonly lengths: readonly number[], private readonly w0: FArray) {}

  endTrial(view: TrialView, updateNorm: number, done: number): void {
    const wRec = view.net.params.wRec;
    for (const w of this.lengths) {
      let st = this.start.get(w);
      if (!st) {
        st = { w: Float64Array.from(this.w0), path: 0 };
        this.start.set(w, st);
      }
      st.path += updateNorm;
      if (done % w !== 0) continue;
      let d2 = 0;
      for (let i = 0; i < wRec.length; i++) {
        const d = wRec[i] - st.w[i];
        d2 += d * d;
      }
      this.windows.push({ window: w, end: done, distance: Math.sqrt(d2), path: st.path });
      st.w.set(wRec);
      st.path = 0;
    }
  }

  saveState(): MeasureState {
    const paths: Record<string, number> = {};
    const tensors: MeasureState["tensors"] = {};
    for (const [w, st] of this.start) {
      const N = Math.round(Math.sqrt(st.w.length));
      tensors[`window.${w}`] = { shape: [N, N], data: st.w };
      paths[w] = st.path;
    }
    return { metrics: { windows: this.windows, windowPaths: paths }, tensors };
  }

  loadState(state: MeasureState): void {
    this.windows.push(...((state.metrics?.windows ?? []) as WindowRecord[]));
    for (const [w, path] of Object.entries((state.metrics?.windowPaths ?? {}) as Record<string, number>)) {
      const t = state.tensors?.[`window.${w}`];
      if (!t) throw new Error(`misses tensor window.${w}`);
      this.start.set(Number(w), { w: Float64Array.from(t.data), path });
    }
  }
}
