/**
 * The machine's floors (bench/floors.c, built by scripts/build-native.sh), measured now, in this run:
 * each bench prints its times beside these and the ratio time / floor, which is what to compare
 * between machines.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export interface Floors {
  /** Seconds of one [256 x 400] x [400 x 400] sgemm with 2 threads, and its GFLOP/s. */
  sgemm256x400x400_2threads_s: number;
  sgemm_gflops: number;
  /** Seconds: 3T such products (one pre-training batch's matrix work). */
  pretrainBatch: number;
  /** Seconds: one online-BPTT trial's chained products on one thread. */
  bpttTrial: number;
  /** Seconds: one RFLO trial's two streaming passes per step on one thread. */
  rfloTrial: number;
}

export const FLOORS_BIN = path.join(__dirname, "..", "lib", "native", "build", "fbc_floors");

/** Runs the floor program (about 3 s), or returns null with a reason when it was not built. */
export function measureFloors(reps = 5): Floors | { missing: string } {
  if (!fs.existsSync(FLOORS_BIN)) return { missing: `${FLOORS_BIN} not built (npm run build:native)` };
  return JSON.parse(execFileSync(FLOORS_BIN, [String(reps)], { encoding: "utf8" })) as Floors;
}

/** "0.412 s  (floor 0.115 s, 3.58x)" or just the time when there is no floor. */
export function withFloor(seconds: number, floor: number | undefined, digits = 4): string {
  const t = `${seconds.toFixed(digits)} s`;
  return floor === undefined ? `${t}  (no floor measured)` : `${t}  (floor ${floor.toFixed(digits)} s, ${(seconds / floor).toFixed(2)}x)`;
}
