// Plotly figures for tslab notebooks, rendered offline.
//
// `show` sends one display bundle with the Plotly MIME type (JupyterLab, VS Code) and a text/html fallback
// (nbconvert HTML, classic notebooks). The first fallback of a kernel session inlines the minified plotly.js
// bundle, so exported reports need no network.
import { randomBytes } from "crypto";
import { readFileSync } from "fs";

/** A Plotly trace; the keys the builders set are typed, anything else Plotly accepts is allowed. */
export interface Trace {
  /** Plotly trace type, e.g. "scatter", "heatmap". */
  type?: string;
  /** For scatter traces: "lines", "markers", "lines+markers", ... */
  mode?: string;
  /** The legend entry. */
  name?: string;
  /** x values (numbers, or strings for categories). */
  x?: ArrayLike<number> | ArrayLike<string>;
  /** y values (numbers, or strings for categories). */
  y?: ArrayLike<number> | ArrayLike<string>;
  /** Line style. */
  line?: {
    /** CSS colour. */
    color?: string;
    /** Width in pixels. */
    width?: number;
    /** "solid", "dash", "dot", ... */
    dash?: string;
  };
  /** Marker style. */
  marker?: {
    /** CSS colour. */
    color?: string;
    /** Diameter in pixels. */
    size?: number;
    /** Plotly marker symbol, e.g. "circle-open". */
    symbol?: string;
  };
  /** 0 (transparent) to 1. */
  opacity?: number;
  /** The x axis it is drawn on: "x", "x2", ... (see `onSubplot`). */
  xaxis?: string;
  /** The y axis it is drawn on: "y", "y2", ... */
  yaxis?: string;
  /** Traces of one legend group toggle together. */
  legendgroup?: string;
  /** Whether it has a legend entry. */
  showlegend?: boolean;
  /** Any other Plotly trace attribute. */
  [key: string]: unknown;
}

/** A Plotly figure, as `show` takes it. */
export interface Figure {
  /** The traces. */
  data: any[];
  /** Plotly layout (axes, titles, size, ...). */
  layout?: any;
  /** Plotly config (e.g. { responsive: true }). */
  config?: any;
}

/** A display bundle: MIME type -> content. */
export type MimeBundle = Record<string, unknown>;

type WriteDisplayData = (msg: { data: MimeBundle; metadata: object; transient: object }, update: boolean) => void;

// tslab's public `display.*` sends a single MIME type per output; several need the writer tslab installs
// for the running cell. Required lazily so that the lib loads outside tslab (where this returns null).
function tslabWriter(): WriteDisplayData | null {
  try {
    return require("tslab/dist/jupyter").lastWriteDisplayData ?? null;
  } catch {
    return null;
  }
}

/** Sends one display_data message carrying several MIME types. Returns false outside a tslab kernel. */
export function displayBundle(data: MimeBundle): boolean {
  const write = tslabWriter();
  if (!write) return false;
  write({ data, metadata: {}, transient: {} }, false);
  return true;
}

// JSON text safe to embed in <script>: typed arrays become arrays (not objects), NaN becomes null (a gap in
// Plotly), and "<" is escaped so that data cannot close the script element.
function scriptJSON(value: unknown): string {
  const json = JSON.stringify(value, (_key, v) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v));
  return json.replace(/</g, "\\u003c");
}

let bundleInlined = false;

function plotlyBundleTag(): string {
  if (bundleInlined) return "";
  bundleInlined = true;
  const js = readFileSync(require.resolve("plotly.js-dist-min"), "utf8").replace(/<\/script/gi, "<\\/script");
  return `<script type="text/javascript">${js}</script>\n`;
}

function figureHtml(json: string): string {
  const id = "fbc-plot-" + randomBytes(6).toString("hex");
  // Draw once window.Plotly exists (it normally does: this or an earlier output inlined it); give up after ~10 s.
  return (
    plotlyBundleTag() +
    `<div id="${id}" class="fbc-plot"></div>\n<script type="text/javascript">\n` +
    `(function () {\n` +
    `  var fig = ${json}, tries = 0;\n` +
    `  function draw() {\n` +
    `    var el = document.getElementById("${id}");\n` +
    `    if (window.Plotly && el) { window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); return; }\n` +
    `    if (++tries < 100) { setTimeout(draw, 100); return; }\n` +
    `    if (el) el.textContent = "plotly.js is not loaded on this page: restart the kernel and run all cells.";\n` +
    `  }\n` +
    `  draw();\n` +
    `})();\n</script>`
  );
}

