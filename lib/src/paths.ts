/** Locations inside the repository, independent of the working directory (notebooks run from notebooks/). */
import * as path from "path";

/** The repository root (lib/src and lib/dist both sit two levels below it). */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

/** A path inside the repository, from its root (`parts` are joined as by path.join). */
export function projectPath(...parts: string[]): string {
  return path.join(PROJECT_ROOT, ...parts);
}

/** A path under data/, where shipped checkpoints and cached results live. */
export function dataPath(...parts: string[]): string {
  return projectPath("data", ...parts);
}

/**
 * A path under the run folder, where the command-line tools write by default (ignored by git). The
 * folder is `runs/` in the project, or $FBC_RUNS_DIR when set (tests use a temporary one).
 */
export function runsPath(...parts: string[]): string {
  const root = process.env.FBC_RUNS_DIR ? path.resolve(process.env.FBC_RUNS_DIR) : projectPath("runs");
  return path.join(root, ...parts);
}
