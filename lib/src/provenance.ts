/**
 * Where a result came from, and whether a stored result may be reused for a request.
 *
 * - `provenance()`: the git commit of the code and whether the tree was clean (tracked files only), so
 *   that an artifact's origin can be rebuilt; `codeVersion()` is its short form, "<sha12>" or "<sha12>+dirty".
 * - `sha256File()`: content hashes of inputs (a pre-trained checkpoint, a sweep grid), recorded in the
 *   settings of whatever is computed from them.
 * - `settingsDiff()`: the keys whose values differ between two settings objects, for the rule that a
 *   checkpoint is resumed, and a result reused, only when every setting is identical.
 * - `isShipped()`: whether a path lies in the shipped data folder, which the tools never write unasked.
 */
import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import { execFileSync } from "child_process";
import { dataPath } from "./paths";

/** The code's git commit and whether the tree was clean, as `provenance()` returns them. */
export interface Provenance {
  /** Full commit hash of HEAD, or null outside a git checkout. */
  commit: string | null;
  /** No uncommitted changes to tracked files outside data/ (untracked files do not count). */
  clean: boolean;
  /** "<first 12 of commit>", with "+dirty" when not clean; "unknown" outside git. */
  codeVersion: string;
}

let cached: Provenance | undefined;

/** The code's commit and cleanliness, read once per process (at the start of a run, before it computes). */
export function provenance(): Provenance {
  if (cached === undefined) {
    const opts = { cwd: __dirname, stdio: ["ignore", "pipe", "ignore"] as ("ignore" | "pipe")[], encoding: "utf8" as const };
    try {
      const commit = execFileSync("git", ["rev-parse", "HEAD"], opts).trim();
      // data/ is what the tools write (with --replace-shipped), not code; inputs read from it are identified
      // by their content hash. So a run that has already replaced some shipped results still counts as clean.
      const root = execFileSync("git", ["rev-parse", "--show-toplevel"], opts).trim();
      const status = execFileSync("git", ["-C", root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)data"], opts);
      const clean = status.trim() === "";
      cached = { commit, clean, codeVersion: commit.slice(0, 12) + (clean ? "" : "+dirty") };
    } catch {
      cached = { commit: null, clean: false, codeVersion: "unknown" };
    }
  }
  return cached;
}

/** "<sha12>" or "<sha12>+dirty" ("unknown" outside a git checkout). */
export function codeVersion(): string {
  return provenance().codeVersion;
}

/** Whether a recorded code version names a commit of a clean tree (accepts both the short and full form). */
export function isCleanVersion(version: unknown): boolean {
  return typeof version === "string" && /^[0-9a-f]{7,40}$/.test(version);
}

/** SHA-256 of a file's bytes, hex. */
export function sha256File(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** SHA-256 of a string (e.g. a canonical JSON), hex. */
export function sha256Text(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** One setting that differs: its dotted key and the two values (undefined: absent on that side). */
export interface SettingDifference {
  /** Dotted path of the setting, e.g. "network.fbDelay". */
  key: string;
  /** Its value in the stored settings. */
  stored: unknown;
  /** Its value in the requested settings. */
  requested: unknown;
}

/**
 * Every leaf key whose value differs between `stored` and `requested` (plain objects are compared key by
 * key, everything else by JSON value; NaN equals NaN). An empty list means the settings are identical.
 */
export function settingsDiff(stored: unknown, requested: unknown, prefix = ""): SettingDifference[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(stored) && isObj(requested)) {
    const keys = [...new Set([...Object.keys(stored), ...Object.keys(requested)])].sort();
    return keys.flatMap((k) => settingsDiff(stored[k], requested[k], prefix ? `${prefix}.${k}` : k));
  }
  const same = JSON.stringify(stored) === JSON.stringify(requested) || (Number.isNaN(stored) && Number.isNaN(requested));
  return same ? [] : [{ key: prefix || "(settings)", stored, requested }];
}

/** "batches 5000 -> 20, network.N 400 -> 50" (at most `max` listed, then "and K more"). */
export function describeDiff(diff: SettingDifference[], max = 8): string {
  const show = (v: unknown) => (v === undefined ? "(absent)" : typeof v === "string" ? v : JSON.stringify(v));
  const shown = diff.slice(0, max).map((d) => `${d.key} ${show(d.stored)} -> ${show(d.requested)}`);
  if (diff.length > max) shown.push(`and ${diff.length - max} more`);
  return shown.join(", ");
}

/** Whether `p` is the shipped data folder or lies inside it (symlinks resolved where they exist). */
export function isShipped(p: string): boolean {
  const real = (q: string) => {
    let head = path.resolve(q);
    const tail: string[] = [];
    while (!fs.existsSync(head) && path.dirname(head) !== head) {
      tail.unshift(path.basename(head));
      head = path.dirname(head);
    }
    return path.join(fs.realpathSync(head), ...tail);
  };
  const data = real(dataPath());
  const target = real(p);
  return target === data || target.startsWith(data + path.sep);
}
