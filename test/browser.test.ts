/**
 * The live notebook in a real browser, as a user meets it after `npm run setup`: `npm run notebook` serves a
 * copy of notebook 00 (the committed .ipynb is never opened by the server), Debian's Chromium (headless,
 * driven by puppeteer-core) loads the URL the launcher prints, runs every cell from the Cell menu, waits for
 * the inline Plotly figures, edits the rotation angle in one cell, re-runs it with Ctrl-Enter and checks that
 * its figure changed. A screenshot of the edited cell is kept at runs/browser/live-notebook.png. The server is
 * stopped with SIGINT, as Ctrl-C does; whatever is left (server, kernels, browser) is killed by process group.
 *
 * The exported reports are checked in the same browser by test/notebooks.test.ts, on the HTML of its own
 * quick-mode run (so that no notebook executes twice).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  chromiumMissing,
  closeChromium,
  groupAlive,
  launchChromium,
  pidsWithArg,
  recordPageErrors,
  signalGroup,
  waitUntil,
  withTimeout,
  type Browser,
  type Page,
} from "./support/chromium";
import type { ElementHandle } from "puppeteer-core";

// Page-side code (the classic Notebook's globals); the test tsconfig has no DOM library.
declare const document: any;
declare const window: any;
declare const Jupyter: any;

const repo = path.resolve(__dirname, "..");
const NOTEBOOK = "00-task-and-network.ipynb";
const ARTIFACTS = path.join(repo, "runs", "browser");
const BUDGET_MS = 240_000; // the whole live test, start to clean-up; it took 16-19 s on a 2-core machine under load

// The edit: the rotation angle of section 3 ("task.rotate(co, 30)") and its figure's title.
const EDIT_FROM = [/task\.rotate\(co, 30\)/, /rotated by 30°/];
const EDIT_TO = ["task.rotate(co, 45)", "rotated by 45°"];

const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** Everything the test starts, so that `cleanUp` can stop it whatever happened. */
interface Started {
  work?: string;
  server?: ChildProcess;
  serverLog: string[];
  browser?: Browser;
  page?: Page;
  failed: boolean;
}

