import { test } from "node:test";
import assert from "node:assert/strict";
import { normaliseLayout } from "../src/plot";

test("string titles become { text } (plotly.js 3 drops plain strings)", () => {
  const out = normaliseLayout({ title: "a", xaxis: { title: "x", range: [0, 1] }, yaxis3: { title: { text: "kept" } }, width: 3 });
  assert.deepEqual(out, { title: { text: "a" }, xaxis: { title: { text: "x" }, range: [0, 1] }, yaxis3: { title: { text: "kept" } }, width: 3 });
  assert.deepEqual(normaliseLayout(undefined), {});
});
