/**
 * Online BPTT (SPEC §6.3): at every step k the exact gradient of the current step's loss
 * l_{k+1} = mean_d e_{k+1,d}^2 = |e_{k+1}|^2 / 2 with respect to W_rec, through the whole trial so far
 * (steps 0..k: the leak, the recurrence and the error integrator), with the fed-back error treated as a
 * constant input (the reference's error_detach=True in adaptation):
 *
 *   dw_k = -d l_{k+1} / d W_rec
 *
 * The backward pass uses the current W_rec at every past step (the reference's autograd graph keeps
 * each step's own weights; the difference is of order lr, see DEVIATIONS.md). Cost: k matrix-vector
 * products per step, O(T^2 / 2) per trial, plus one [N x (k+1)] x [(k+1) x N] product for dw_k.
 * With the OpenBLAS addon and float32 weights the whole chain of a step is one native call, which
 * multiplies by a transposed copy of W_rec (the fast matrix-vector form); otherwise TypeScript loops.
 *
 * Through a plant (NetworkConfig.plant) the step loss reaches each past readout y_j through the plant's
 * dynamics: dl/dy_j comes from the plant's backward steps j = k+1 .. 1 (its state adjoint carried back),
 * computed first, since the plant's chain does not depend on the network's adjoints (the fed-back error is
 * a constant and the realised pushes an external input).
 */
import { FArray, axpyNorm2, gemm, nativeKernels } from "../kernels";
import { Network, Rollout } from "../network";
import { applyInPlace, transpose } from "../cursor";
import { LearningRule, newArray } from "./rule";

/** The online BPTT rule (name "bptt"): the exact gradient of each step's loss through the trial so far. */
export class OnlineBptt implements LearningRule {
  readonly name = "bptt";
  private net!: Network;
  private ro!: Rollout;
  /** Rows j = 0..k: adjoints of the drives a_j for the current loss. */
  private ga!: FArray;
  private gx!: FArray;
  private gxNext!: FArray;
  private gr!: FArray;
  private dw!: FArray;
  /** Native path only: W_rec transposed, and 4N floats of scratch. */
  private wRecT?: Float32Array;
  private scratch?: Float32Array;
  /** Through a plant: rows j = 1..k+1 of dl/dy_j ([T+1, nOut]), and the plant's state adjoints and scratch. */
  private gyPlant?: FArray;
  private gs: Float64Array[] = [];
  private gv = new Float64Array(0);
  private force = new Float64Array(0);

  reset(net: Network, ro: Rollout): void {
    const N = net.config.N;
    if (ro.plant) {
      const n = ro.plant.nState;
      const nOut = net.config.nOut;
      if (!this.gyPlant || this.gyPlant.length !== (ro.T + 1) * nOut || this.gyPlant.constructor !== net.params.wRec.constructor) this.gyPlant = newArray(net.params.wRec, (ro.T + 1) * nOut);
      if (this.gs.length !== 2 || this.gs[0].length !== n) this.gs = [new Float64Array(n), new Float64Array(n)];
      if (this.gv.length !== nOut) {
        this.gv = new Float64Array(nOut);
        this.force = new Float64Array(nOut);
      }
    }
    if (!this.dw || this.dw.length !== N * N || this.ga.length !== ro.T * N || this.dw.constructor !== net.params.wRec.constructor) {
      const like = net.params.wRec;
      this.ga = newArray(like, ro.T * N);
      this.gx = newArray(like, N);
      this.gxNext = newArray(like, N);
      this.gr = newArray(like, N);
      this.dw = newArray(like, N * N);
    }
    this.net = net;
    this.ro = ro;
    if (this.dw instanceof Float32Array && (!this.wRecT || this.wRecT.length !== N * N)) {
      this.wRecT = new Float32Array(N * N);
      this.scratch = new Float32Array(4 * N);
    }
  }

  advance(_k: number): void {
    // The rollout already holds the history BPTT needs.
  }