/**
 * plotly.js 3 accepts titles only as { text }; a plain string is silently dropped. Converts the
 * figure's and every axis's string title so that notebooks may write either form.
 */
export function normaliseLayout(layout: Record<string, any> = {}): Record<string, any> {
  const out: Record<string, any> = { ...layout };
  if (typeof out.title === "string") out.title = { text: out.title };
  for (const key of Object.keys(out)) {
    if (/^[xy]axis\d*$/.test(key) && out[key] && typeof out[key].title === "string") out[key] = { ...out[key], title: { text: out[key].title } };
  }
  return out;
}

/**
 * Displays a figure in the running tslab cell; a no-op outside tslab. Returns nothing on purpose: tslab
 * echoes a cell's last value, which would print the whole figure as text.
 */
export function show(figure: Figure): void {
  if (!tslabWriter()) return;
  const fig = { ...figure, layout: normaliseLayout(figure.layout) };
  const json = scriptJSON({ data: fig.data, layout: fig.layout ?? {}, config: { responsive: true, ...fig.config } });
  displayBundle({ "application/vnd.plotly.v1+json": JSON.parse(json), "text/html": figureHtml(json) });
}

/** Colour for target `k` of `n`, spaced around the hue circle (matching targets placed on a circle). */
export function targetColor(k: number, n: number): string {
  return `hsl(${Math.round((360 * k) / n)}, 70%, 45%)`;
}

/** One line per named series, sharing `x` (Plotly uses 0, 1, 2, ... when it is omitted). */
export function lineTraces(series: Record<string, ArrayLike<number>>, x?: ArrayLike<number>): Trace[] {
  return Object.entries(series).map(([name, y]) => ({ type: "scatter", mode: "lines", name, x, y }));
}

/** A 2-D path of one trial (e.g. hand position over time) and the index of its target. */
export interface Trajectory {
  /** x coordinates over time. */
  x: ArrayLike<number>;
  /** y coordinates over time. */
  y: ArrayLike<number>;
  /** The target index, which picks the colour. */
  target: number;
}

/**
 * One x/y line per trial, coloured by target; the legend shows one entry per target.
 * `nTargets` defaults to the largest target index + 1.
 */
export function trajectoryTraces(
  trials: Trajectory[],
  opts: { nTargets?: number; width?: number; opacity?: number } = {},
): Trace[] {
  const n = opts.nTargets ?? Math.max(0, ...trials.map((t) => t.target)) + 1;
  const seen = new Set<number>();
  return trials.map((t) => {
    const first = !seen.has(t.target);
    seen.add(t.target);
    return {
      type: "scatter",
      mode: "lines",
      name: `target ${t.target}`,
      x: t.x,
      y: t.y,
      line: { color: targetColor(t.target, n), width: opts.width ?? 1.5 },
      opacity: opts.opacity ?? 0.8,
      legendgroup: `target ${t.target}`,
      showlegend: first,
    };
  });
}

/** Target positions as markers, in the colours `trajectoryTraces` uses. */
export function targetMarkers(targets: ArrayLike<number>[], size = 14): Trace[] {
  return Array.from(targets, (p, k) => ({
    type: "scatter",
    mode: "markers",
    name: `target ${k}`,
    x: [p[0]],
    y: [p[1]],
    marker: { color: targetColor(k, targets.length), size, symbol: "circle-open" },
    legendgroup: `target ${k}`,
    showlegend: false,
  }));
}

/** Plotly axis ids of subplot `index` (0-based, row-major): "x", "y" for the first, then "x2", "y2", ... */
export function subplotAxes(index: number): {
  /** "x" for subplot 0, else "x<index + 1>". */
  xaxis: string;
  /** "y" for subplot 0, else "y<index + 1>". */
  yaxis: string;
} {
  const s = index === 0 ? "" : String(index + 1);
  return { xaxis: "x" + s, yaxis: "y" + s };
}

/** Places traces on subplot `index` of a `grid` layout. */
export function onSubplot(index: number, traces: Trace[]): Trace[] {
  return traces.map((t) => ({ ...t, ...subplotAxes(index) }));
}

/** Options of `grid`. */
export interface GridOptions {
  /** Subplot titles, row-major. */
  titles?: string[];
  /** Gap between subplots as a fraction of the figure (default 0.08 across, 0.12 down). */
  xgap?: number;
  /** Vertical gap between subplots as a fraction of the figure (default 0.12). */
  ygap?: number;
  /** Subplots (0-based) whose y scale is locked to their x scale, e.g. those showing 2-D trajectories. */
  equalAspect?: number[];
  /** Pixel size of one subplot (default 320 x 300). */
  cellWidth?: number;
  /** Pixel height of one subplot (default 300). */
  cellHeight?: number;
}

