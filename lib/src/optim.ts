/**
 * Adam and global gradient-norm clipping, as PyTorch implements them (SPEC §4.3):
 *   clip:  coef = maxNorm / (|g| + 1e-6), applied to every gradient when coef < 1 (|g| over all of them);
 *   Adam:  m <- b1 m + (1-b1) g,  v <- b2 v + (1-b2) g^2,
 *          theta <- theta - (lr / (1-b1^t)) m / (sqrt(v) / sqrt(1-b2^t) + eps).
 */
import { FArray } from "./kernels";
import { finite, inRange, positive, ParameterError } from "./validate";

/** Adam's hyperparameters (PyTorch's names and defaults). Defaults: `DEFAULT_ADAM`. */
export interface AdamConfig {
  /** Learning rate (1e-3). */
  lr: number;
  /** Decay of the first-moment average (0.9). */
  beta1: number;
  /** Decay of the second-moment average (0.999). */
  beta2: number;
  /** Added to the denominator, sqrt(v) / sqrt(1 - beta2^t) + eps (1e-8). */
  eps: number;
}

/** PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8. */
export const DEFAULT_ADAM: Readonly<AdamConfig> = Object.freeze({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });

/** Global L2 norm of all gradients, and the factor clipping applied (1 when the norm was within maxNorm). */
export function clipGradNorm(
  grads: FArray[],
  maxNorm: number,
): {
  /** The global L2 norm before clipping. */
  norm: number;
  /** The factor every gradient was multiplied by (1: not clipped). */
  scale: number;
} {
  positive("maxNorm", maxNorm);
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  const norm = Math.sqrt(s);
  if (!Number.isFinite(norm)) throw new ParameterError("grads", `gradient norm is ${norm}; the loss diverged`);
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return { norm, scale: 1 };
  for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return { norm, scale: coef };
}

/** Adam's step count and moments, as `Adam.state()` returns them and checkpoints store. */
export interface AdamState {
  /** Steps taken. */
  t: number;
  /** First moments, by parameter name. */
  m: Record<string, FArray>;
  /** Second moments, by parameter name. */
  v: Record<string, FArray>;
}

/** The Adam optimiser over named arrays, updated in place; its moments have each parameter's dtype. */
export class Adam {
  /** The validated hyperparameters. */
  readonly config: AdamConfig;
  /** Steps taken so far (bias corrections use it). */
  t = 0;
  /** First moments, by parameter name. */
  readonly m: Record<string, FArray> = {};
  /** Second moments, by parameter name. */
  readonly v: Record<string, FArray> = {};

  /** `params`: the tensors this optimiser updates, by name (moments get their dtype and size). */
  constructor(params: Record<string, FArray>, config: Partial<AdamConfig> = {}) {
    const c = { ...DEFAULT_ADAM, ...config };
    positive("lr", c.lr);
    inRange("beta1", c.beta1, 0, 0.999999);
    inRange("beta2", c.beta2, 0, 0.999999999);
    finite("eps", c.eps);
    this.config = c;
    for (const [name, p] of Object.entries(params)) {
      const Ctor = p instanceof Float64Array ? Float64Array : Float32Array;
      this.m[name] = new Ctor(p.length);
      this.v[name] = new Ctor(p.length);
    }
  }

  /** One step on every parameter named at construction. */
  step(params: Record<string, FArray>, grads: Record<string, FArray>): void {
    this.t += 1;
    const { lr, beta1, beta2, eps } = this.config;
    const stepSize = lr / (1 - beta1 ** this.t);
    const sqrtBc2 = Math.sqrt(1 - beta2 ** this.t);
    for (const name of Object.keys(this.m)) {
      const p = params[name];
      const g = grads[name];
      const m = this.m[name];
      const v = this.v[name];
      for (let i = 0; i < p.length; i++) {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
        p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtBc2 + eps);
      }
    }
  }

  /** The step count and moments (the live arrays, not copies). */
  state(): AdamState {
    return { t: this.t, m: this.m, v: this.v };
  }

  /** Restores moments and step count saved by `state()`. */
  load(state: AdamState): void {
    if (!Number.isInteger(state.t) || state.t < 0) throw new ParameterError("adam.t", `must be an integer >= 0, got ${state.t}`);
    for (const name of Object.keys(this.m)) {
      for (const key of ["m", "v"] as const) {
        const src = state[key][name];
        if (!src || src.length !== this[key][name].length) throw new ParameterError(`adam.${key}.${name}`, `must have ${this[key][name].length} entries`);
        this[key][name].set(src);
      }
    }
    this.t = state.t;
  }
}
