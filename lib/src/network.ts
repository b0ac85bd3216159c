/**
 * The rate RNN with error-feedback control (SPEC §2).
 *
 *   x_{k+1} = (1-a) x_k + a (W_in u_k + W_rec r_k + [c_k] + b),   r = relu(x),  a = dt/tau
 *   y_{k+1} = W_out r_{k+1} + b_out,   v_{k+1} = y_{k+1} + p_k      (p = external push)
 *   e_{k+1} = e_k + dt (v*_k - v_{k+1})                              (position error; "velocity" mode: v*_k - v_{k+1})
 *   c_k     = (M o W_fb) eps_k,   eps_k = E[k-d] for k >= d else 0,  E = [0, e_1, e_2, ...]
 *
 * The integrator starts at e_0 = y_0 (the reference's quirk, SPEC §2.2) unless config.e0 = "zero".
 * Under a cursor map C (cursor.ts: a rotated, mirrored or scaled cursor) the network is run with readout
 * C W_out, C b_out, so that v = C (y + p) is the cursor's velocity and e its error.
 * Parameters are Float32Array (as the reference's float32 tensors) or Float64Array (for gradient checks);
 * a rollout uses the type of its network's parameters throughout.
 */
import { alignedArray, gemm, nativeKernels, FArray } from "./kernels";
import { Rng } from "./rng";
import { N_INPUTS, N_OUTPUTS, TrialBatch } from "./task";
import { finite, inRange, integer, oneOf, positive, ParameterError } from "./validate";
import { Perturbation, curlField } from "./perturbation";
import { Mat2, applyInPlace, cursorMap, isIdentity, seenMap, seenThrough, showsCursor } from "./cursor";
import { Plant, makePlant, normalisePlant } from "./plant";
import type { Named } from "./registry";

/**
 * The network's sizes, time constants and feedback settings. Defaults: `DEFAULT_NETWORK`; `networkConfig(overrides)`
 * validates one.
 */
export interface NetworkConfig {
  /** Recurrent units (400). */
  N: number;
  /** Input channels (3: target displacement and hold signal; 4 with the go cue). */
  nIn: number;
  /** Outputs (2: hand velocity). */
  nOut: number;
  /** Step size in seconds (0.01); must be at most tau. */
  dt: number;
  /** Neuron time constant in seconds (0.05); the leak is a = dt / tau. */
  tau: number;
  /** Probability that a feedback-mask entry is 1 (1: feedback control; 0: none). */
  fbDensity: number;
  /** Feedback delay d in steps (0). */
  fbDelay: number;
  /**
   * Velocity gain kappa of the fed-back error, in seconds (absent or 0: the paper, position error only). With
   * kappa > 0 the controller sees the hand's position error and its velocity error, combined as a PD error
   * through the same W_fb: eps_k = e_j + kappa (e_j - e_{j-1}) / dt with j = k - d, which is
   * e_j + kappa (v*_j - v_j), about the error kappa seconds ahead (e_0 is the integrator's start; eps_k = 0
   * for j < 1, as without it). One W_fb keeps the control input in the subspace of RFLO's learning signal
   * W_fb e, as in the paper. Needs errorMode "position". Absent from configs that do not use it.
   */
  fbVelocityGain?: number;
  /** Recurrent input W_rec r on (true) or off. */
  recurrent: boolean;
  /** Where the error integrator starts: "readout" (e_0 = W_out r_0 + b_out, the reference) or "zero". */
  e0: "readout" | "zero";
  /** "position": integrated velocity error (reaching); "velocity": instantaneous output error. */
  errorMode: "position" | "velocity";
  /** Initial pre-activations are U(-x0Scale, x0Scale) (0.1). */
  x0Scale: number;
  /**
   * The effector the network drives (plant/), by name and options: absent (the default, and every network
   * before issue 24) is the paper's massless hand, v = y + p, on the fast native paths. With a plant the
   * readout y is its command (a force, torques), the hand's velocity v comes out of the plant's dynamics, and
   * pushes p act as forces (Plant.pushScale p); it needs e0 "zero" (the reference's e_0 = y_0 would start the
   * position error at a force). A cursor map then acts on the hand's velocity the plant produces.
   */
  plant?: Named;
}

/**
 * The paper's network: 400 units, 3 inputs, 2 outputs, dt 10 ms, tau 50 ms, dense feedback without delay, the
 * integrator starting at the readout.
 */
