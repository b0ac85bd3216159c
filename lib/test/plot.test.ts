import { test } from "node:test";
import assert from "node:assert/strict";
import { normaliseLayout } from "../src/plot";
import * as plot from "../src/plot";

test("string titles become { text } (plotly.js 3 drops plain strings)", () => {
  const out = normaliseLayout({ title: "a", xaxis: { title: "x", range: [0, 1] }, yaxis3: { title: { text: "kept" } }, width: 3 });
  assert.deepEqual(out, { title: { text: "a" }, xaxis: { title: { text: "x" }, range: [0, 1] }, yaxis3: { title: { text: "kept" } }, width: 3 });
  assert.deepEqual(normaliseLayout(undefined), {});
});

test("bandOf and bandTraces: mean ± sd or range per column, NaN skipped; a filled band and a named line", () => {
  const b = plot.bandOf([1, NaN, 3, 5, 2, 4], 3, 2, [10, 20]);
  assert.deepEqual(b.x, [10, 20]);
  // rows [1, NaN], [3, 5], [2, 4]: column 0 is 1, 3, 2 and column 1 is 5, 4.
  assert.deepEqual(b.mean, [2, 4.5]);
  assert.deepEqual([b.lo[0], b.hi[0]], [1, 3]);
  assert.ok(Math.abs(b.hi[1] - (4.5 + Math.SQRT1_2)) < 1e-12);
  const r = plot.bandOf([1, NaN, 3, 5, 2, 4], 3, 2, undefined, "range");
  assert.deepEqual([r.x, r.lo, r.hi], [[0, 1], [1, 4], [3, 5]]);
  const [fill, line] = plot.bandTraces(r, { name: "m", color: "red" });
  assert.deepEqual(fill.x, [0, 1, 1, 0]);
  assert.deepEqual(fill.y, [3, 5, 4, 1]);
  assert.equal(fill.showlegend, false);
  assert.equal(line.name, "m");
  assert.deepEqual(line.y, [2, 4.5]);
});
