/**
 * TensorFlow.js start-up: picks the fastest backend that loads here, in the order
 * tfjs-node-gpu (CUDA) > tfjs-node (native CPU) > wasm (SIMD) > cpu (plain JS),
 * and reports which one is active and why each faster one was skipped.
 *
 * tfjs-node and tfjs-node-gpu are optional dependencies: their install script downloads
 * libtensorflow, which fails on machines without that host, and npm then leaves them out.
 * Set FBC_TF_BACKEND to one of the names below to force a backend.
 */
import type * as tfType from "@tensorflow/tfjs";
import { oneOf } from "./validate";

/**
 * The TensorFlow.js backends `initTf` tries, fastest first: tfjs-node-gpu (CUDA), tfjs-node (native CPU), wasm, cpu.
 */
export const TF_BACKENDS = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"] as const;
/** A backend name of `TF_BACKENDS` (what FBC_TF_BACKEND may be set to). */
export type TfBackendName = (typeof TF_BACKENDS)[number];

/** One backend `initTf` tried: whether it started and why not. */
export interface BackendAttempt {
  /** The backend tried. */
  name: TfBackendName;
  /** True for the one that started (the last attempt). */
  ok: boolean;
  /** Why it was skipped, or what was loaded. */
  detail: string;
}

/** A started TensorFlow.js, as `initTf` returns it. */
export interface TfSession {
  /** The tfjs module, with the chosen backend active. */
  tf: typeof tfType;
  /** tf.getBackend() after start-up: "tensorflow" for both native packages, else "wasm" or "cpu". */
  backend: string;
  /** The backend that started. */
  chosen: TfBackendName;
  /** Every backend tried, in order, the chosen one last. */
  attempts: BackendAttempt[];
}

let session: Promise<TfSession> | undefined;

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0].slice(0, 200);
}

async function tryBackend(name: TfBackendName): Promise<typeof tfType> {
  switch (name) {
    case "tensorflow-gpu":
    case "tensorflow": {
      // Each native package registers the "tensorflow" backend and re-exports tfjs.
      const tf = require(name === "tensorflow-gpu" ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node") as typeof tfType;
      if (!(await tf.setBackend("tensorflow"))) throw new Error("setBackend('tensorflow') returned false");
      return tf;
    }
    case "wasm": {
      const tf = require("@tensorflow/tfjs") as typeof tfType;
      require("@tensorflow/tfjs-backend-wasm");
      if (!(await tf.setBackend("wasm"))) throw new Error("setBackend('wasm') returned false");
      return tf;
    }
    case "cpu": {
      const tf = require("@tensorflow/tfjs") as typeof tfType;
      if (!(await tf.setBackend("cpu"))) throw new Error("setBackend('cpu') returned false");
      return tf;
    }
  }
}

async function start(order: readonly TfBackendName[]): Promise<TfSession> {
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    try {
      const tf = await tryBackend(name);
      await tf.ready();
      attempts.push({ name, ok: true, detail: `active (tfjs ${tf.version_core})` });
      return { tf, backend: tf.getBackend(), chosen: name, attempts };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const detail = e?.code === "MODULE_NOT_FOUND" ? "package not installed (optional dependency; see environment.md)" : firstLine(err);
      attempts.push({ name, ok: false, detail });
    }
  }
  throw new Error(`no TensorFlow.js backend could start:\n${attempts.map((a) => `  ${a.name}: ${a.detail}`).join("\n")}`);
}

/**
 * Starts TensorFlow.js once per process and returns the session (later calls return the same one).
 * `FBC_TF_BACKEND=<name>` (or `prefer`) forces one backend.
 */
export function initTf(prefer?: TfBackendName): Promise<TfSession> {
  const forced = prefer ?? (process.env.FBC_TF_BACKEND as TfBackendName | undefined);
  if (forced !== undefined) oneOf(prefer ? "prefer" : "FBC_TF_BACKEND", forced, TF_BACKENDS);
  if (!session) session = start(forced ? [forced] : TF_BACKENDS);
  return session;
}

/** One line per backend tried, for notebooks and logs. */
export function describeTf(s: TfSession): string {
  return s.attempts.map((a) => `${a.ok ? "✓" : "✗"} ${a.name}: ${a.detail}`).join("\n");
}