// Last resort if the test process itself exits early (an exception, or SIGTERM/SIGINT from the test runner or
// a user): kill the server's group, then the kernels (in sessions of their own) by the test's folder.
const groups = new Set<number>();
const works = new Set<string>();
process.on("exit", () => {
  for (const g of groups) signalGroup(g, "SIGKILL");
  for (const w of works) {
    for (const p of pidsWithArg(w)) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
    fs.rmSync(w, { recursive: true, force: true });
  }
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(sig, () => process.exit(128 + os.constants.signals[sig]));

function serverText(s: Started): string {
  return s.serverLog.join("").split("\n").slice(-40).join("\n");
}

async function startServer(s: Started, notebookDir: string): Promise<{ url: string; base: string; token: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FBC_MODE: "quick",
    // Jupyter's runtime files (connection files, cookie secret), config and data stay in the test's folder.
    JUPYTER_RUNTIME_DIR: path.join(s.work!, "jupyter", "runtime"),
    JUPYTER_CONFIG_DIR: path.join(s.work!, "jupyter", "config"),
    JUPYTER_DATA_DIR: path.join(s.work!, "jupyter", "data"),
  };
  delete env.NODE_TEST_CONTEXT;
  // As a user types it: `npm run notebook`, here with the copy's folder; port and token are the launcher's.
  const server = spawn("npm", ["run", "--silent", "notebook", "--", "--notebook-dir", notebookDir], {
    cwd: repo,
    env,
    detached: true, // its own process group: npm, the launcher and Jupyter
    stdio: ["ignore", "pipe", "pipe"],
  });
  s.server = server;
  if (server.pid !== undefined) groups.add(server.pid);
  server.stdout!.on("data", (d) => s.serverLog.push(String(d)));
  server.stderr!.on("data", (d) => s.serverLog.push(String(d)));
  const exited = new Promise<never>((_, reject) =>
    server.once("exit", (code, sig) => reject(new Error(`npm run notebook exited (${code ?? sig}):\n${serverText(s)}`))),
  );
  exited.catch(() => {});

  const urlLine = /notebook: open (http:\/\/127\.0\.0\.1:(\d+))\/tree\?token=([0-9a-f]+)/;
  const found = await withTimeout(
    Promise.race([
      exited,
      (async () => {
        for (;;) {
          const m = urlLine.exec(s.serverLog.join(""));
          if (m) return m;
          await new Promise((r) => setTimeout(r, 100));
        }
      })(),
    ]),
    30_000,
    `npm run notebook printing its URL:\n${serverText(s)}`,
  );
  const [, base, , token] = found;
  // Ready when the REST API answers with the token.
  await withTimeout(
    Promise.race([
      exited,
      (async () => {
        for (;;) {
          const ok = await fetch(`${base}/api/status?token=${token}`).then((r) => r.ok, () => false);
          if (ok) return;
          await new Promise((r) => setTimeout(r, 250));
        }
      })(),
    ]),
    60_000,
    "the notebook server answering",
  );
  return { url: found[0].replace("notebook: open ", ""), base, token };
}

interface CellInfo {
  index: number;
  text: string;
  errors: string[];
  figures: number;
  stdout: string;
}

/** Per code cell: its index, text and outputs, as the notebook page holds them. */
function codeCells(page: Page): Promise<CellInfo[]> {
  return page.evaluate(() =>
    Jupyter.notebook
      .get_cells()
      .map((c: any, index: number) => ({ index, type: c.cell_type, text: c.get_text() as string, outputs: c.output_area ? c.output_area.outputs : [] }))
      .filter((c: any) => c.type === "code")
      .map((c: any) => ({
        index: c.index as number,
        text: c.text,
        errors: c.outputs
          .filter((o: any) => o.output_type === "error" || (o.output_type === "stream" && o.name === "stderr"))
          .map((o: any) => (o.output_type === "error" ? `${o.ename}: ${o.evalue}` : o.text)) as string[],
        figures: c.outputs.filter((o: any) => o.data && o.data["application/vnd.plotly.v1+json"]).length as number,
        stdout: c.outputs.filter((o: any) => o.output_type === "stream" && o.name === "stdout").map((o: any) => o.text).join("") as string,
      })),
  );
}

/** The figure of cell `index`: its container's id, its title, and the drawn line paths. */
function figureOf(page: Page, index: number) {
  return page.evaluate((i: number) => {
    const el = Jupyter.notebook.get_cell(i).element[0];
    const plot = el.querySelector(".output_area div.fbc-plot");
    if (!plot || !plot.querySelector("svg.main-svg")) return null;
    return {
      id: plot.id as string,
      title: (plot.querySelector(".gtitle")?.textContent ?? "") as string,
      paths: Array.from(plot.querySelectorAll(".scatterlayer path.js-line")).map((p: any) => p.getAttribute("d")).join("|") as string,
    };
  }, index);
}

async function liveNotebook(s: Started): Promise<void> {
  const original = path.join(repo, "notebooks", NOTEBOOK);
  const originalSha = sha(original);

  // A copy inside the repo (runs/ is git-ignored), so that `import ... from "fbcontrol"` resolves to
  // node_modules/fbcontrol (lib/dist) exactly as from notebooks/.
  fs.mkdirSync(path.join(repo, "runs"), { recursive: true });
  s.work = fs.mkdtempSync(path.join(repo, "runs", "browser-live-"));
  works.add(s.work);
  for (const old of ["live-notebook.png", "live-notebook-failure.png"]) fs.rmSync(path.join(ARTIFACTS, old), { force: true });
  const notebookDir = path.join(s.work, "notebooks");
  fs.mkdirSync(notebookDir);
  fs.copyFileSync(original, path.join(notebookDir, NOTEBOOK));
  assert.equal(
    require.resolve("fbcontrol", { paths: [notebookDir] }),
    require.resolve("fbcontrol", { paths: [path.join(repo, "notebooks")] }),
    "fbcontrol resolves differently from the copy's folder",
  );

  const { url, base } = await startServer(s, notebookDir);

  s.browser = await launchChromium(path.join(s.work, "chromium-profile"));
  const page = (s.page = await s.browser.newPage());
  page.setDefaultTimeout(60_000);
  const pageErrors = recordPageErrors(page);
  await page.setViewport({ width: 1300, height: 1100 });

  // The printed URL logs in (token) and lists the notebook folder.
  await page.goto(url, { waitUntil: "load", timeout: 60_000 });
  await page.waitForSelector(`#notebook_list a[href$="${NOTEBOOK}"]`, { timeout: 30_000 });

  await page.goto(`${base}/notebooks/${NOTEBOOK}`, { waitUntil: "load", timeout: 60_000 });
  await page.waitForFunction(
    () => typeof Jupyter !== "undefined" && Jupyter.notebook && Jupyter.notebook._fully_loaded && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected(),
    { timeout: 120_000, polling: 250 },
  );
  assert.equal(await page.evaluate(() => Jupyter.notebook.kernel.name), "tslab");
  const cells = await codeCells(page);
  assert.ok(cells.length > 0, "no code cells");

  // Count finished executions, then Cell > Run All.
  await page.evaluate(() => {
    window.__fbcFinished = [];
    Jupyter.notebook.events.on("finished_execute.CodeCell", (_e: unknown, d: any) => window.__fbcFinished.push(Jupyter.notebook.find_cell_index(d.cell)));
  });
  await page.click("#celllink");
  await page.waitForSelector("#run_all_cells > a", { visible: true, timeout: 10_000 });
  await page.click("#run_all_cells > a");
  await page
    .waitForFunction((n: number) => window.__fbcFinished.length >= n, { timeout: 150_000, polling: 500 }, cells.length)
    .catch(async (err: Error) => {
      const done = await page.evaluate(() => window.__fbcFinished).catch(() => "?");
      throw new Error(`Run All did not finish (${err.message}); finished cells: ${JSON.stringify(done)}\n${JSON.stringify(await codeCells(page).catch(() => []), null, 1).slice(0, 4000)}`);
    });

  const ran = await codeCells(page);
  for (const c of ran) assert.deepEqual(c.errors, [], `cell ${c.index} reported an error:\n${c.text}`);
  const expected = ran.reduce((n, c) => n + c.figures, 0);
  assert.ok(expected >= 1, "the notebook sent no Plotly figures");

  // Plotly draws each figure inline: an svg.main-svg inside every figure container of the cell outputs.
  await page.waitForFunction(
    (n: number) => {
      const plots = Array.from(document.querySelectorAll("#notebook .output_area div.fbc-plot")) as any[];
      return plots.length === n && plots.every((p) => p.querySelector("svg.main-svg"));
    },
    { timeout: 60_000, polling: 250 },
    expected,
  );

  // Edit the rotation cell as a user does (select all in its editor, type the new text), run it with Ctrl-Enter.
  const target = ran.find((c) => EDIT_FROM.every((re) => re.test(c.text)));
  assert.ok(target, `no code cell of ${NOTEBOOK} matches ${EDIT_FROM.join(" and ")}`);
  const before = await figureOf(page, target.index);
  assert.ok(before, "the rotation cell has no drawn figure");
  let edited = target.text;
  EDIT_FROM.forEach((re, i) => (edited = edited.replace(re, EDIT_TO[i])));

  await page.evaluate((i: number) => {
    Jupyter.notebook.select(i);
    Jupyter.notebook.get_cell(i).element[0].scrollIntoView({ block: "start" });
  }, target.index);
  const editor = (await page.evaluateHandle((i: number) => Jupyter.notebook.get_cell(i).element[0].querySelector(".CodeMirror"), target.index)) as ElementHandle<any>;
  await editor.click();
  await page.keyboard.down("Control");
  await page.keyboard.press("KeyA");
  await page.keyboard.up("Control");
  await page.keyboard.sendCharacter(edited);
  assert.equal(await page.evaluate((i: number) => Jupyter.notebook.get_cell(i).get_text(), target.index), edited, "the editor does not hold the typed text");

  await page.evaluate(() => (window.__fbcFinished = []));
  await page.keyboard.down("Control");
  await page.keyboard.press("Enter");
  await page.keyboard.up("Control");
  await page.waitForFunction((i: number) => window.__fbcFinished.includes(i), { timeout: 60_000, polling: 250 }, target.index);
  await page.waitForFunction(
    (i: number, oldId: string) => {
      const plot = Jupyter.notebook.get_cell(i).element[0].querySelector(".output_area div.fbc-plot");
      return plot && plot.id !== oldId && plot.querySelector("svg.main-svg");
    },
    { timeout: 30_000, polling: 250 },
    target.index,
    before.id,
  );
  const after = await figureOf(page, target.index);
  assert.ok(after);
  const rerun = (await codeCells(page)).find((c) => c.index === target.index)!;
  assert.deepEqual(rerun.errors, [], "the edited cell reported an error");
  assert.match(before.title, /30°/);
  assert.match(after.title, /45°/, `the re-run figure's title is "${after.title}"`);
  assert.notEqual(after.paths, before.paths, "the re-run figure draws the same paths as before the edit");
  assert.match(rerun.stdout, /largest change of any input value under the rotation: 0/);

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.evaluate((i: number) => Jupyter.notebook.get_cell(i).element[0].scrollIntoView({ block: "start" }), target.index);
  await page.screenshot({ path: path.join(ARTIFACTS, "live-notebook.png") as `${string}.png` });
  assert.deepEqual(pageErrors, [], "uncaught errors in the notebook page");

  // Stop as Ctrl-C does (SIGINT to the foreground group): the server shuts its kernel down and exits.
  await closeChromium(s.browser);
  s.browser = undefined;
  const server = s.server!;
  const kernels = pidsWithArg(path.join(s.work, "jupyter", "runtime")); // their connection files live there
  assert.equal(kernels.length, 1, "expected one kernel process (its connection file in the test's runtime folder)");
  signalGroup(server.pid!, "SIGINT");
  const stopped = await waitUntil(() => server.exitCode !== null || server.signalCode !== null, 30_000);
  assert.ok(stopped, `the server did not stop within 30 s of SIGINT:\n${serverText(s)}`);
  assert.ok(await waitUntil(() => pidsWithArg(s.work!).length === 0, 15_000), `processes left after SIGINT: ${pidsWithArg(s.work)} (kernel was ${kernels})`);
  assert.ok(await waitUntil(() => !groupAlive(server.pid!), 10_000), "the server's process group outlived it");
  assert.match(serverText(s), /Shutting down 1 kernel/);

  assert.equal(sha(original), originalSha, `notebooks/${NOTEBOOK} changed`);
}

async function cleanUp(s: Started): Promise<void> {
  if (s.failed && s.page) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await withTimeout(s.page.screenshot({ path: path.join(ARTIFACTS, "live-notebook-failure.png") as `${string}.png` }), 15_000, "failure screenshot").catch(() => {});
  }
  await closeChromium(s.browser);
  const pid = s.server?.pid;
  if (pid !== undefined) {
    if (groupAlive(pid)) {
      signalGroup(pid, "SIGTERM");
      if (!(await waitUntil(() => !groupAlive(pid), 15_000))) signalGroup(pid, "SIGKILL");
    }
    groups.delete(pid);
  }
  if (s.work) {
    // Kernels run in sessions of their own: find them by the test's folder in their command line.
    for (const p of pidsWithArg(s.work)) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.writeFileSync(path.join(ARTIFACTS, "live-notebook-server.log"), s.serverLog.join(""));
    fs.rmSync(s.work, { recursive: true, force: true });
    works.delete(s.work);
  }
}

test("live notebook: npm run notebook serves a copy of notebook 00; Chromium runs it, edits a cell, sees its figures", { timeout: BUDGET_MS + 60_000 }, async () => {
  const missing = chromiumMissing();
  assert.equal(missing, null, missing ?? "");
  const s: Started = { serverLog: [], failed: false };
  try {
    await withTimeout(liveNotebook(s), BUDGET_MS, "the live notebook test");
  } catch (err) {
    s.failed = true;
    throw err;
  } finally {
    await cleanUp(s);
  }
  // Reached only when the test passed (a failure's own error is not masked): nothing may be left running.
  assert.deepEqual(pidsWithArg(s.work!), [], "processes left behind");
});