/** A layout with `rows` x `cols` independent subplots, filled row-major; use with `onSubplot`. */
export function grid(rows: number, cols: number, opts: GridOptions = {}): Record<string, unknown> {
  const xgap = opts.xgap ?? 0.08;
  const ygap = opts.ygap ?? 0.12;
  const w = (1 - xgap * (cols - 1)) / cols;
  const h = (1 - ygap * (rows - 1)) / rows;
  const layout: Record<string, unknown> = {
    width: (opts.cellWidth ?? 320) * cols + 120,
    height: (opts.cellHeight ?? 300) * rows + 80,
    margin: { t: 40, b: 40, l: 50, r: 20 },
  };
  const annotations: object[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const { xaxis, yaxis } = subplotAxes(i);
      const x0 = c * (w + xgap);
      const y1 = 1 - r * (h + ygap);
      const key = (axis: string) => axis[0] + "axis" + axis.slice(1);
      layout[key(xaxis)] = { domain: [x0, x0 + w], anchor: yaxis };
      layout[key(yaxis)] = {
        domain: [y1 - h, y1],
        anchor: xaxis,
        ...(opts.equalAspect?.includes(i) ? { scaleanchor: xaxis, scaleratio: 1 } : {}),
      };
      const title = opts.titles?.[i];
      if (title) {
        annotations.push({
          text: title,
          x: x0 + w / 2,
          y: y1,
          xref: "paper",
          yref: "paper",
          xanchor: "center",
          yanchor: "bottom",
          showarrow: false,
        });
      }
    }
  }
  if (annotations.length) layout.annotations = annotations;
  return layout;
}

/** One panel of reaches: hand paths ([T+1, B, 2], `network.handPositions`) of the trials of `batch`. */
export interface ReachPanel {
  /** The panel's title. */
  title: string;
  /** [T+1, B, 2] hand positions. */
  hand: ArrayLike<number>;
  /** The trials the paths belong to (a task.TrialBatch has these fields). */
  batch: {
    /** Steps per trial. */
    T: number;
    /** Number of trials. */
    B: number;
    /** [T, B, 2] target positions; the last step's marks each target. */
    position: ArrayLike<number>;
    /** [B] target index of each trial (colours; -1 for random reaches, coloured by trial). */
    targetId: ArrayLike<number>;
    /** The reach config's target count. */
    config: {
      /** Number of centre-out targets (sets the colour wheel). */
      nTargets: number;
    };
  };
}

/**
 * Panels of hand paths side by side, each trial coloured by its target, with circles on the targets'
 * final (e.g. rotated) positions; equal aspect, the same square range in every panel.
 */
export function reachPanels(panels: ReachPanel[], opts: { range?: number; cellSize?: number; columns?: number } = {}): Figure {
  if (panels.length === 0) throw new RangeError("panels: must not be empty");
  const cols = Math.min(opts.columns ?? panels.length, panels.length);
  const rows = Math.ceil(panels.length / cols);
  const size = opts.cellSize ?? 200;
  const range = opts.range ?? 6.5;
  const layout: any = grid(rows, cols, { titles: panels.map((p) => p.title), equalAspect: panels.map((_, i) => i), cellWidth: size, cellHeight: size, xgap: 0.04, ygap: 0.1 });
  layout.showlegend = false;
  const data = panels.flatMap((p, i) => {
    const { T, B } = p.batch;
    if (p.hand.length !== (T + 1) * B * 2) throw new RangeError(`panels[${i}].hand: must have (T+1)*B*2 = ${(T + 1) * B * 2} entries, got ${p.hand.length}`);
    const ax = subplotAxes(i);
    layout[ax.xaxis.replace("x", "xaxis")].range = [-range, range];
    layout[ax.yaxis.replace("y", "yaxis")].range = [-range, range];
    const nTargets = p.batch.config.nTargets;
    const colour = (b: number) => (p.batch.targetId[b] >= 0 ? p.batch.targetId[b] : b);
    const paths = trajectoryTraces(
      Array.from({ length: B }, (_, b) => ({
        x: Array.from({ length: T + 1 }, (_, k) => p.hand[(k * B + b) * 2]),
        y: Array.from({ length: T + 1 }, (_, k) => p.hand[(k * B + b) * 2 + 1]),
        target: colour(b),
      })),
      { nTargets: Math.max(nTargets, B), width: 2 },
    );
    const ends = Array.from({ length: B }, (_, b) => ({
      type: "scatter",
      mode: "markers",
      x: [p.batch.position[((T - 1) * B + b) * 2]],
      y: [p.batch.position[((T - 1) * B + b) * 2 + 1]],
      marker: { color: targetColor(colour(b), Math.max(nTargets, B)), size: 14, symbol: "circle-open" },
      showlegend: false,
      hoverinfo: "skip",
    }));
    return onSubplot(i, [...paths, ...ends]);
  });
  return { data, layout };
}

