/**
 * Versioned checkpoints in the safetensors layout: an 8-byte little-endian header length, a JSON
 * header (tensor name -> dtype, shape, byte range; "__metadata__" -> strings), then the raw
 * little-endian tensor bytes. Python reads them with `safetensors.numpy.load_file` or with plain
 * numpy (scripts/load_checkpoint.py). Network parameters use the reference code's PyTorch
 * state_dict names, so `model.load_state_dict` takes them directly.
 *
 * Metadata (all JSON strings): format, format_version, kind, config, rng (stream states), metrics,
 * meta (seed, code version, creation time, ...). Files are written atomically (temp file + rename); a failed
 * write removes its temp file and throws a one-line `WriteError`.
 */
import * as fs from "fs";
import * as path from "path";
import { codeVersion, provenance } from "./provenance";
import { PROJECT_ROOT } from "./paths";
import { FArray } from "./kernels";
import { Network, PARAM_NAMES, ParamName, Params, networkConfig, paramShapes, NetworkConfig } from "./network";
import { RngState } from "./rng";

/** The `format` metadata value every checkpoint carries; other files are rejected. */
export const CHECKPOINT_FORMAT = "fbcontrol.checkpoint";
/** The format version this code writes and reads. */
export const CHECKPOINT_VERSION = 1;

/** The element types a checkpoint stores (F32, F64, I32). */
export type TensorData = Float32Array | Float64Array | Int32Array;
/** One stored array: its shape and its flat row-major data. */
export interface Tensor {
  /** Dimensions, outermost first (a vector: [length]). */
  shape: number[];
  /** The entries, row-major; the length is the product of the shape. */
  data: TensorData;
}

/** Everything a checkpoint file holds, as `saveCheckpoint` takes it and `loadCheckpoint` returns it. */
export interface CheckpointContent {
  /** What the file holds, e.g. "network". */
  kind: string;
  /** The config of what is stored (e.g. a NetworkConfig), as JSON. */
  config: unknown;
  /** The arrays, by name. */
  tensors: Record<string, Tensor>;
  /** Random stream states, by stream name, to resume from. */
  rng?: Record<string, RngState>;
  /** Any JSON-able results (e.g. final losses). */
  metrics?: unknown;
  /** Provenance (seed, code version, commit, creation time, ...). */
  meta?: Record<string, unknown>;
}

/**
 * A file that is not a readable checkpoint (missing, truncated, another format or version, wrong shapes); the
 * message names the file and the problem.
 */
export class CheckpointError extends Error {
  /**
   * @param file the file that was read
   * @param problem what was wrong with it
   */
  constructor(readonly file: string, problem: string) {
    super(`checkpoint ${file}: ${problem}`);
    this.name = "CheckpointError";
  }
}

const DTYPES = { F32: Float32Array, F64: Float64Array, I32: Int32Array } as const;
type DTypeName = keyof typeof DTYPES;

function dtypeName(data: TensorData): DTypeName {
  if (data instanceof Float64Array) return "F64";
  if (data instanceof Float32Array) return "F32";
  return "I32";
}

/**
 * A file that could not be written (a full disk, a folder without write permission, a path through a
 * file, ...). Thrown by `writeFileAtomic` for a failure at any step (folder, open, write, fsync, close,
 * rename), after it has removed its temporary file. The message is one line naming the file, its folder
 * and the cause, e.g. `could not write runs/adapt/x.safetensors (folder runs/adapt): ENOSPC: no space left
 * on device, write; nothing was left behind`; a file that existed before is left as it was.
 */
