/**
 * Perturbations of the seen hand, as in the experiments (a rotated or mirrored cursor, a cursor gain):
 * the cursor moves by C times the hand's velocity, v = C (y + p), and everything downstream of the hand
 * uses the cursor: the integrated error e, the loss, the fed-back control input and every learning
 * signal. The paper's perturbation is different: it rotates the velocity the hand must produce
 * (perturbation.targetRotation), and the error stays in the hand's frame.
 *
 * A cursor map C is linear, so the network seen through it is the same network with its readout
 * replaced by C W_out and C b_out: `seenThrough` builds that network, sharing every other weight array
 * (W_rec learns in place). The forward pass, the native kernels, every gradient (BPTT, the rules, the
 * Jacobians and Hessians, TensorFlow.js autodiff) then take the cursor into account with no code of
 * their own. Under a cursor map a rollout's y, v and e are the cursor's (y_k = C (W_out r_k + b_out));
 * `handFromCursor` gives the hand back. The integrator's start e_0 is the cursor's initial readout C y_0
 * (the reference's quirk, SPEC §2.2, seen through the cursor).
 *
 *   simulate(net, batch, { perturbations: [cursorRotation(90)] })   // or { name: "cursor_rotation", options: { deg: 90 } }
 */
import type { Network, Params } from "./network";
import { ParameterError, finite } from "./validate";

/** A 2x2 matrix, row-major [a, b, c, d]: (x, y) -> (a x + b y, c x + d y). */
export type Mat2 = readonly [number, number, number, number];

/** The identity map. */
export const IDENTITY: Mat2 = [1, 0, 0, 1];

/** Counter-clockwise rotation by `deg` degrees. Exact at multiples of 90° (cos and sin are snapped to 0 and ±1 there). */
export function rotationMatrix(deg: number): Mat2 {
  finite("deg", deg);
  const q = deg / 90;
  if (Number.isInteger(q)) {
    const m = ((q % 4) + 4) % 4;
    const [c, s] = [[1, 0], [0, 1], [-1, 0], [0, -1]][m];
    return [c, -s, s, c];
  }
  const phi = (deg * Math.PI) / 180;
  return [Math.cos(phi), -Math.sin(phi), Math.sin(phi), Math.cos(phi)];
}

/**
 * Reflection about the line through the origin at `axisDeg` degrees from the x axis: 90 (the default)
 * is the reach's vertical axis, x -> -x (left and right swap); 0 swaps up and down.
 */
export function mirrorMatrix(axisDeg = 90): Mat2 {
  finite("axisDeg", axisDeg);
  const q = axisDeg / 45;
  if (Number.isInteger(q)) {
    // Exact at multiples of 45°: cos 2θ and sin 2θ are 0 or ±1.
    const m = ((q % 4) + 4) % 4;
    const [c, s] = [[1, 0], [0, 1], [-1, 0], [0, -1]][m];
    return [c, s, s, -c];
  }
  const t = (2 * axisDeg * Math.PI) / 180;
  return [Math.cos(t), Math.sin(t), Math.sin(t), -Math.cos(t)];
}

/** Product a b (apply b first, then a). */
export function multiply(a: Mat2, b: Mat2): Mat2 {
  return [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3]];
}

/** The inverse map; throws when C is singular (a cursor that does not move with the hand in some direction). */
export function inverse(m: Mat2): Mat2 {
  const det = m[0] * m[3] - m[1] * m[2];
  if (!(Math.abs(det) > 0) || !Number.isFinite(det)) throw new ParameterError("cursor", `the map [${m.join(", ")}] is singular (determinant ${det})`);
  return [m[3] / det, -m[1] / det, -m[2] / det, m[0] / det];
}

/** The transpose of a 2x2 map (row-major). */
export function transpose(m: Mat2): Mat2 {
  return [m[0], m[2], m[1], m[3]];
}

/** Whether m is exactly the identity (then the network is simulated unchanged, bit for bit). */
export function isIdentity(m: Mat2): boolean {
  return m[0] === 1 && m[1] === 0 && m[2] === 0 && m[3] === 1;
}

/** Throws unless m is a 2x2 matrix of 4 finite numbers. */
export function checkMat2(m: unknown, what = "cursor"): Mat2 {
  if (!Array.isArray(m) || m.length !== 4 || !m.every((v) => typeof v === "number" && Number.isFinite(v))) {
    throw new ParameterError(what, `must be a 2x2 matrix [a, b, c, d] of finite numbers, got ${JSON.stringify(m)}`);
  }
  return m as unknown as Mat2;
}

