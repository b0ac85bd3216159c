/**
 * Argument checks shared by the lib. Every public entry point validates its
 * parameters up front, so that bad input fails with a message that names the
 * parameter and the allowed range instead of turning into NaN deep in a loop.
 */

/** The error every argument check throws; its message starts with the parameter's name. */
export class ParameterError extends RangeError {
  /**
   * @param parameter the name of the offending parameter (e.g. "lr", "params.wRec")
   * @param message what was wrong, with the allowed range and the value given
   */
  constructor(readonly parameter: string, message: string) {
    super(`${parameter}: ${message}`);
    this.name = "ParameterError";
  }
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Returns `value` if it is a finite number.
 * @throws ParameterError otherwise
 */
export function finite(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ParameterError(name, `must be a finite number, got ${show(value)}`);
  }
  return value;
}

/**
 * Returns `value` if it is a finite number > 0.
 * @throws ParameterError otherwise
 */
export function positive(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new ParameterError(name, `must be a finite number > 0, got ${show(value)}`);
  }
  return value;
}

/**
 * Returns `value` if it is an integer in [min, max] (max: Number.MAX_SAFE_INTEGER by default).
 * @throws ParameterError otherwise
 */
export function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new ParameterError(name, `must be an integer ${range}, got ${show(value)}`);
  }
  return value;
}

/**
 * Returns `value` if it is a number in [min, max] (NaN is not).
 * @throws ParameterError otherwise
 */
export function inRange(name: string, value: number, min: number, max: number): number {
  if (typeof value !== "number" || !(value >= min && value <= max)) {
    throw new ParameterError(name, `must be a number in [${min}, ${max}], got ${show(value)}`);
  }
  return value;
}

/**
 * Returns `value`, typed, if it is one of `allowed`.
 * @throws ParameterError otherwise, listing the allowed values
 */
export function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ParameterError(name, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${show(value)}`);
  }
  return value as T;
}

/**
 * Checks that `array` has exactly `expected` entries.
 * @throws ParameterError otherwise
 */
export function length(name: string, array: ArrayLike<number>, expected: number): void {
  if (array.length !== expected) {
    throw new ParameterError(name, `must have length ${expected}, got ${array.length}`);
  }
}