export const DEFAULT_NETWORK: Readonly<NetworkConfig> = Object.freeze({
  N: 400,
  nIn: N_INPUTS,
  nOut: N_OUTPUTS,
  dt: 0.01,
  tau: 0.05,
  fbDensity: 1,
  fbDelay: 0,
  recurrent: true,
  e0: "readout",
  errorMode: "position",
  x0Scale: 0.1,
});

/** Element type of the parameters and rollouts: float32 (training) or float64 (gradient checks). */
export type DType = "float32" | "float64";

/** The network's parameters, flat row-major arrays. */
export interface Params<A extends FArray = FArray> {
  /** [N, nIn] */
  wIn: A;
  /** [N, N]; wRec[i * N + j] is the weight from unit j to unit i. */
  wRec: A;
  /** [nOut, N] */
  wOut: A;
  /** [nOut] */
  bOut: A;
  /** [N, nOut] feedback (control) weights. */
  wFb: A;
  /** [N] hidden bias (the reference's feedback.bias; added even when feedback is off). */
  b: A;
  /** [N, nOut] fixed 0/1 feedback mask. */
  mask: A;
}

/** The parameter names, in the reference's initialisation order. */
export const PARAM_NAMES = ["wIn", "wRec", "wOut", "bOut", "wFb", "b", "mask"] as const;
/** A parameter name: "wIn", "wRec", "wOut", "bOut", "wFb", "b" or "mask". */
export type ParamName = (typeof PARAM_NAMES)[number];

/** A network: its config and its parameters (all of one dtype). */
export interface Network<A extends FArray = FArray> {
  /** Sizes and settings (validated). */
  config: NetworkConfig;
  /** The weights, biases and feedback mask. */
  params: Params<A>;
}

/**
 * A complete network config: `DEFAULT_NETWORK` with `overrides` on top, validated.
 * @throws ParameterError for an invalid value (e.g. dt > tau)
 */
export function networkConfig(overrides: Partial<NetworkConfig> = {}): NetworkConfig {
  const c: NetworkConfig = { ...DEFAULT_NETWORK, ...overrides };
  integer("N", c.N, 1);
  integer("nIn", c.nIn, 1);
  integer("nOut", c.nOut, 1);
  positive("dt", c.dt);
  positive("tau", c.tau);
  if (c.dt > c.tau) throw new ParameterError("dt", `must be <= tau (${c.tau}) so that the leak dt/tau is at most 1, got ${c.dt}`);
  inRange("fbDensity", c.fbDensity, 0, 1);
  integer("fbDelay", c.fbDelay, 0);
  if (c.fbVelocityGain == null || c.fbVelocityGain === 0) delete c.fbVelocityGain;
  else {
    if (!(finite("fbVelocityGain", c.fbVelocityGain) > 0)) throw new ParameterError("fbVelocityGain", `must be >= 0 (seconds), got ${c.fbVelocityGain}`);
    if (c.errorMode !== "position") throw new ParameterError("fbVelocityGain", `needs errorMode "position" (the velocity error is the change of the position error), got errorMode "${c.errorMode}"`);
  }
  if (typeof c.recurrent !== "boolean") throw new ParameterError("recurrent", `must be a boolean, got ${c.recurrent}`);
  oneOf("e0", c.e0, ["readout", "zero"]);
  oneOf("errorMode", c.errorMode, ["position", "velocity"]);
  finite("x0Scale", c.x0Scale);
  if (c.plant == null) delete c.plant;
  else {
    c.plant = normalisePlant(c.plant);
    if (c.e0 !== "zero") throw new ParameterError("e0", `must be "zero" with a plant (${c.plant.name}): e_0 = y_0 would start the position error at the plant's command`);
  }
  return c;
}

/** Shapes of every parameter, as [rows, cols] (vectors: [length]). */
export function paramShapes(c: NetworkConfig): Record<ParamName, number[]> {
  return {
    wIn: [c.N, c.nIn],
    wRec: [c.N, c.N],
    wOut: [c.nOut, c.N],
    bOut: [c.nOut],
    wFb: [c.N, c.nOut],
    b: [c.N],
    mask: [c.N, c.nOut],
  };
}

/** Parameters start on a cache line (kernels.alignedArray): the addon's row loops over W_rec run faster. */
function alloc(dtype: DType, n: number): FArray {
  return alignedArray(dtype, n);
}

/** "float64" for a Float64Array, "float32" otherwise. */
export function dtypeOf(a: FArray): DType {
  return a instanceof Float64Array ? "float64" : "float32";
}