/** A line with a shaded band (e.g. the mean over seeds or targets and its range or ± sd). */
export interface Band {
  /** x values. */
  x: ArrayLike<number>;
  /** The line. */
  mean: ArrayLike<number>;
  /** Lower edge of the band. */
  lo: ArrayLike<number>;
  /** Upper edge of the band. */
  hi: ArrayLike<number>;
}

/**
 * Two traces: the band from `lo` to `hi` (filled, no legend entry) and the `mean` line named `name`. NaN
 * points leave gaps. Place them with `onSubplot`; `showlegend: false` for repeats on further subplots.
 */
export function bandTraces(band: Band, opts: { name: string; color: string; opacity?: number; showlegend?: boolean; dash?: string }): Trace[] {
  const x = Array.from(band.x);
  const lo = Array.from(band.lo);
  const hi = Array.from(band.hi);
  return [
    {
      type: "scatter",
      mode: "lines",
      x: [...x, ...x.slice().reverse()],
      y: [...hi, ...lo.reverse()],
      fill: "toself",
      fillcolor: opts.color,
      opacity: opts.opacity ?? 0.15,
      line: { width: 0 },
      showlegend: false,
      hoverinfo: "skip",
      legendgroup: opts.name,
    },
    {
      type: "scatter",
      mode: "lines",
      name: opts.name,
      x,
      y: Array.from(band.mean),
      line: { color: opts.color, width: 2, ...(opts.dash ? { dash: opts.dash } : {}) },
      showlegend: opts.showlegend ?? true,
      legendgroup: opts.name,
    },
  ];
}

/** mean ± sd (or min..max with `range`) of the rows of a [rows, cols] array, per column, NaN skipped. */
export function bandOf(values: ArrayLike<number>, rows: number, cols: number, x?: ArrayLike<number>, spread: "sd" | "range" = "sd"): Band {
  const mean: number[] = [];
  const lo: number[] = [];
  const hi: number[] = [];
  for (let c = 0; c < cols; c++) {
    const v: number[] = [];
    for (let r = 0; r < rows; r++) if (!Number.isNaN(values[r * cols + c])) v.push(values[r * cols + c]);
    const m = v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
    const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) : 0;
    mean.push(m);
    lo.push(spread === "sd" ? m - sd : v.length ? Math.min(...v) : NaN);
    hi.push(spread === "sd" ? m + sd : v.length ? Math.max(...v) : NaN);
  }
  return { x: x ? Array.from(x) : mean.map((_, i) => i), mean, lo, hi };
}

/** One cell of a heatmap: its column `x` and row `y` labels, a value (mean over seeds) and its spread. */
export interface HeatCell {
  /** Column label (e.g. a rotation). */
  x: string;
  /** Row label (e.g. a learning rate). */
  y: string;
  /** The value shown by colour (NaN when no seed gave one: diverged or not computed). */
  mean: number;
  /** Standard deviation over seeds (written after the mean). */
  sd?: number;
  /** Seeds in the cell, and how many of them diverged (0 when none). */
  n?: number;
  /** Seeds of the cell that diverged (0 when none). */
  diverged?: number;
  /** Seeds the cell should have: a cell with fewer (n < of) is marked "n/of seeds" (a partial sweep). */
  of?: number;
  /** Set when the cell has not been computed yet: drawn as "not run", never as a blank. */
  missing?: boolean;
}

/** Options of `heatmapTraces`. */
export interface HeatmapOptions {
  /** Colour by log10 of the value (colour bar labelled in the values themselves). */
  log?: boolean;
  /** Lower end of the colour range in data units (set zmin and zmax to share a range between panels so that colours compare). */
  zmin?: number;
  /** Upper end of the colour range in data units (default: Plotly's, from the data). */
  zmax?: number;
  /** Plotly colour scale name (default "Viridis"). */
  colorscale?: string;
  /** Whether to draw the colour bar (default true). */
  showscale?: boolean;
  /** Title of the colour bar. */
  colorbarTitle?: string;
  /** Column order (default: order of first appearance). */
  xOrder?: string[];
  /** Row order (default: order of first appearance). */
  yOrder?: string[];
  /** Cell text for a computed cell (default: mean ± sd with 2 significant digits). */
  label?: (c: HeatCell) => string;
}