export class WriteError extends Error {
  /** Always "WriteError". */
  override name = "WriteError";
  /** The cause's error code, e.g. "ENOSPC", "EACCES", "EISDIR" (undefined if it had none). */
  readonly code: string | undefined;
  /**
   * @param file the destination (absolute)
   * @param dir its folder (absolute)
   * @param cause the original error (also `this.cause`)
   * @param leftBehind the temporary file, if even removing it failed (then the message names it)
   */
  constructor(readonly file: string, readonly dir: string, cause: unknown, readonly leftBehind: string | null = null) {
    const c = cause as NodeJS.ErrnoException & { dest?: string };
    let why = cause instanceof Error ? cause.message : String(cause);
    // Node's fs messages end in the path (`, write '/x/y.tmp'`): the file and folder are named already.
    if (typeof c?.path === "string") why = why.replace(` '${c.path}'`, "");
    if (typeof c?.dest === "string") why = why.replace(` -> '${c.dest}'`, "");
    why = why.replace(/\s*\n\s*/g, " ").trim();
    const after = leftBehind ? `the temporary file ${shownPath(leftBehind)} could not be removed, delete it by hand` : "nothing was left behind";
    super(`could not write ${shownPath(file)} (folder ${shownPath(dir)}): ${why}; ${after}`, { cause });
    this.code = typeof c?.code === "string" ? c.code : undefined;
  }
}

/** A path for a message: relative to the working folder when inside it, else absolute. */
function shownPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : p;
}

let tempCount = 0;

/**
 * Writes `bytes` to `file` atomically: a temp file `<file>.<pid>.<n>.tmp` in the same folder, fsync,
 * then rename over `file`. Readers see the old file or the new one, never a part. On any failure the
 * temp file is removed, `file` is left as it was, and a `WriteError` is thrown. (Only a process killed
 * mid-write leaves a temp file, which a later write never reads.)
 */
export function writeFileAtomic(file: string, bytes: Uint8Array | string): void {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  let tmp: string | null = null; // set once the temp file exists, so only a file we created is removed
  let fd: number | null = null;
  try {
    fs.mkdirSync(dir, { recursive: true });
    const name = `${target}.${process.pid}.${++tempCount}.tmp`;
    fd = fs.openSync(name, "w");
    tmp = name;
    fs.writeFileSync(fd, bytes);
    fs.fsyncSync(fd);
    const open = fd;
    fd = null; // closed even if close fails: never close a descriptor twice
    fs.closeSync(open);
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch {
        // the write already failed; that error is the one to report
      }
    }
    let leftBehind: string | null = null;
    if (tmp !== null) {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        leftBehind = tmp;
      }
    }
    throw new WriteError(target, dir, err, leftBehind);
  }
}

/** Serialises a checkpoint to bytes (safetensors layout). */
export function encodeCheckpoint(content: CheckpointContent): Buffer {
  // Widest dtype first, so every tensor starts aligned to its element size and the buffer has no holes.
  const names = Object.keys(content.tensors).sort((a, b) => {
    const wa = content.tensors[a].data.BYTES_PER_ELEMENT;
    const wb = content.tensors[b].data.BYTES_PER_ELEMENT;
    return wb - wa || (a < b ? -1 : a > b ? 1 : 0);
  });
  const header: Record<string, unknown> = {
    __metadata__: {
      format: CHECKPOINT_FORMAT,
      format_version: String(CHECKPOINT_VERSION),
      kind: content.kind,
      config: JSON.stringify(content.config ?? null),
      rng: JSON.stringify(content.rng ?? {}),
      metrics: JSON.stringify(content.metrics ?? null),
      meta: JSON.stringify(content.meta ?? {}),
    },
  };
  let offset = 0;
  for (const name of names) {
    const t = content.tensors[name];
    const n = t.shape.reduce((p, q) => p * q, 1);
    if (n !== t.data.length) throw new Error(`tensor ${name}: shape [${t.shape}] needs ${n} entries, data has ${t.data.length}`);
    header[name] = { dtype: dtypeName(t.data), shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const d = content.tensors[name].data;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, at);
    at += d.byteLength;
  }
  return out;
}

/**
 * Writes `content` to `file` in the safetensors layout, atomically.
 * @throws WriteError if the file could not be written
 */
export function saveCheckpoint(file: string, content: CheckpointContent): void {
  writeFileAtomic(file, encodeCheckpoint(content));
}

