// Executes every notebook in quick mode (FBC_MODE=quick) on a fresh tslab kernel via scripts/run_notebooks.py,
// exports each to HTML in a temporary folder, and opens that report offline in headless Chromium (driven by
// puppeteer-core): every Plotly figure must be drawn and the page must raise no errors. A screenshot of the
// top of each report is kept in runs/browser/reports/. The live notebook is tested in test/browser.test.ts.
// Needs `npm run setup` (Debian Jupyter and Chromium, the project-local kernel) and a built lib (`npm test`
// builds it).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { checkReport, chromiumMissing, closeChromium, launchChromium, withTimeout, type Browser } from "./support/chromium";

const repo = resolve(__dirname, "..");
const dir = join(repo, "notebooks");
const notebooks = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort() : [];
const reports = mkdtempSync(join(tmpdir(), "fbc-reports-"));
const screenshots = join(repo, "runs", "browser", "reports");

let browser: Browser | undefined;
let launchFailure: unknown; // one failed start fails the other report tests at once, without retrying
async function chromium(): Promise<Browser> {
  if (launchFailure) throw launchFailure;
  try {
    browser ??= await withTimeout(launchChromium(join(reports, "chromium-profile")), 90_000, "starting Chromium");
    return browser;
  } catch (err) {
    launchFailure = err;
    throw err;
  }
}
after(async () => {
  await closeChromium(browser);
  rmSync(reports, { recursive: true, force: true });
});

if (notebooks.length === 0) {
  test("notebooks folder exists", () => {
    assert.ok(existsSync(dir), `missing ${dir}`);
  });
}

for (const nb of notebooks) {
  const stem = nb.replace(/\.ipynb$/, "");
  const html = join(reports, `${stem}.html`);

  test(`notebook ${nb} runs in quick mode`, () => {
    const run = spawnSync(
      "/usr/bin/python3",
      ["scripts/run_notebooks.py", "--mode", "quick", "--out", reports, join("notebooks", nb)],
      { cwd: repo, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
    );
    if (run.error) throw run.error;
    assert.equal(run.status, 0, `${nb} failed (exit ${run.status}):\n${run.stdout}${run.stderr}`);
  });

  test(`report ${stem}.html opens offline in Chromium with its Plotly figures drawn`, { timeout: 180_000 }, async () => {
    const missing = chromiumMissing();
    assert.equal(missing, null, missing ?? "");
    assert.ok(existsSync(html), `no report ${html} (the notebook's run above failed before exporting it)`);
    const r = await withTimeout(checkReport(await chromium(), html, join(screenshots, `${stem}.png`)), 120_000, `opening ${stem}.html`);
    assert.ok(r.figures >= 1, `${stem}.html has no Plotly figure`);
    assert.equal(r.drawn, r.figures, `${stem}.html: Plotly drew ${r.drawn} of ${r.figures} figures`);
    assert.deepEqual(r.pageErrors, [], `${stem}.html raised errors in the page`);
    assert.deepEqual(r.external, [], `${stem}.html requested resources from the network (reports must work offline)`);
  });
}
