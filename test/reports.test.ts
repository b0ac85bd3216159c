// Reports for readers: `run_notebooks.py --no-code` leaves the code cells out of the HTML (prose, figures and
// printed results stay), and `--index` writes index.html linking each report with its title and first paragraph.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(__dirname, "..");

test("run_notebooks.py --no-code --index: a report without code cells, and an index with title and first paragraph", () => {
  const out = mkdtempSync(join(tmpdir(), "fbc-readers-"));
  try {
    const nb = join("notebooks", "00-task-and-network.ipynb");
    const run = spawnSync("/usr/bin/python3", ["scripts/run_notebooks.py", "--mode", "quick", "--no-code", "--index", "--out", out, nb], { cwd: repo, encoding: "utf8" });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const html = readFileSync(join(out, "00-task-and-network.html"), "utf8");
    const source = JSON.parse(readFileSync(join(repo, nb), "utf8")) as { cells: { cell_type: string; source: string[] }[] };
    const codeLine = source.cells.find((c) => c.cell_type === "code")!.source.find((l) => l.includes("from \"fbcontrol\""))!.trim();
    assert.ok(!html.includes("fbcontrol&quot;") && !html.includes(codeLine), "no code cell source in the report");
    assert.match(html, /plotly/i, "figures stay");
    assert.match(html, /The reaching task/, "prose stays");
    const index = readFileSync(join(out, "index.html"), "utf8");
    assert.match(index, /<a href="00-task-and-network\.html">00 · The reaching task and the feedback-controlled network<\/a>/);
    assert.match(index, /This notebook introduces the two objects/);
    assert.match(index, /code cells hidden/);
    const bad = spawnSync("/usr/bin/python3", ["scripts/run_notebooks.py", "--mode", "quick", "--index", nb], { cwd: repo, encoding: "utf8" });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--index and --no-code need --out/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