/**
 * A freshly initialised network (SPEC §2.1: PyTorch's default initialisation), drawn from `rng`
 * in the reference's order: W_in, W_rec, W_out, b_out, W_fb, b, mask.
 */
export function initNetwork(config: Partial<NetworkConfig>, rng: Rng, dtype: DType = "float32"): Network {
  const c = networkConfig(config);
  oneOf("dtype", dtype, ["float32", "float64"]);
  const shapes = paramShapes(c);
  const size = (name: ParamName) => shapes[name].reduce((p, q) => p * q, 1);
  const kRec = 1 / Math.sqrt(c.N); // nn.RNN and nn.Linear(N, .) bounds
  const kFb = 1 / Math.sqrt(c.nOut); // nn.Linear(nOut, N) bounds
  const uniform = (name: ParamName, k: number) => rng.fillUniform(alloc(dtype, size(name)), -k, k);
  const wIn = uniform("wIn", kRec);
  const wRec = uniform("wRec", kRec);
  const wOut = uniform("wOut", kRec);
  const bOut = uniform("bOut", kRec);
  const wFb = uniform("wFb", kFb);
  const b = uniform("b", kFb);
  const mask = alloc(dtype, size("mask"));
  for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < c.fbDensity ? 1 : 0;
  return { config: c, params: { wIn, wRec, wOut, bOut, wFb, b, mask } };
}

/** A deep copy, optionally converted to another dtype. */
export function cloneNetwork(net: Network, dtype: DType = dtypeOf(net.params.wRec)): Network {
  const params = {} as Params;
  for (const name of PARAM_NAMES) {
    const src = net.params[name];
    const dst = alloc(dtype, src.length);
    dst.set(src);
    params[name] = dst;
  }
  return { config: { ...net.config }, params };
}

/** Throws unless every parameter has the length its shape requires and a single dtype. */
export function checkParams(net: Network): void {
  const shapes = paramShapes(net.config);
  const dtype = dtypeOf(net.params.wRec);
  for (const name of PARAM_NAMES) {
    const a = net.params[name];
    const n = shapes[name].reduce((p, q) => p * q, 1);
    if (!(a instanceof Float32Array || a instanceof Float64Array)) throw new ParameterError(`params.${name}`, "must be a Float32Array or Float64Array");
    if (a.length !== n) throw new ParameterError(`params.${name}`, `must have ${n} entries (shape [${shapes[name]}]), got ${a.length}`);
    if (dtypeOf(a) !== dtype) throw new ParameterError(`params.${name}`, `must be ${dtype} like params.wRec`);
  }
}

/** Options of `simulate` and `beginRollout`. */
export interface SimulateOptions {
  /** Control input on ("fb_in"; default true). The bias b is added either way. */
  feedback?: boolean;
  /**
   * Treat the fed-back error as a constant for gradients ("error_detach"; default false). It does not
   * change the forward pass; gradient code reads it from the rollout.
   */
  detachFeedback?: boolean;
  /**
   * Scales the fed-back error before W_fb (default 1): the control input is c_k = controlGain (M o W_fb) E[k-d],
   * and the rollout's eps holds the scaled error. Only forward: a gradient through the feedback loop
   * (detachFeedback false) refuses a gain other than 1. A replayed error is used as given.
   */
  controlGain?: number;
  /** Initial pre-activations [B, N]; otherwise drawn from `init` as U(-x0Scale, x0Scale). */
  x0?: ArrayLike<number>;
  /** Stream for the initial state (required unless x0 is given). */
  init?: Rng;
  /**
   * Replay this fed-back error [T, B, nOut] instead of the network's own E[k-d] (open loop). The gradient
   * of a replayed rollout's loss is what detachFeedback computes; tests use it to check that.
   */
  replayFeedback?: ArrayLike<number>;
  /** A rollout of the same shape and dtype to overwrite instead of allocating a new one. */
  reuse?: Rollout;
  /**
   * A curl force field (default 0: none). At every step k a push g R v_k is added to the velocity, where
   * v_k is the hand velocity of step k and R rotates by +90° (counter-clockwise): (v_x, v_y) -> (-v_y, v_x).
   * It enters where the task's precomputed pushes do (v_{k+1} = y_{k+1} + push_k), computed online.
   * Learning rules and gradients treat the realised push as an external input, like a replayed error.
   */
  curlGain?: number;
  /**
   * Perturbations in force during the rollout (perturbation.ts): those that push the hand (`push`) act at
   * every step in order, after the curl field of curlGain; those that map the hand to a cursor (`cursor`)
   * compose into one map C, and the cursor's velocity is v = C (y + p) (cursor.ts). `simulate` runs the
   * network seen through C (`cursor.seenThrough`); `beginRollout` needs that network given to it. Their
   * `targets` transforms are not applied here: the batch is simulated as given (perturbation.perturbTargets
   * prepares it).
   */
  perturbations?: readonly Perturbation[];
}