/** Parses checkpoint bytes; `file` only names the source in error messages. */
export function decodeCheckpoint(bytes: Buffer, file = "<buffer>"): CheckpointContent {
  if (bytes.length < 8) throw new CheckpointError(file, `truncated: ${bytes.length} bytes, not even the 8-byte header length`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (8 + headerLength > bytes.length) {
    throw new CheckpointError(file, `truncated: header says ${headerLength} header bytes but the file has ${bytes.length} bytes`);
  }
  let header: Record<string, any>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
  } catch (err) {
    throw new CheckpointError(file, `header is not valid JSON (${(err as Error).message}); not a checkpoint?`);
  }
  const meta = header.__metadata__ ?? {};
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(file, `not an ${CHECKPOINT_FORMAT} file (format ${JSON.stringify(meta.format)})`);
  }
  if (meta.format_version !== String(CHECKPOINT_VERSION)) {
    throw new CheckpointError(file, `unknown format version ${JSON.stringify(meta.format_version)}; this code reads version ${CHECKPOINT_VERSION}`);
  }
  const dataStart = 8 + headerLength;
  const tensors: Record<string, Tensor> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const Ctor = DTYPES[entry.dtype as DTypeName];
    if (!Ctor) throw new CheckpointError(file, `tensor ${name} has unsupported dtype ${JSON.stringify(entry.dtype)}`);
    const [begin, end] = entry.data_offsets as [number, number];
    const n = (entry.shape as number[]).reduce((p, q) => p * q, 1);
    if (end - begin !== n * Ctor.BYTES_PER_ELEMENT) {
      throw new CheckpointError(file, `tensor ${name}: shape [${entry.shape}] does not match its ${end - begin} bytes`);
    }
    if (dataStart + end > bytes.length) {
      throw new CheckpointError(file, `truncated: tensor ${name} ends at byte ${dataStart + end} but the file has ${bytes.length} bytes`);
    }
    const copy = new Uint8Array(end - begin);
    copy.set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors[name] = { shape: entry.shape, data: new Ctor(copy.buffer) };
  }
  const parse = (key: string) => {
    try {
      return JSON.parse(meta[key] ?? "null");
    } catch {
      throw new CheckpointError(file, `metadata field ${key} is not valid JSON`);
    }
  };
  return { kind: meta.kind, config: parse("config"), tensors, rng: parse("rng") ?? {}, metrics: parse("metrics"), meta: parse("meta") ?? {} };
}

/**
 * Reads and checks a checkpoint file.
 * @throws CheckpointError if it cannot be read or is not a valid checkpoint of this version
 */
export function loadCheckpoint(file: string): CheckpointContent {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new CheckpointError(file, `cannot read ${readProblem(file, err)}`);
  }
  return decodeCheckpoint(bytes, file);
}

/**
 * Why a file could not be read, with the absolute path that was tried; for a relative path that does
 * not resolve from the working directory (notebooks run in notebooks/) but does from the project root,
 * the hint names `dataPath`/`projectPath`.
 */
export function readProblem(file: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  const tried = path.resolve(file);
  let text = `(${code}`;
  if (!path.isAbsolute(file)) {
    text += `; tried ${tried}: relative paths resolve from the working directory ${process.cwd()}`;
    const fromRoot = path.join(PROJECT_ROOT, file);
    if (fromRoot !== tried && fs.existsSync(fromRoot)) {
      const parts = path.relative(PROJECT_ROOT, fromRoot).split(path.sep);
      const call = parts[0] === "data" ? `dataPath(${parts.slice(1).map((q) => JSON.stringify(q)).join(", ")})` : `projectPath(${parts.map((q) => JSON.stringify(q)).join(", ")})`;
      text += `; the project has ${fromRoot}: use ${call}`;
    }
  }
  return text + ")";
}

