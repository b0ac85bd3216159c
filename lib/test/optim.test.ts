import { test } from "node:test";
import assert from "node:assert/strict";
import { Adam, clipGradNorm } from "../src/optim";

test("one Adam step with clipping matches a hand computation", () => {
  // Gradients (3, 4) and (12) have global norm 13; clipping to 0.2 scales them by 0.2 / (13 + 1e-6).
  const p = { a: new Float64Array([1, -2]), b: new Float64Array([0.5]) };
  const g = { a: new Float64Array([3, 4]), b: new Float64Array([12]) };
  const { norm, scale } = clipGradNorm([g.a, g.b], 0.2);
  assert.equal(norm, 13);
  const coef = 0.2 / (13 + 1e-6);
  assert.equal(scale, coef);
  assert.deepEqual(Array.from(g.a), [3 * coef, 4 * coef]);
  const adam = new Adam(p, { lr: 0.1 });
  adam.step(p, g);
  // t = 1: m = 0.1 g, v = 0.001 g^2, step = lr/(1-0.9) * m / (sqrt(v)/sqrt(1-0.999) + eps) = lr * g / (|g| + eps)
  const expectStep = (gi: number) => (0.1 * gi) / (Math.abs(gi) + 1e-8);
  assert.ok(Math.abs(p.a[0] - (1 - expectStep(3 * coef))) < 1e-15);
  assert.ok(Math.abs(p.a[1] - (-2 - expectStep(4 * coef))) < 1e-15);
  assert.ok(Math.abs(p.b[0] - (0.5 - expectStep(12 * coef))) < 1e-15);
  // Second step with gradient 1 on b: m = 0.09 g1 + 0.1, v = 0.000999 g1^2 + 0.001, bias corrections 0.19 and 0.001999.
  const g1 = 12 * coef;
  const before = p.b[0];
  adam.step(p, { a: new Float64Array([0, 0]), b: new Float64Array([1]) });
  const m = 0.9 * 0.1 * g1 + 0.1;
  const v = 0.999 * 0.001 * g1 * g1 + 0.001;
  const expected = before - (0.1 / (1 - 0.81)) * m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + 1e-8);
  assert.ok(Math.abs(p.b[0] - expected) < 1e-15, `${p.b[0]} vs ${expected}`);
});

test("clipping leaves gradients within the bound untouched", () => {
  const g = new Float32Array([0.1, 0.1]);
  assert.deepEqual(clipGradNorm([g], 0.2), { norm: Math.sqrt(2 * Math.fround(0.1) ** 2), scale: 1 });
  assert.deepEqual(Array.from(g), [Math.fround(0.1), Math.fround(0.1)]);
  assert.throws(() => clipGradNorm([new Float32Array([NaN])], 0.2), /grads: gradient norm is NaN/);
  assert.throws(() => clipGradNorm([g], 0), /maxNorm/);
});
