/**
 * Notebook run mode. `npm test` executes every notebook with FBC_MODE=quick (small, fast versions
 * of each computation); `npm run report` uses FBC_MODE=full (the shipped data, full sizes).
 * Interactive sessions default to full.
 */
import { oneOf } from "./validate";

/** How much a notebook computes: "quick" (small versions, `npm test`) or "full" (full sizes, `npm run report`). */
export type RunMode = "quick" | "full";

/**
 * The run mode from $FBC_MODE ("full" when unset).
 * @throws ParameterError if FBC_MODE is neither "quick" nor "full"
 */
export function runMode(): RunMode {
  return oneOf("FBC_MODE", process.env.FBC_MODE ?? "full", ["quick", "full"]);
}

/** `quick` in quick mode, else `full`. */
export function byMode<T>(quick: T, full: T): T {
  return runMode() === "quick" ? quick : full;
}