/** The reference code's PyTorch state_dict name of each parameter. */
export const TORCH_NAMES: Record<ParamName, string> = {
  wIn: "rnn.weight_ih_l0",
  wRec: "rnn.weight_hh_l0",
  wOut: "output.weight",
  bOut: "output.bias",
  wFb: "feedback.weight",
  b: "feedback.bias",
  mask: "mask.weight",
};

/** A network checkpoint as `loadNetwork` returns it. */
export interface NetworkCheckpoint {
  /** The network, its config validated and its parameters checked against the config's shapes. */
  network: Network;
  /** Random stream states saved with it ({} if none). */
  rng: Record<string, RngState>;
  /** Results saved with it (null if none). */
  metrics: unknown;
  /** Provenance: code version, commit, clean tree, creation time, and whatever the writer added. */
  meta: Record<string, unknown>;
  /** Tensors other than the network's parameters (e.g. training curves). */
  extra: Record<string, Tensor>;
}

/**
 * Saves a network's config and parameters (under the reference's PyTorch names), with optional stream states,
 * metrics, extra metadata and extra tensors; provenance is added to the metadata.
 * @throws WriteError if the file could not be written
 */
export function saveNetwork(
  file: string,
  network: Network,
  extras: { rng?: Record<string, RngState>; metrics?: unknown; meta?: Record<string, unknown>; tensors?: Record<string, Tensor> } = {},
): void {
  const shapes = paramShapes(network.config);
  const tensors: Record<string, Tensor> = { ...(extras.tensors ?? {}) };
  for (const name of PARAM_NAMES) tensors[TORCH_NAMES[name]] = { shape: shapes[name], data: network.params[name] };
  saveCheckpoint(file, {
    kind: "network",
    config: network.config,
    tensors,
    rng: extras.rng,
    metrics: extras.metrics,
    meta: { codeVersion: codeVersion(), commit: provenance().commit, clean: provenance().clean, createdAt: new Date().toISOString(), ...(extras.meta ?? {}) },
  });
}

/**
 * Loads a network saved by `saveNetwork`; tensors that are not parameters come back in `extra`.
 * @throws CheckpointError if the file is not a network checkpoint or its tensors do not fit its config
 */
export function loadNetwork(file: string): NetworkCheckpoint {
  const ck = loadCheckpoint(file);
  if (ck.kind !== "network") throw new CheckpointError(file, `holds a ${JSON.stringify(ck.kind)}, not a network`);
  let config: NetworkConfig;
  try {
    config = networkConfig(ck.config as Partial<NetworkConfig>);
  } catch (err) {
    throw new CheckpointError(file, `invalid network config: ${(err as Error).message}`);
  }
  const shapes = paramShapes(config);
  const params = {} as Params;
  let dtype: string | undefined;
  for (const name of PARAM_NAMES) {
    const t = ck.tensors[TORCH_NAMES[name]];
    if (!t) throw new CheckpointError(file, `missing tensor ${TORCH_NAMES[name]}`);
    if (t.shape.join(",") !== shapes[name].join(",")) {
      throw new CheckpointError(file, `tensor ${TORCH_NAMES[name]} has shape [${t.shape}], expected [${shapes[name]}] for N=${config.N}`);
    }
    if (t.data instanceof Int32Array) throw new CheckpointError(file, `tensor ${TORCH_NAMES[name]} must be F32 or F64`);
    if (dtype && dtypeName(t.data) !== dtype) throw new CheckpointError(file, `tensor ${TORCH_NAMES[name]} is ${dtypeName(t.data)}, others are ${dtype}`);
    dtype = dtypeName(t.data);
    params[name] = t.data as FArray;
  }
  const extra: Record<string, Tensor> = {};
  const own = new Set(Object.values(TORCH_NAMES));
  for (const [name, t] of Object.entries(ck.tensors)) if (!own.has(name)) extra[name] = t;
  return { network: { config, params }, rng: ck.rng ?? {}, metrics: ck.metrics, meta: ck.meta ?? {}, extra };
}

/** codeVersion() moved to provenance.ts; re-exported here for existing callers. */
export { codeVersion } from "./provenance";