/** Everything a forward simulation produces, time-major ([steps, B, width]), in the network's dtype. */
export interface Rollout<A extends FArray = FArray> {
  /** Steps simulated. */
  T: number;
  /** Trials in the batch. */
  B: number;
  /** Recurrent units. */
  N: number;
  /** Outputs. */
  nOut: number;
  /** Whether the control input was on (SimulateOptions.feedback). */
  feedback: boolean;
  /** Whether gradients treat the fed-back error as a constant (SimulateOptions.detachFeedback). */
  detachFeedback: boolean;
  /** The fed-back error's scale before W_fb (SimulateOptions.controlGain; 1: the network's own controller). */
  controlGain: number;
  /** The curl force field's gain (SimulateOptions.curlGain; 0: none). push holds the realised pushes. */
  curlGain: number;
  /** The perturbations that push the hand at every step (the curl field first); push holds the realised pushes. */
  pushers: Perturbation[];
  /**
   * The cursor map C in force (cursor.ts), or null. Under a cursor map y, v and e are the cursor's:
   * y_k = C (W_out r_k + b_out), v_k = y_k + C p_{k-1}, and push holds C p.
   */
  cursor: Mat2 | null;
  /** [T, B, nIn] inputs u_k. */
  u: A;
  /** [T, B, nOut] reference velocity v*_k and pushes p_k. */
  ref: A;
  /** [T, B, nOut] pushes p_k: the task's, plus those the curl field and pushing perturbations realised. */
  push: A;
  /** [T+1, B, N] pre-activations x_0..x_T ("hidden_raw"). */
  x: A;
  /** [T+1, B, N] rates r_0..r_T. */
  r: A;
  /** [T+1, B, nOut] raw readout y_0..y_T (y_0 = W_out r_0 + b_out). */
  y: A;
  /** [T+1, B, nOut] velocity v_k = y_k + p_{k-1} (v_0 = y_0). */
  v: A;
  /** [T+1, B, nOut] stored errors E: E[0] = 0, E[k] = e_k. The task loss is mean(E^2). */
  e: A;
  /** [B, nOut] the integrator's starting value e_0. */
  e0: A;
  /** [T, B, nOut] fed-back error eps_k. */
  eps: A;
  /** [T, B, N] control input c_k = (M o W_fb) eps_k (computed even when feedback is off). */
  c: A;
  /** Sum of r^2 over the steps simulated so far (r_0 .. r_k), for the rate penalty. */
  sumR2: number;
  /** The plant the hand is (NetworkConfig.plant), or null for the paper's massless hand. */
  plant: Plant | null;
  /** [T+1, B, nState] the plant's states s_0 .. s_T (empty without a plant). */
  ps: Float64Array;
  /** [B, 2] scratch: the force on the hand at the current step (pushScale times the push). */
  force: Float64Array;
}

function newRollout(dtype: DType, T: number, B: number, N: number, nIn: number, nOut: number): Rollout {
  return {
    T, B, N, nOut,
    feedback: true,
    detachFeedback: false,
    controlGain: 1,
    curlGain: 0,
    pushers: [],
    cursor: null,
    u: alloc(dtype, T * B * nIn),
    ref: alloc(dtype, T * B * nOut),
    push: alloc(dtype, T * B * nOut),
    x: alloc(dtype, (T + 1) * B * N),
    r: alloc(dtype, (T + 1) * B * N),
    y: alloc(dtype, (T + 1) * B * nOut),
    v: alloc(dtype, (T + 1) * B * nOut),
    e: alloc(dtype, (T + 1) * B * nOut),
    e0: alloc(dtype, B * nOut),
    eps: alloc(dtype, T * B * nOut),
    c: alloc(dtype, T * B * N),
    sumR2: 0,
    plant: null,
    ps: new Float64Array(0),
    force: new Float64Array(B * nOut),
  };
}

/** The effective feedback matrix M o W_fb. */
export function effectiveFeedback(net: Network): FArray {
  const { wFb, mask } = net.params;
  const out = alloc(dtypeOf(wFb), wFb.length);
  for (let i = 0; i < out.length; i++) out[i] = mask[i] * wFb[i];
  return out;
}

