/**
 * The comparison measure (AdaptConfig.compare): a second rule runs passively on the same trial, reading
 * W_rec before each update as the learning rule does, and the learning rule's updates are compared with
 * its own: the per-step alignment cos(dw_k, dw'_k) averaged over the trial (localAlignment), the alignment
 * of the summed updates cos(sum dw_k, sum dw'_k) (globalAlignment), and per-step records of chosen trials
 * (stepTrials). With online BPTT as the comparison, these are the paper's F5 alignments.
 */
import { FArray, specialise } from "../kernels";
import { LearningRule, newArray } from "../rules/rule";
import { cosine } from "../analysis/alignment";
import { Measure, MeasureState, TrialView } from "./measure";

/** The local alignment at one step of a trial listed in stepTrials. */
export interface StepRecord {
  /** Trial index. */
  trial: number;
  /** Step k (the update for e_{k+1}). */
  step: number;
  /** cos(dw_k, dw_k of the comparison rule). */
  localAlignment: number;
}

/**
 * sumB += b, returning cos(a, b) (0 when either is zero), in one pass (separate float32 and float64 copies
 * keep V8's loops monomorphic).
 */
function cosineAddKernel(a: FArray, b: FArray, sumB: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    ab += x * y;
    aa += x * x;
    bb += y * y;
    sumB[i] += y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
const cosineAdd32 = specialise(cosineAddKernel);
const cosineAdd64 = specialise(cosineAddKernel);

/** A rule run passively beside the learning one, and the alignment of their updates. */
export class Comparison implements Measure {
  readonly name: string;
  readonly trialColumns = ["localAlignment", "globalAlignment"] as const;
  readonly usesSummedUpdate = true;
  /** Per-step alignment of the trials in stepTrials. */
  readonly steps: StepRecord[] = [];
  private dw?: FArray;
  private sum = new Float64Array(0);
  private local = 0;
  private keep = false;
  private trial = 0;

  /**
   * @param rule the comparison rule (a fresh instance, used by this measure only)
   * @param stepTrials trials whose per-step alignment is kept in `steps`
   */
  constructor(readonly rule: LearningRule, readonly stepTrials: readonly number[] = []) {
    this.name = `compare:${rule.name}`;
  }

  startTrial(view: TrialView): void {
    const w = view.net.params.wRec;
    if (!this.dw || this.dw.length !== w.length || this.dw.constructor !== w.constructor) {
      this.dw = newArray(w, w.length);
      this.sum = new Float64Array(w.length);
    }
    this.sum.fill(0);
    this.local = 0;
    this.trial = view.trial;
    this.keep = this.stepTrials.includes(view.trial);
    this.rule.reset(view.net, view.ro, view.context);
  }

  beforeUpdate(k: number): void {
    // It reads W_rec before this step's update, as the learning rule's own update does.
    this.rule.advance(k);
    this.dw!.fill(0);
    this.rule.accumulate(k, this.dw!, 1);
  }

  afterUpdate(k: number, dw: FArray): void {
    const a = dw instanceof Float32Array ? cosineAdd32(dw, this.dw!, this.sum) : cosineAdd64(dw, this.dw!, this.sum);
    this.local += a;
    if (this.keep) this.steps.push({ trial: this.trial, step: k, localAlignment: a });
  }

  endTrial(view: TrialView): Record<string, number> {
    return { localAlignment: this.local / view.ro.T, globalAlignment: cosine(view.summed!, this.sum) };
  }

  saveState(): MeasureState {
    return { metrics: { steps: this.steps } };
  }

  loadState(state: MeasureState): void {
    const steps = (state.metrics?.steps ?? []) as StepRecord[];
    // JSON stores NaN as null.
    this.steps.push(...steps.map((r) => ({ ...r, localAlignment: r.localAlignment ?? NaN })));
  }
}
