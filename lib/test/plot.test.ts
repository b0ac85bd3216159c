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

test("heatmapTraces: log colour, mean ± sd text, diverged and not-run cells marked (never blank)", () => {
  const cells: plot.HeatCell[] = [
    { x: "1e-5", y: "30°", mean: 0.01, sd: 0.002, n: 3, diverged: 0 },
    { x: "1e-4", y: "30°", mean: NaN, n: 3, diverged: 3 },
    { x: "1e-5", y: "60°", mean: 0.1, sd: 0.01, n: 3, diverged: 1 },
    { x: "1e-4", y: "60°", mean: NaN, missing: true },
  ];
  const partial = plot.heatmapTraces([{ x: "a", y: "b", mean: 0.5, sd: 0, n: 1, of: 3 }]) as any[];
  assert.equal(partial[1].text[0][0], "0.5<br>(1/3 seeds)", "a cell with fewer seeds than the grid says so");
  assert.equal((plot.heatmapTraces([{ x: "a", y: "b", mean: NaN, n: 1, diverged: 1, of: 3 }]) as any[])[0].text[0][0], "diverged<br>1/1 of 3");
  const [under, main] = plot.heatmapTraces(cells, { log: true, zmin: 1e-3, zmax: 1, yOrder: ["60°", "30°"] }) as any[];
  assert.deepEqual(main.x, ["1e-5", "1e-4"]);
  assert.deepEqual(main.y, ["60°", "30°"]);
  assert.ok(Math.abs(main.z[1][0] - -2) < 1e-12, "log10 of 0.01");
  assert.equal(main.z[1][1], null);
  assert.equal(main.text[1][0], "0.01<br>±0.002");
  assert.equal(main.text[0][0], "0.1<br>±0.01<br>(1/3 div.)", "the sd of the two seeds left, and the divergences counted");
  assert.equal(under.text[1][1], "diverged<br>3/3");
  assert.equal(under.text[0][1], "not run");
  assert.deepEqual([main.text[1][1], main.text[0][1], under.text[1][0]], ["", "", ""], "each cell labelled by exactly one trace");
  assert.deepEqual(under.z, [[null, 0], [null, 1]], "dark grey under diverged cells, light grey under cells not run");
  assert.deepEqual([main.zmin, main.zmax], [-3, 0]);
  assert.deepEqual(main.colorbar.ticktext, ["1e-3", "1e-2", "1e-1", "1e0"]);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
    const t = main.text[i][j] || under.text[i][j];
    assert.ok(t.length > 0 && !/NaN/.test(t), `no blank or NaN cell: ${t}`);
  }
});

test("reachPanels: one path per trial and a circle on each final target position, per panel, equal aspect", () => {
  const T = 3;
  const B = 2;
  const position = new Float64Array(T * B * 2);
  position.set([5, 0, 0, 5], (T - 1) * B * 2);
  const batch = { T, B, position, targetId: Int32Array.from([0, 2]), config: { nTargets: 8 } };
  const hand = Float64Array.from({ length: (T + 1) * B * 2 }, (_, i) => i);
  const fig = plot.reachPanels([{ title: "a", hand, batch }, { title: "b", hand, batch }], { range: 7 });
  assert.equal(fig.data.length, 2 * (B + B));
  const paths = fig.data.filter((t: any) => t.mode === "lines");
  assert.deepEqual(paths[1].x, [2, 6, 10, 14]);
  assert.deepEqual(paths[1].y, [3, 7, 11, 15]);
  assert.equal(paths[3].xaxis, "x2");
  const circles = fig.data.filter((t: any) => t.mode === "markers");
  assert.deepEqual(circles.map((t: any) => [t.x[0], t.y[0]]), [[5, 0], [0, 5], [5, 0], [0, 5]]);
  assert.equal((circles[1] as any).marker.color, plot.targetColor(2, 8));
  const layout: any = fig.layout;
  assert.deepEqual(layout.xaxis2.range, [-7, 7]);
  assert.equal(layout.yaxis2.scaleanchor, "x2");
  assert.throws(() => plot.reachPanels([{ title: "c", hand: hand.subarray(1), batch }]), /panels\[0\].hand/);
  assert.throws(() => plot.reachPanels([]), /panels/);
});
