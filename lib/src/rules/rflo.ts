/**
 * RFLO, random-feedback local online learning (Murray 2019), as the reference applies it (SPEC §6.3):
 *
 *   P    <- a relu'(x_{k+1}) r_k^T + (1 - a) P          eligibility trace, P = 0 at the start of a trial
 *   dw_k  = diag(W_fb e_{k+1}) P                       the error reaches unit i through W_fb (learned here)
 *
 * With projection "transpose" the error goes through W_out^T instead (the reference's RFLO_t).
 * `legacyRow0` reproduces RFLO_t's bug of using row 0 of P for every postsynaptic unit (SPEC §10.6).
 */
import { FArray, gemm, outerTrace, rfloStep, rowScaleAdd } from "../kernels";
import { Network, Rollout } from "../network";
import { ErrorProjection, LearningRule, newArray, projectError } from "./rule";
import { ParameterError } from "../validate";

/** Options of `Rflo`. */
export interface RfloOptions {
  /** W_fb ("feedback", default) or W_out^T ("transpose", the reference's RFLO_t). */
  projection?: ErrorProjection;
  /** Reproduce RFLO_t's bug of using row 0 of P for every unit (SPEC §10.6); needs projection "transpose". */
  legacyRow0?: boolean;
}

/**
 * The RFLO rule: an eligibility trace of W_rec's entries times the projected error. Its name is "rflo",
 * "rflo_t" (projection "transpose") or "rflo_t_row0" (with legacyRow0).
 */
export class Rflo implements LearningRule {
  readonly name: string;
  private net!: Network;
  private ro!: Rollout;
  private P!: FArray;
  private s!: FArray;
  private alpha = 0;
  /** The step whose trace update `advance` deferred, so that `accumulate` can fuse it with the update (-1: none). */
  private pending = -1;

  /**
   * @param options the error projection and the legacy row-0 bug
   * @throws ParameterError for legacyRow0 without projection "transpose"
   */
  constructor(readonly options: RfloOptions = {}) {
    if (options.legacyRow0 && options.projection !== "transpose") {
      throw new ParameterError("legacyRow0", 'reproduces a bug of the reference\'s RFLO_t and needs projection "transpose"');
    }
    this.name = options.projection === "transpose" ? (options.legacyRow0 ? "rflo_t_row0" : "rflo_t") : "rflo";
  }

  reset(net: Network, ro: Rollout): void {
    const N = net.config.N;
    if (!this.P || this.P.length !== N * N || this.P.constructor !== net.params.wRec.constructor) {
      this.P = newArray(net.params.wRec, N * N);
      this.s = newArray(net.params.wRec, N);
    }
    this.P.fill(0);
    this.net = net;
    this.ro = ro;
    this.alpha = net.config.dt / net.config.tau;
    this.pending = -1;
  }

  /** The trial-0 vectors of step k's trace update: relu'(x_{k+1}) gate and presynaptic r_k. */
  private traceInputs(k: number): [FArray, FArray] {
    const N = this.net.config.N;
    const BN = this.ro.B * N;
    return [this.ro.x.subarray((k + 1) * BN, (k + 1) * BN + N), this.ro.r.subarray(k * BN, k * BN + N)];
  }

  private flush(): void {
    if (this.pending < 0) return;
    const N = this.net.config.N;
    const [gate, pre] = this.traceInputs(this.pending);
    outerTrace(this.P, N, N, gate, pre, this.alpha);
    this.pending = -1;
  }

  /** P <- a relu'(x_{k+1}) r_k^T + (1 - a) P, from trial 0's x_{k+1} and r_k; deferred to `accumulate`, which fuses it with the update. */
  advance(k: number): void {
    this.flush();
    this.pending = k;
  }

  lastUpdate(out: FArray): void {
    const N = this.net.config.N;
    out.fill(0);
    rowScaleAdd(out, this.P, N, N, this.s, 1, this.options.legacyRow0 === true);
  }

  accumulate(k: number, out: FArray, scale: number): number {
    return this.update(k, out, scale);
  }

  accumulateWithDrive(k: number, out: FArray, scale: number, next: FArray, drive: FArray): number {
    return this.update(k, out, scale, { next, drive });
  }

  private update(k: number, out: FArray, scale: number, fuse?: { next: FArray; drive: FArray }): number {
    const N = this.net.config.N;
    projectError(this.net, this.ro, k, this.options.projection ?? "feedback", this.s);
    if (this.pending >= 0 && !this.options.legacyRow0) {
      const [gate, pre] = this.traceInputs(this.pending);
      this.pending = -1;
      return Math.sqrt(rfloStep(this.P, out, N, N, gate, pre, this.alpha, this.s, scale, fuse));
    }
    this.flush();
    const norm = Math.sqrt(rowScaleAdd(out, this.P, N, N, this.s, scale, this.options.legacyRow0 === true));
    if (fuse) gemm(false, false, N, 1, N, 1, out, N, fuse.next, 1, 0, fuse.drive, 1);
    return norm;
  }
}
