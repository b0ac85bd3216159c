/**
 * The API reference: `npm run docs` (TypeDoc, typedoc.json) builds an offline HTML reference of the lib's
 * public API (lib/src/index.ts) and fails on an exported symbol without a doc comment. Here it is built into
 * a temporary folder, its pages for a few key symbols are checked, no page may load anything from the
 * network, and its index is opened offline in headless Chromium (Debian's, through puppeteer-core): no page
 * errors, no failed or external requests, the project's title and the module list shown, and the navigation
 * that the theme's scripts build filled in. A screenshot is kept at runs/browser/api-reference.png.
 * A second test builds a one-file entry point with one undocumented export with the same options and
 * expects the build to fail naming it.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { blockExternalRequests, chromiumMissing, closeChromium, launchChromium, recordPageErrors, withTimeout, type Browser } from "./support/chromium";

// Page-side code; the test tsconfig has no DOM library.
declare const document: any;

const repo = resolve(__dirname, "..");
const TYPEDOC = join(repo, "node_modules", "typedoc", "bin", "typedoc");
const work = mkdtempSync(join(tmpdir(), "fbc-docs-"));
const SCREENSHOT = join(repo, "runs", "browser", "api-reference.png");

let browser: Browser | undefined;
after(async () => {
  await closeChromium(browser);
  rmSync(work, { recursive: true, force: true });
});

const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** Runs a command in the repository; its exit code and its stdout and stderr together (colours removed). */
function run(cmd: string, args: string[], ms: number): { code: number | null; output: string; seconds: number } {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: repo, encoding: "utf8", timeout: ms, killSignal: "SIGKILL", env: { ...process.env, NO_COLOR: "1" } });
  const output = plain(`${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? `\n${r.error.message}` : ""}`);
  return { code: r.status, output, seconds: (Date.now() - t0) / 1000 };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