  /** Through the plant: dl/dy_j for j = k+1 .. 1 into rows of this.gyPlant (trial 0). */
  private plantSeeds(k: number): FArray {
    const ro = this.ro;
    const plant = ro.plant!;
    const { nOut, dt, errorMode } = this.net.config;
    const B = ro.B;
    const BO = B * nOut;
    const S = B * plant.nState;
    const n = plant.nState;
    const eAt = (k + 1) * BO;
    const gy = this.gyPlant!;
    let [gs, gsPrev] = this.gs;
    // Under a cursor map the error is the cursor's, v = C v_hand: the hand's adjoint is C^T g_v.
    const cursorT = ro.cursor !== null ? transpose(ro.cursor) : null;
    gs.fill(0);
    for (let j = k + 1; j >= 1; j--) {
      // dl/dv_j = -dt e_{k+1} for every j <= k+1 (position error), or -e_{k+1} at j = k+1 only.
      const seed = errorMode === "position" ? -dt : j === k + 1 ? -1 : 0;
      for (let o = 0; o < nOut; o++) {
        this.gv[o] = seed * ro.e[eAt + o];
        this.force[o] = plant.pushScale * ro.push[(j - 1) * BO + o];
      }
      if (cursorT) applyInPlace(cursorT, this.gv);
      gsPrev.fill(0);
      plant.backward(1, ro.ps.subarray((j - 1) * S, (j - 1) * S + n), ro.y.subarray(j * BO, j * BO + nOut), this.force, gs, this.gv, gsPrev, gy.subarray(j * nOut, (j + 1) * nOut), null);
      [gs, gsPrev] = [gsPrev, gs];
    }
    return gy;
  }

  /** Writes dw_k = -d l_{k+1} / d W_rec into this.dw and returns it. */
  gradient(k: number): FArray {
    const { N, nOut, dt, tau, recurrent, errorMode } = this.net.config;
    const { wOut, wRec } = this.net.params;
    const ro = this.ro;
    const BN = ro.B * N;
    const alpha = dt / tau;
    const eAt = (k + 1) * ro.B * nOut; // e_{k+1}, trial 0
    const position = errorMode === "position";
    const gyPlant = ro.plant ? this.plantSeeds(k) : null;
    const native = this.dw instanceof Float32Array ? nativeKernels() : null;
    if (native) {
      const f = (a: FArray) => a as Float32Array;
      native.bpttGradient(
        k, N, nOut, BN, alpha, dt, position, recurrent, f(ro.x), f(ro.r), f(ro.e.subarray(eAt, eAt + nOut)), f(wOut), f(wRec), this.wRecT!, f(this.ga), this.scratch!, f(this.dw),
        ...(gyPlant ? [f(gyPlant.subarray(0, (k + 2) * nOut))] : []),
      );
      return this.dw;
    }
    const { ga, gr } = this;
    let gx = this.gx;
    let gxNext = this.gxNext;
    gxNext.fill(0);
    for (let j = k + 1; j >= 1; j--) {
      // dl/dy_j = -dt e_{k+1} for every j <= k+1 (position error), or -e_{k+1} at j = k+1 only.
      const seed = position ? -dt : j === k + 1 ? -1 : 0;
      for (let i = 0; i < N; i++) {
        let v = 0;
        if (gyPlant) for (let o = 0; o < nOut; o++) v += wOut[o * N + i] * gyPlant[j * nOut + o];
        else {
          for (let o = 0; o < nOut; o++) v += wOut[o * N + i] * ro.e[eAt + o];
          v *= seed;
        }
        gr[i] = v;
      }
      if (j <= k && recurrent) gemm(false, false, 1, N, N, 1, ga.subarray(j * N, (j + 1) * N), N, wRec, N, 1, gr, N);
      const xj = j * BN;
      const gaPrev = (j - 1) * N;
      for (let i = 0; i < N; i++) {
        const g = (ro.x[xj + i] > 0 ? gr[i] : 0) + (1 - alpha) * gxNext[i];
        gx[i] = g;
        ga[gaPrev + i] = alpha * g;
      }
      const t = gx;
      gx = gxNext;
      gxNext = t;
    }
    this.gx = gx;
    this.gxNext = gxNext;
    // dw = -sum_{j=0..k} ga_j r_j^T (trial-0 rows of r have stride B*N).
    if (recurrent) gemm(true, false, N, N, k + 1, -1, ga, N, ro.r, BN, 0, this.dw, N);
    else this.dw.fill(0);
    return this.dw;
  }

  lastUpdate(out: FArray): void {
    out.set(this.dw);
  }

  accumulate(k: number, out: FArray, scale: number): number {
    return Math.sqrt(axpyNorm2(scale, this.gradient(k), out));
  }
}
