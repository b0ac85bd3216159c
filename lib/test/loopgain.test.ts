/** The loop gain (analysis/loopGain.ts) against a hand-computed case, and its cursor prediction. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as net from "../src/network";
import * as cursor from "../src/cursor";
import { cursorLoopMargin, eigenvalues2, loopGain } from "../src/analysis/loopGain";

/** K must be s W_out F (3 units, 2 outputs), entry by entry. */
function assertGainIs(K: ArrayLike<number>, n: net.Network, s: number): void {
  const { wOut, wFb } = n.params;
  for (let o = 0; o < 2; o++) {
    for (let j = 0; j < 2; j++) {
      let wf = 0;
      for (let i = 0; i < 3; i++) wf += wOut[o * 3 + i] * wFb[i * 2 + j];
      assert.ok(Math.abs(K[o * 2 + j] - s * wf) < 1e-9, `K[${o},${j}] = ${K[o * 2 + j]}, by hand ${s * wf}`);
    }
  }
}

test("the loop gain of a network without recurrence whose units all stay active is W_out F times the leaky step response", () => {
  const n = net.initNetwork({ N: 3, recurrent: false }, Rng.seeded(5, "weights"), "float64");
  n.params.b.fill(5); // every unit stays above 0: the relu is the identity
  n.params.wFb.set([0.3, -0.2, 0.1, 0.4, -0.5, 0.2]);
  const window = 6;
  const g = loopGain(n, { window, starts: [20, 60] });
  const alpha = n.config.dt / n.config.tau;
  let s = 0;
  for (let m = 1; m <= window; m++) s += 1 - (1 - alpha) ** m;
  s /= window;
  assertGainIs(g.K, n, s);
});

test("through a point mass the loop gain is the hand's velocity response, the mass's lag included, by hand (not the readout's force)", () => {
  const n = net.initNetwork({ N: 3, recurrent: false, e0: "zero", plant: { name: "point_mass" } }, Rng.seeded(5, "weights"), "float64");
  n.params.b.fill(5);
  n.params.wFb.set([0.3, -0.2, 0.1, 0.4, -0.5, 0.2]);
  const window = 6;
  const g = loopGain(n, { window, starts: [20, 60] });
  // The readout's change a_m W_out F d (as above) drives vel_m = decay vel_{m-1} + gain commandScale y_m, with
  // decay = 1 - dt b / m = 0.9 and gain = 100 dt / m (cm per m) for the defaults (1 kg, 10 N s/m, 0.1 N per unit).
  const alpha = n.config.dt / n.config.tau;
  const decay = 1 - (0.01 * 10) / 1;
  const gs = ((100 * 0.01) / 1) * 0.1;
  let vel = 0;
  let s = 0;
  for (let m = 1; m <= window; m++) {
    vel = decay * vel + gs * (1 - (1 - alpha) ** m);
    s += vel / window;
  }
  assertGainIs(g.K, n, s);
});

test("the cursor prediction: a rotation turns the loop's eigenvalues, a mirror always gives a negative one", () => {
  const phi = 10;
  const K = cursor.rotationMatrix(phi).map((v) => 2 * v) as unknown as cursor.Mat2;
  assert.ok(Math.abs(cursorLoopMargin(cursor.IDENTITY, K) - 1) < 1e-12);
  // k R(theta + phi): real part k cos(theta + phi), relative to k cos(phi).
  for (const theta of [30, 79, 81, 120, 180]) {
    const m = cursorLoopMargin(cursor.rotationMatrix(theta), K);
    assert.ok(Math.abs(m - Math.cos(((theta + phi) * Math.PI) / 180) / Math.cos((phi * Math.PI) / 180)) < 1e-12);
  }
  assert.ok(cursorLoopMargin(cursor.rotationMatrix(79), K) > 0 && cursorLoopMargin(cursor.rotationMatrix(81), K) < 0);
  assert.ok(cursorLoopMargin(cursor.mirrorMatrix(), K) < 0);
  assert.ok(Math.abs(cursorLoopMargin([1.5, 0, 0, 1.5], K) - 1.5) < 1e-12);
  assert.deepEqual(eigenvalues2([2, 0, 0, -1]), [{ re: 2, im: 0 }, { re: -1, im: 0 }]);
});
