/** Locations inside the repository, independent of the working directory (notebooks run from notebooks/). */
import * as path from "path";

/** The repository root (lib/src and lib/dist both sit two levels below it). */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

export function projectPath(...parts: string[]): string {
  return path.join(PROJECT_ROOT, ...parts);
}

/** A path under data/, where shipped checkpoints and cached results live. */
export function dataPath(...parts: string[]): string {
  return projectPath("data", ...parts);
}