// What a page would load from elsewhere: script, style, image and frame sources, CSS url() and @import.
// Plain links (<a href="https://...">) are not loads and are allowed.
const REMOTE_LOAD = [
  /<(?:script|img|iframe|source|audio|video|embed|track)\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?\/\//i,
  /<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?\/\//i,
  /url\(\s*["']?(?:https?:)?\/\//i,
  /@import\s+(?:url\()?\s*["']?(?:https?:)?\/\//i,
];

test("npm run docs: the API reference builds, has the key symbols' pages, loads nothing remote and renders offline in Chromium", { timeout: 240_000 }, async () => {
  const out = join(work, "api");
  const build = run("npm", ["run", "--silent", "docs", "--", "--out", out], 180_000);
  console.log(`npm run docs: ${build.seconds.toFixed(1)} s`);
  assert.equal(build.code, 0, `npm run docs failed (exit ${build.code}); every exported symbol needs a doc comment:\n${build.output.split("\n").slice(-80).join("\n")}`);

  // Pages of key symbols (TypeDoc names them <kind folder>/<namespace>.<name>.html).
  for (const page of [
    "index.html",
    "modules/rules.html",
    "classes/adapt.Adapter.html",
    "functions/rules.registerRule.html",
    "functions/kernels.rfloStep.html",
    "interfaces/network.NetworkConfig.html",
    "classes/Progress.html",
  ]) {
    assert.ok(existsSync(join(out, page)), `the reference has no ${page}`);
  }
  const adapter = readFileSync(join(out, "classes/adapt.Adapter.html"), "utf8");
  assert.match(adapter, /<h1>Class Adapter/, "the Adapter page names the class");
  assert.match(readFileSync(join(out, "functions/rules.registerRule.html"), "utf8"), /Registers a rule under its name/, "registerRule's page shows its doc comment");

  // Offline: no page, stylesheet or script of the reference loads anything from the network.
  const remote: string[] = [];
  for (const file of filesUnder(out).filter((f) => /\.(html|css|js)$/.test(f))) {
    const text = readFileSync(file, "utf8");
    for (const re of REMOTE_LOAD) {
      const m = re.exec(text);
      if (m) remote.push(`${relative(out, file)}: ${m[0].slice(0, 120)}`);
    }
  }
  assert.deepEqual(remote, [], `the reference loads remote resources:\n${remote.join("\n")}`);

  // Rendered offline in headless Chromium: every request other than file: or data: is blocked and counted.
  const missing = chromiumMissing();
  assert.equal(missing, null, missing ?? "");
  browser = await withTimeout(launchChromium(join(work, "chromium-profile")), 90_000, "starting Chromium");
  const page = await browser.newPage();
  const pageErrors = recordPageErrors(page);
  const external = await blockExternalRequests(page);
  const failed: string[] = [];
  const consoleErrors: string[] = [];
  page.on("requestfailed", (req) => {
    if (!external.includes(req.url())) failed.push(`${req.url()}: ${req.failure()?.errorText ?? "failed"}`);
  });
  // The theme's pages name their icons as <use href="assets/icons.svg#icon-...">, which Chromium refuses to
  // load from a file: page (one console error each) before the theme's icons.js, seeing a file: page, inlines
  // the icons and points every <use> at them; those errors are expected, and the icons are checked below.
  const iconRefused = /^Unsafe attempt to load URL file:\S*\/assets\/icons\.svg#icon-/;
  page.on("console", (msg) => {
    if (msg.type() === "error" && !iconRefused.test(msg.text())) consoleErrors.push(msg.text());
  });
  await page.setViewport({ width: 1200, height: 900 });
  await withTimeout(page.goto("file://" + join(out, "index.html"), { waitUntil: "load", timeout: 60_000 }), 70_000, "opening the reference");
  // The theme shows the page once its script has run, and builds the side navigation from navigation.js.
  await page
    .waitForFunction(
      () => document.body.style.display !== "none" && document.querySelectorAll("#tsd-nav-container a").length > 0,
      { timeout: 30_000, polling: 200 },
    )
    .catch(() => {}); // reported by the checks below
  const shown = await page.evaluate(() => ({
    visible: document.body.style.display !== "none",
    title: document.querySelector("h1")?.textContent ?? "",
    intro: document.querySelector(".col-content .tsd-comment")?.textContent ?? "",
    modules: (Array.from(document.querySelectorAll(".col-content a")) as any[]).map((a) => (a.textContent as string).trim()),
    nav: (Array.from(document.querySelectorAll("#tsd-nav-container a")) as any[]).map((a) => (a.textContent as string).trim()),
    icons: document.querySelectorAll("use").length,
    iconsNotInline: (Array.from(document.querySelectorAll("use")) as any[]).map((u) => u.getAttribute("href") as string).filter((h) => !h.startsWith("#")),
  }));
  mkdirSync(join(repo, "runs", "browser"), { recursive: true });
  await page.screenshot({ path: SCREENSHOT as `${string}.png` });
  await withTimeout(page.close(), 10_000, "closing the page").catch(() => {});

  assert.deepEqual(pageErrors, [], `page errors: ${pageErrors.join("; ")}`);
  assert.deepEqual(external, [], `requests to the network: ${external.join(", ")}`);
  assert.deepEqual(failed, [], `failed requests: ${failed.join(", ")}`);
  assert.deepEqual(consoleErrors, [], `console errors: ${consoleErrors.join("; ")}`);
  assert.ok(shown.visible, "the page stayed hidden (the theme's script did not run)");
  assert.ok(shown.icons > 0 && shown.iconsNotInline.length === 0, `icons not inlined for file: (${shown.iconsNotInline.slice(0, 5).join(", ")})`);
  assert.equal(shown.title, "fbcontrol API reference");
  assert.match(shown.intro, /Feedback control guides credit assignment in recurrent neural networks/);
  for (const name of ["adapt", "analysis", "kernels", "network", "rules", "sweep", "task", "train"]) {
    assert.ok(shown.modules.includes(name), `the module list lacks ${name} (has ${shown.modules.join(", ")})`);
    assert.ok(shown.nav.includes(name), `the navigation lacks ${name} (has ${shown.nav.join(", ")})`);
  }
});

test("an exported symbol without a doc comment fails the docs build, which names it", { timeout: 120_000 }, () => {
  const dir = join(work, "undocumented");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "entry.ts"), "/** A documented constant. */\nexport const documentedThing = 1;\n\nexport function undocumentedThing(): number {\n  return 2;\n}\n");
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "ES2022", lib: ["ES2022"], module: "commonjs", strict: true, types: [] }, files: ["entry.ts"] }),
  );
  // The project's options (typedoc.json), with this entry point and tsconfig instead of the lib's (an options
  // file that extends it: TypeDoc reads the tsconfig before command-line options could replace it).
  writeFileSync(join(dir, "typedoc.json"), JSON.stringify({ extends: [join(repo, "typedoc.json")], entryPoints: ["entry.ts"], tsconfig: "tsconfig.json", out: "out" }));
  const r = run(process.execPath, [TYPEDOC, "--options", join(dir, "typedoc.json")], 90_000);
  assert.notEqual(r.code, 0, `the build passed with an undocumented export:\n${r.output}`);
  assert.match(r.output, /undocumentedThing[^\n]*does not have any documentation/, r.output);
  assert.doesNotMatch(r.output, /\bdocumentedThing\b[^\n]*does not have any documentation/, r.output);
});