/**
 * The combined cursor map of the perturbations that declare one (`Perturbation.cursor`), applied in
 * order (the first one acts on the hand, the next on what the first shows); null when none does.
 */
export function cursorMap(perturbations: readonly { readonly name: string; readonly cursor?: Mat2 }[] | undefined): Mat2 | null {
  let out: Mat2 | null = null;
  for (const p of perturbations ?? []) {
    if (p.cursor === undefined) continue;
    const c = checkMat2(p.cursor, `perturbation ${p.name}: cursor`);
    out = out === null ? c : multiply(c, out);
  }
  return out;
}

const seen = new WeakMap<Network, { base: Network; map: Mat2 }>();

/**
 * The network as seen through cursor map C: readout C W_out and bias C b_out (new arrays in the net's
 * dtype, computed in float64), every other parameter array shared with `net` (so that W_rec learning in
 * place changes both). The identity map returns `net` itself.
 */
export function seenThrough(net: Network, map: Mat2 | null): Network {
  if (map === null || isIdentity(map)) return net;
  // A network driving a plant is not changed: the cursor map acts on the plant's hand velocity, in the
  // rollout (network.beginRollout), since turning the readout would turn the plant's command.
  if (net.config.plant) return net;
  const m = checkMat2(map as unknown as number[]);
  if (net.config.nOut !== 2) throw new ParameterError("cursor", `a cursor map needs a 2-d output, the network has ${net.config.nOut}`);
  const { wOut, bOut } = net.params;
  const N = net.config.N;
  const Ctor = wOut instanceof Float64Array ? Float64Array : Float32Array;
  const w = new Ctor(2 * N);
  for (let i = 0; i < N; i++) {
    const a = wOut[i];
    const b = wOut[N + i];
    w[i] = m[0] * a + m[1] * b;
    w[N + i] = m[2] * a + m[3] * b;
  }
  const bias = new Ctor(2);
  bias[0] = m[0] * bOut[0] + m[1] * bOut[1];
  bias[1] = m[2] * bOut[0] + m[3] * bOut[1];
  const params: Params = { ...net.params, wOut: w, bOut: bias };
  const out: Network = { config: net.config, params };
  seen.set(out, { base: net, map: m });
  return out;
}

/** The cursor map a network was seen through (`seenThrough`), or null for a network as it is. */
export function seenMap(net: Network): Mat2 | null {
  return seen.get(net)?.map ?? null;
}

/** Whether `net` simulates cursor map `map` (null: no cursor): the identity needs no change. */
export function showsCursor(net: Network, map: Mat2 | null): boolean {
  if (net.config.plant) return true; // the rollout applies the map after the plant (seenThrough)
  const has = seenMap(net);
  if (map === null || isIdentity(map)) return has === null;
  return has !== null && has.every((v, i) => v === map[i]);
}

/**
 * Applies m to every 2-vector of a time-major [.., 2] array in place (a batch's pushes, which act on the
 * hand and so are seen through the cursor).
 */
export function applyInPlace(m: Mat2, a: { length: number; [i: number]: number }): void {
  for (let i = 0; i + 1 < a.length; i += 2) {
    const x = a[i];
    const y = a[i + 1];
    a[i] = m[0] * x + m[1] * y;
    a[i + 1] = m[2] * x + m[3] * y;
  }
}

/**
 * Hand positions from the cursor's ([T+1, B, 2], e.g. `network.handPositions` of a rollout under cursor
 * map m): the hand's displacement from the start is C^-1 times the cursor's.
 */
export function handFromCursor(cursorPositions: Float64Array, start: ArrayLike<number>, m: Mat2 | null): Float64Array {
  const out = Float64Array.from(cursorPositions);
  if (m === null || isIdentity(m)) return out;
  const inv = inverse(m);
  const B = start.length / 2;
  for (let i = 0; i < out.length; i += 2) {
    const b = (i / 2) % B;
    const dx = out[i] - start[2 * b];
    const dy = out[i + 1] - start[2 * b + 1];
    out[i] = start[2 * b] + inv[0] * dx + inv[1] * dy;
    out[i + 1] = start[2 * b + 1] + inv[2] * dx + inv[3] * dy;
  }
  return out;
}