/**
 * A heatmap of cells (e.g. final error over rotation x learning rate): the value by colour (log scale
 * optional), "mean ± sd" written in each cell, cells where every seed diverged filled dark grey and
 * labelled "diverged", cells where some seeds diverged labelled with how many, and cells not computed
 * hatched light grey and labelled "not run". Place the traces with `onSubplot`.
 */
export function heatmapTraces(cells: HeatCell[], opts: HeatmapOptions = {}): Trace[] {
  const xs = opts.xOrder ?? [...new Set(cells.map((c) => c.x))];
  const ys = opts.yOrder ?? [...new Set(cells.map((c) => c.y))];
  const at = new Map(cells.map((c) => [`${c.x}\u0000${c.y}`, c]));
  const f = (v: number) => (opts.log ? Math.log10(v) : v);
  const sig = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? Number(v.toPrecision(2)).toString() : v.toExponential(1));
  const label = opts.label ?? ((c: HeatCell) => `${sig(c.mean)}${c.sd !== undefined && c.n !== undefined && c.n - (c.diverged ?? 0) > 1 ? `<br>±${sig(c.sd)}` : ""}`);
  const z: (number | null)[][] = [];
  const text: string[][] = [];
  const grey: (number | null)[][] = [];
  const greyText: string[][] = [];
  for (const y of ys) {
    const zr: (number | null)[] = [];
    const tr: string[] = [];
    const gr: (number | null)[] = [];
    const gt: string[] = [];
    for (const x of xs) {
      const c = at.get(`${x}\u0000${y}`);
      const partial = c && c.of !== undefined && c.n !== undefined && c.n < c.of;
      if (!c || c.missing) {
        zr.push(null);
        tr.push("");
        gr.push(0);
        gt.push("not run");
      } else if (!Number.isFinite(c.mean)) {
        zr.push(null);
        tr.push("");
        gr.push(1);
        gt.push((c.n !== undefined ? `diverged<br>${c.diverged ?? c.n}/${c.n}` : "diverged") + (partial ? ` of ${c.of}` : ""));
      } else {
        zr.push(f(c.mean));
        tr.push(label(c) + (c.diverged ? `<br>(${c.diverged}/${c.n ?? "?"} div.)` : "") + (partial ? `<br>(${c.n}/${c.of} seeds)` : ""));
        gr.push(null);
        gt.push("");
      }
    }
    z.push(zr);
    text.push(tr);
    grey.push(gr);
    greyText.push(gt);
  }
  const lo = opts.zmin !== undefined ? f(opts.zmin) : undefined;
  const hi = opts.zmax !== undefined ? f(opts.zmax) : undefined;
  const colorbar: Record<string, unknown> = { title: { text: opts.colorbarTitle ?? "" }, thickness: 12 };
  if (opts.log && lo !== undefined && hi !== undefined) {
    const ticks: number[] = [];
    for (let p = Math.ceil(lo); p <= Math.floor(hi); p++) ticks.push(p);
    colorbar.tickvals = ticks;
    colorbar.ticktext = ticks.map((p) => `1e${p}`);
  }
  return [
    {
      // Underneath: light grey for cells not run, dark grey for cells where every seed diverged.
      type: "heatmap",
      x: xs,
      y: ys,
      z: grey,
      zmin: 0,
      zmax: 1,
      colorscale: [[0, "#e6e6e6"], [1, "#555555"]],
      showscale: false,
      // The labels of these cells ride on this trace, so that Plotly picks a legible colour for each.
      text: greyText,
      texttemplate: "%{text}",
      textfont: { size: 10 },
      hovertemplate: "%{x}, %{y}: %{text}<extra></extra>",
      xgap: 2,
      ygap: 2,
    },
    {
      type: "heatmap",
      x: xs,
      y: ys,
      z,
      text,
      texttemplate: "%{text}",
      textfont: { size: 10 },
      hovertemplate: "%{x}, %{y}: %{text}<extra></extra>",
      colorscale: opts.colorscale ?? "Viridis",
      ...(lo !== undefined ? { zmin: lo } : {}),
      ...(hi !== undefined ? { zmax: hi } : {}),
      showscale: opts.showscale ?? true,
      colorbar,
      xgap: 2,
      ygap: 2,
    },
  ];
}