/** Simulates the network on a batch of trials (SPEC §2.3, §11). */
export function simulate(net: Network, batch: TrialBatch, options: SimulateOptions = {}): Rollout {
  assertFiniteParams(net);
  const map = cursorMap(options.perturbations);
  if (map !== null && !showsCursor(net, map)) net = seenThrough(net, map);
  const ro = beginRollout(net, batch, options);
  const replay = options.replayFeedback;
  const BO = ro.B * net.config.nOut;
  if (replay && replay.length !== ro.T * BO) throw new ParameterError("replayFeedback", `must have T*B*nOut = ${ro.T * BO} entries, got ${replay.length}`);
  const wFbEff = effectiveFeedback(net);
  for (let k = 0; k < ro.T; k++) stepRollout(net, ro, k, wFbEff, replay);
  return ro;
}

/**
 * Refuses a network with a non-finite weight. Without this, NaN weights pass silently: relu maps a NaN
 * drive to a rate of 0, and the hand stays still at a finite error.
 */
export function assertFiniteParams(net: Network): void {
  for (const [name, w] of Object.entries(net.params) as [string, ArrayLike<number> | undefined][]) {
    if (!w || typeof w.length !== "number") continue;
    for (let i = 0; i < w.length; i++) {
      if (!Number.isFinite(w[i])) throw new ParameterError(`params.${name}`, `entry ${i} is ${w[i]}; a network with non-finite weights cannot be simulated (did a learning run diverge?)`);
    }
  }
}

/** The network's input and output widths must match the batch's (3 inputs in the paper's task, 4 with an instructed delay). */
export function checkTaskFits(cfg: NetworkConfig, batch: TrialBatch): void {
  if (cfg.nOut !== N_OUTPUTS) throw new ParameterError("config.nOut", `the reaching task needs nOut=${N_OUTPUTS}, got ${cfg.nOut}`);
  if (cfg.nIn !== batch.nIn) {
    const which = (n: number) => (n === N_INPUTS + 1 ? " (the instructed-delay task)" : n === N_INPUTS ? " (the paper's task)" : "");
    throw new ParameterError(
      "config.nIn",
      `the network has ${cfg.nIn} input channels${which(cfg.nIn)} but the trials have ${batch.nIn}${which(batch.nIn)}: use a network pre-trained on the same task variant`,
    );
  }
}

/**
 * Sets up a rollout at step 0 (inputs, x_0, r_0, y_0, e_0) without running it; `stepRollout` then
 * advances it one step at a time, so that online learning rules can change weights between steps.
 */
export function beginRollout(net: Network, batch: TrialBatch, options: SimulateOptions = {}): Rollout {
  checkParams(net);
  const cfg = net.config;
  const { N, nIn, nOut } = cfg;
  const { T, B } = batch;
  checkTaskFits(cfg, batch);
  const dtype = dtypeOf(net.params.wRec);
  let ro = options.reuse;
  if (!ro || ro.T !== T || ro.B !== B || ro.N !== N || dtypeOf(ro.x) !== dtype) ro = newRollout(dtype, T, B, N, nIn, nOut);
  ro.feedback = options.feedback ?? true;
  ro.detachFeedback = options.detachFeedback ?? false;
  ro.controlGain = finite("controlGain", options.controlGain ?? 1);
  ro.curlGain = finite("curlGain", options.curlGain ?? 0);
  ro.pushers = [...(ro.curlGain !== 0 ? [curlField(ro.curlGain)] : []), ...(options.perturbations ?? []).filter((p) => p.push !== undefined)];
  const map = cursorMap(options.perturbations);
  if (map !== null && !showsCursor(net, map)) {
    throw new ParameterError("perturbations", `a cursor map [${map.join(", ")}] is in force: give beginRollout the network seen through it (cursor.seenThrough(net, map); simulate does this itself)`);
  }
  ro.plant = plantOf(cfg);
  // With a plant the cursor map acts on the hand's velocity that the plant produces (v = C v_hand); without
  // one, on the network seen through it (v = C (y + p)).
  ro.cursor = ro.plant !== null ? (map !== null && !isIdentity(map) ? map : null) : seenMap(net);
  if (ro.plant !== null) {
    const n = (T + 1) * B * ro.plant.nState;
    if (ro.ps.length !== n) ro.ps = new Float64Array(n);
    ro.plant.init(B, batch.start, ro.ps);
  }
  if (ro.cursor !== null && ro.pushers.length) {
    throw new ParameterError("perturbations", "a cursor map cannot be combined with pushes computed online (a curl field): they read the rollout's velocity, which is the cursor's");
  }
  ro.u.set(batch.inputs);
  ro.ref.set(batch.reference);
  ro.push.set(batch.pushes);
  // The task's pushes act on the hand, and the cursor shows them through its map (a plant's pushes are forces
  // on the hand, and the cursor shows the velocity they cause).
  if (ro.cursor !== null && ro.plant === null) applyInPlace(ro.cursor, ro.push);

  // Initial state x_0, r_0, y_0 and the integrator start e_0.
  const BN = B * N;
  const BO = B * nOut;
  if (options.x0) {
    if (options.x0.length !== BN) throw new ParameterError("x0", `must have B*N = ${BN} entries, got ${options.x0.length}`);
    for (let i = 0; i < BN; i++) ro.x[i] = options.x0[i];
  } else if (options.init) {
    for (let i = 0; i < BN; i++) ro.x[i] = options.init.uniformIn(-cfg.x0Scale, cfg.x0Scale);
  } else {
    throw new ParameterError("init", "give an Rng for the initial state (options.init) or the initial state itself (options.x0)");
  }
  let sumR2 = 0;
  for (let i = 0; i < BN; i++) {
    const r = ro.x[i] > 0 ? ro.x[i] : 0;
    ro.r[i] = r;
    sumR2 += r * r;
  }
  ro.sumR2 = sumR2;
  readout(net, ro, 0);
  // A plant with mass starts at rest; the massless hand's velocity is its readout (named or not).
  if (ro.plant !== null && ro.plant.name !== "massless") ro.v.fill(0, 0, BO);
  else ro.v.set(ro.y.subarray(0, BO));
  ro.e.fill(0, 0, BO);
  if (cfg.e0 === "readout") ro.e0.set(ro.y.subarray(0, BO));
  else ro.e0.fill(0);

  return ro;
}

