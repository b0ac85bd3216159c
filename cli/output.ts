/**
 * Where a command-line tool writes, and the rules that keep results honest:
 *
 * - By default a tool writes under the run folder `runs/<command>/...` (git-ignored).
 * - The shipped data folder `data/` is written only when `--out` points into it AND `--replace-shipped`
 *   is given, and only from a clean working tree unless `--allow-dirty` (which is recorded).
 * - `--fresh` starts a new run beside an existing one, under the first free name `<name>-run2`,
 *   `<name>-run3`, ...; it never deletes or overwrites a file it did not create.
 * - A stored checkpoint or result is resumed or reused only when its settings equal the request
 *   (`assertSameSettings`); otherwise the tool refuses and names the settings that differ.
 */
import * as fs from "fs";
import * as path from "path";
import { Provenance, describeDiff, isShipped, provenance, settingsDiff } from "../lib/src/provenance";
import { dataPath, runsPath } from "../lib/src/paths";
import { Refusal } from "./args";

export interface Destination {
  /** The folder results go to (absolute). */
  dir: string;
  /** Whether `dir` lies in the shipped data folder (then the run replaces shipped results). */
  shipped: boolean;
  /** The code's provenance, plus whether a dirty tree was explicitly allowed. */
  provenance: Provenance & { allowDirty: boolean };
}

/**
 * Resolves and checks `--out` (default `runs/<command>`). Throws a Refusal, before anything is written,
 * when the destination is shipped data without --replace-shipped, or the tree is dirty without --allow-dirty.
 */
export function destination(opts: { command: string; out?: string; replaceShipped: boolean; allowDirty: boolean }): Destination {
  const dir = opts.out === undefined ? runsPath(opts.command) : userPath(opts.out);
  const shipped = isShipped(dir);
  const prov = provenance();
  if (shipped && !opts.replaceShipped) {
    throw new Refusal(
      `--out ${dir} is inside the shipped data folder ${dataPath()}, which the tools never write unasked. ` +
        `Leave --out out to write to ${runsPath(opts.command)}, or add --replace-shipped to replace shipped results on purpose.`,
    );
  }
  if (!shipped && opts.replaceShipped) throw new Refusal(`--replace-shipped: only applies to an --out inside ${dataPath()}, got ${dir}`);
  if (shipped && !prov.clean && !opts.allowDirty) {
    throw new Refusal(
      `the working tree has uncommitted changes (code ${prov.codeVersion}), so results written to ${dataPath()} could not be rebuilt. ` +
        `Commit first, or add --allow-dirty (recorded in the results).`,
    );
  }
  return { dir, shipped, provenance: { ...prov, allowDirty: opts.allowDirty && !prov.clean } };
}

/**
 * A path given on the command line, resolved against the folder the user ran the command from (npm run
 * moves the working directory to the project root and keeps the original in INIT_CWD).
 */
export function userPath(p: string): string {
  return path.resolve(process.env.INIT_CWD ?? process.cwd(), p);
}

/** `base` if none of its files exist, else the first free `base-run<k>` (k >= 2); `taken(name)` says whether a name is in use. */
export function freeName(base: string, taken: (name: string) => boolean): string {
  if (!taken(base)) return base;
  for (let k = 2; ; k++) if (!taken(`${base}-run${k}`)) return `${base}-run${k}`;
}

/**
 * Refuses (exit 2) unless the settings stored with `file` equal the requested ones; the message names
 * every setting that differs and how to proceed.
 */
export function assertSameSettings(file: string, stored: unknown, requested: unknown, how: string): void {
  const diff = settingsDiff(stored, requested);
  if (diff.length === 0) return;
  throw new Refusal(`${file} was computed with other settings (stored -> requested: ${describeDiff(diff)}); it is left as it is. ${how}`);
}

/** Whether any file in `dir` starts with `prefix` (used to decide whether a run name is taken). */
export function hasFilesStartingWith(dir: string, prefix: string): boolean {
  return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f === prefix || f.startsWith(`${prefix}.`));
}