/** y_k = W_out r_k + b_out for every trial. */
function readout(net: Network, ro: Rollout, k: number): void {
  const { N, nOut } = net.config;
  const B = ro.B;
  const y = ro.y.subarray(k * B * nOut, (k + 1) * B * nOut);
  gemm(false, true, B, nOut, N, 1, ro.r.subarray(k * B * N, (k + 1) * B * N), N, net.params.wOut, N, 0, y, nOut);
  for (let i = 0; i < y.length; i++) y[i] += net.params.bOut[i % nOut];
}

/**
 * Advances a rollout from step k to k+1 with the network's current weights. `wFbEff` is
 * effectiveFeedback(net), passed in so that it is computed once per trial; `replay` replaces the
 * fed-back error (see SimulateOptions.replayFeedback). `drive` ([B N]), when given, is W_rec r_k already
 * computed by the caller (an RFLO step fuses it into its pass over W_rec: kernels.rfloStep).
 */
export function stepRollout(net: Network, ro: Rollout, k: number, wFbEff: FArray = effectiveFeedback(net), replay?: ArrayLike<number>, drive?: FArray): void {
  const { N, nIn, nOut, dt, tau, fbDelay, recurrent, errorMode } = net.config;
  const { wIn, wRec, b } = net.params;
  const B = ro.B;
  const BN = B * N;
  const BO = B * nOut;
  const alpha = dt / tau;
  if (ro.cursor !== null && !showsCursor(net, ro.cursor)) throw new ParameterError("net", "the rollout is under a cursor map: step it with the network seen through it (cursor.seenThrough)");

  // Fed-back error eps_k = E[k - d] (zero for k < d) and the control input c_k.
  const eps = ro.eps.subarray(k * BO, (k + 1) * BO);
  if (drive && drive.length !== BN) throw new ParameterError("drive", `must have B*N = ${BN} entries, got ${drive.length}`);
  // Pushes of this step from the perturbations that act on the hand (a curl field: from this step's velocity).
  for (let i = 0; i < ro.pushers.length; i++) ro.pushers[i].push!(k, ro);
  if (replay) for (let i = 0; i < BO; i++) eps[i] = replay[k * BO + i];
  else {
    feedbackError(net.config, ro, k - fbDelay, eps);
    if (ro.controlGain !== 1) for (let i = 0; i < BO; i++) eps[i] *= ro.controlGain;
  }
  const native = ro.x instanceof Float32Array ? nativeKernels() : null;
  if (native) {
    const f = (a: FArray) => a as Float32Array;
    const p = net.params;
    // The native step has the massless hand built in: with a plant its v_{k+1} and e_{k+1} are replaced below.
    ro.sumR2 += native.rnnForwardStep(
      k, B, N, nIn, nOut, alpha, dt, ro.feedback, errorMode === "position", recurrent,
      f(ro.x), f(ro.r), f(ro.u), f(ro.eps), f(ro.c), f(ro.y), f(ro.v), f(ro.e), f(ro.e0), f(ro.ref), f(ro.push),
      f(p.wIn), f(p.wRec), f(wFbEff), f(p.b), f(p.wOut), f(p.bOut), drive ? f(drive) : null,
    );
    if (ro.plant !== null) handStep(net, ro, k);
    return;
  }
  const c = ro.c.subarray(k * BN, (k + 1) * BN);
  gemm(false, true, B, N, nOut, 1, eps, nOut, wFbEff, nOut, 0, c, N);

  // Drive = W_in u_k + W_rec r_k, accumulated in x_{k+1}'s slot, then the leaky update.
  const xPrev = ro.x.subarray(k * BN, (k + 1) * BN);
  const xNext = ro.x.subarray((k + 1) * BN, (k + 2) * BN);
  const rNext = ro.r.subarray((k + 1) * BN, (k + 2) * BN);
  gemm(false, true, B, N, nIn, 1, ro.u.subarray(k * B * nIn, (k + 1) * B * nIn), nIn, wIn, nIn, 0, xNext, N);
  if (recurrent && drive) for (let i = 0; i < BN; i++) xNext[i] += drive[i];
  else if (recurrent) gemm(false, true, B, N, N, 1, ro.r.subarray(k * BN, (k + 1) * BN), N, wRec, N, 1, xNext, N);
  const fb = ro.feedback ? 1 : 0;
  let sumR2 = 0;
  for (let row = 0; row < B; row++) {
    const o = row * N;
    for (let i = 0; i < N; i++) {
      const x = (1 - alpha) * xPrev[o + i] + alpha * (xNext[o + i] + fb * c[o + i] + b[i]);
      xNext[o + i] = x;
      const r = x > 0 ? x : 0;
      rNext[o + i] = r;
      sumR2 += r * r;
    }
  }
  ro.sumR2 += sumR2;

  // Readout, velocity with push, and the error.
  readout(net, ro, k + 1);
  handStep(net, ro, k);
}

/**
 * The coefficients of the fed-back error on the stored errors: eps = now E[j] + prev E[j-1] (E[0] read as the
 * integrator's start e_0), for j >= 1. [1, 0] without velocity feedback; with NetworkConfig.fbVelocityGain
 * kappa, [1 + kappa / dt, -kappa / dt]. Gradient code routes the fed-back error's adjoint by the same two.
 */
export function feedbackFilter(cfg: NetworkConfig): {
  /** The coefficient of E[j]: 1 + kappa / dt. */
  now: number;
  /** The coefficient of E[j-1]: -kappa / dt. */
  prev: number;
} {
  const kd = velocityPerStep(cfg);
  return { now: 1 + kd, prev: -kd };
}

/** kappa / dt: the weight of the error's change per step in the fed-back error (0 without velocity feedback). */
function velocityPerStep(cfg: NetworkConfig): number {
  return (cfg.fbVelocityGain ?? 0) / cfg.dt;
}

/**
 * Writes the error fed back from stored step j = k - d into eps ([B, nOut]): E[j], plus kappa times the velocity
 * error (E[j] - E[j-1]) / dt under NetworkConfig.fbVelocityGain; zero for j < 1 (E[0] = 0 is a constant).
 */
export function feedbackError(cfg: NetworkConfig, ro: Rollout, j: number, eps: FArray): void {
  const BO = ro.B * cfg.nOut;
  if (j < 1) {
    eps.fill(0);
    return;
  }
  const now = ro.e.subarray(j * BO, (j + 1) * BO);
  if (!cfg.fbVelocityGain) {
    eps.set(now);
    return;
  }
  // feedbackFilter's coefficients, from the same scalar without an object per step.
  const kd = velocityPerStep(cfg);
  const prev = j === 1 ? ro.e0 : ro.e.subarray((j - 1) * BO, j * BO);
  for (let i = 0; i < BO; i++) eps[i] = (1 + kd) * now[i] - kd * prev[i];
}

/**
 * The hand's step k -> k+1 and the error e_{k+1}: v_{k+1} = y_{k+1} + p_k for the massless hand, or, with a
 * plant, s_{k+1} = F(s_k, y_{k+1}, pushScale p_k) and v_{k+1} from it.
 */
function handStep(net: Network, ro: Rollout, k: number): void {
  const { nOut, dt, errorMode } = net.config;
  const B = ro.B;
  const BO = B * nOut;
  const y = ro.y.subarray((k + 1) * BO, (k + 2) * BO);
  const v = ro.v.subarray((k + 1) * BO, (k + 2) * BO);
  const eNext = ro.e.subarray((k + 1) * BO, (k + 2) * BO);
  const ePrev = k === 0 ? ro.e0 : ro.e.subarray(k * BO, (k + 1) * BO);
  const ref = ro.ref.subarray(k * BO, (k + 1) * BO);
  const push = ro.push.subarray(k * BO, (k + 1) * BO);
  const plant = ro.plant;
  if (plant !== null) {
    const S = B * plant.nState;
    for (let i = 0; i < BO; i++) ro.force[i] = plant.pushScale * push[i];
    plant.step(B, ro.ps.subarray(k * S, (k + 1) * S), y, ro.force, ro.ps.subarray((k + 1) * S, (k + 2) * S), v);
    // What is seen: the cursor moves by C times the hand's velocity.
    if (ro.cursor !== null) applyInPlace(ro.cursor, v);
  } else for (let i = 0; i < BO; i++) v[i] = y[i] + push[i];
  for (let i = 0; i < BO; i++) eNext[i] = errorMode === "position" ? ePrev[i] + dt * (ref[i] - v[i]) : ref[i] - v[i];
}

/**
 * Refuses a network with a plant or with velocity feedback in code that has the paper's loop built in (the
 * massless hand, the position error fed back: an analysis's linearisation): one line naming what refused.
 */
export function assertPaperLoop(cfg: NetworkConfig, what: string): void {
  if (cfg.plant) throw new ParameterError("plant", `${what} has the massless hand built in and does not handle a plant (${cfg.plant.name}) yet`);
  if (cfg.fbVelocityGain) throw new ParameterError("fbVelocityGain", `${what} has the position-error feedback built in and does not handle velocity feedback (fbVelocityGain ${cfg.fbVelocityGain}) yet`);
}

const plants = new WeakMap<NetworkConfig, Plant>();
/** The plant of a network config (made once per config object), or null for the massless hand. */
export function plantOf(cfg: NetworkConfig): Plant | null {
  if (!cfg.plant) return null;
  let p = plants.get(cfg);
  if (!p) {
    p = makePlant(cfg.plant);
    if (Math.abs(p.dt - cfg.dt) > 1e-12) throw new ParameterError("plant.options.dt", `must equal the network's dt (${cfg.dt}), got ${p.dt}`);
    plants.set(cfg, p);
  }
  return p;
}

/** Task loss mean(E^2) over all T+1 stored steps, trials and output dimensions (SPEC §4.2). */
export function taskLoss(ro: Rollout): number {
  let s = 0;
  for (let i = 0; i < ro.e.length; i++) s += ro.e[i] * ro.e[i];
  return s / ro.e.length;
}

/** Per-trial mean squared position error, [B]. */
export function trialErrors(ro: Rollout): Float64Array {
  const { T, B, nOut } = ro;
  const out = new Float64Array(B);
  for (let k = 0; k <= T; k++) {
    for (let b = 0; b < B; b++) {
      for (let d = 0; d < nOut; d++) {
        const e = ro.e[(k * B + b) * nOut + d];
        out[b] += e * e;
      }
    }
  }
  for (let b = 0; b < B; b++) out[b] /= (T + 1) * nOut;
  return out;
}

/** Mean squared rate over all T+1 steps, trials and units (the activity penalty's mean). */
export function meanSquaredRate(ro: Rollout): number {
  let s = 0;
  for (let i = 0; i < ro.r.length; i++) s += ro.r[i] * ro.r[i];
  return s / ro.r.length;
}

/**
 * Hand positions [T+1, B, 2]: the start plus the running sum of dt * v, as the reference plots
 * trajectories (position = cumulative dt * velocity from the start).
 */
export function handPositions(ro: Rollout, batch: TrialBatch, dt = batch.config.dt): Float64Array {
  const { T, B } = ro;
  const out = new Float64Array((T + 1) * B * 2);
  out.set(batch.start);
  for (let k = 1; k <= T; k++) {
    for (let i = 0; i < B * 2; i++) out[k * B * 2 + i] = out[(k - 1) * B * 2 + i] + dt * ro.v[k * B * 2 + i];
  }
  return out;
}
