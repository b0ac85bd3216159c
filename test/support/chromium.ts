/**
 * Helpers for the browser tests: Debian's Chromium driven by puppeteer-core (which downloads no browser),
 * time limits on every wait, and process-group clean-up so that no server, kernel or browser outlives a
 * test, even a failing one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "puppeteer-core";
import puppeteer from "puppeteer-core";

// Code inside page.evaluate / waitForFunction runs in the page; the test tsconfig has no DOM library.
declare const document: any;

export const CHROMIUM = process.env.FBC_CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or null. Set-up installs Chromium; a missing one is a failure. */
export function chromiumMissing(): string | null {
  return fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} not found: run \`npm run setup\` (it installs Debian's chromium)`;
}

/** Rejects after `ms` with a message naming `what`; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${(ms / 1000).toFixed(0)} s: ${what}`)), ms);
    timer.unref();
  });
  promise.catch(() => {}); // a late rejection after the timeout is not an unhandled one
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Signals a whole process group (a child spawned with detached: true leads its own); false if none is left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Pids of live processes whose command line contains `marker` (a unique temporary path of one test:
 * Jupyter starts kernels in sessions of their own, with a connection file under the test's runtime folder).
 */
export function pidsWithArg(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const state = fs.readFileSync(`/proc/${entry}/stat`, "utf8").replace(/^.*\) /, "")[0];
      if (cmd.includes(marker) && state !== "Z") pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Waits until `done()` or `ms` pass; returns whether it became true. */
export async function waitUntil(done: () => boolean, ms: number, every = 200): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (done()) return true;
    await sleep(every);
  }
  return done();
}

/**
 * Headless Chromium with a fresh profile under `profileDir`. puppeteer starts it in a process group of its
 * own (detached); `closeChromium` closes it, kills that group and any process that names the profile.
 */
export async function launchChromium(profileDir: string): Promise<Browser> {
  fs.mkdirSync(profileDir, { recursive: true });
  const args = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-breakpad",
    "--disable-crash-reporter",
  ];
  if (process.getuid?.() === 0) args.push("--no-sandbox"); // Chromium's sandbox refuses to run as root
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true,
    userDataDir: profileDir,
    args,
    timeout: 90_000,
    protocolTimeout: 90_000,
  });
  profiles.set(browser, profileDir);
  return browser;
}

const profiles = new WeakMap<Browser, string>();

export async function closeChromium(browser: Browser | undefined): Promise<void> {
  if (!browser) return;
  const pid = browser.process()?.pid;
  await withTimeout(browser.close(), 20_000, "closing Chromium").catch(() => {});
  if (pid !== undefined) {
    signalGroup(pid, "SIGKILL");
    await waitUntil(() => !groupAlive(pid), 10_000);
  }
  // Helpers that left the group (e.g. a crash handler) still name the profile folder.
  const profile = profiles.get(browser);
  if (profile) {
    for (const p of pidsWithArg(profile)) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}

/** Collects uncaught page errors (and failed script loads) from the moment it is attached. */
export function recordPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (err: unknown) => errors.push(err instanceof Error ? err.message : String(err)));
  return errors;
}

export interface ReportCheck {
  /** Plotly figure containers in the report (`div.fbc-plot`, one per `plot.show`). */
  figures: number;
  /** Of those, how many Plotly drew (an `svg.main-svg` inside). */
  drawn: number;
  pageErrors: string[];
  /** Requests to anything but file: and data: URLs (blocked: a report must work offline). */
  external: string[];
}

/** Lets the page load only file:, data: and blob: URLs; every other request is aborted and listed in the returned array. */
export async function blockExternalRequests(page: Page): Promise<string[]> {
  const external: string[] = [];
  await page.setRequestInterception(true);
  page.on("request", (req) => {
    const url = req.url();
    if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("blob:")) void req.continue();
    else {
      external.push(url);
      void req.abort();
    }
  });
  return external;
}

/**
 * Opens an exported report (file://) offline, waits until Plotly has drawn every figure (up to `ms`),
 * and saves a screenshot of the top of the page.
 */
export async function checkReport(browser: Browser, html: string, screenshot: string, ms = 60_000): Promise<ReportCheck> {
  const page = await browser.newPage();
  try {
    const pageErrors = recordPageErrors(page);
    const external = await blockExternalRequests(page);
    await page.setViewport({ width: 1200, height: 1600 });
    await page.goto("file://" + path.resolve(html), { waitUntil: "load", timeout: ms });
    const count = () =>
      page.evaluate(() => {
        const plots = Array.from(document.querySelectorAll("div.fbc-plot")) as any[];
        return { figures: plots.length, drawn: plots.filter((p) => p.querySelector("svg.main-svg")).length };
      });
    await page
      .waitForFunction(
        () => {
          const plots = Array.from(document.querySelectorAll("div.fbc-plot")) as any[];
          return plots.every((p) => p.querySelector("svg.main-svg"));
        },
        { timeout: ms, polling: 250 },
      )
      .catch(() => {}); // reported through the counts
    const { figures, drawn } = await count();
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot as `${string}.png` });
    return { figures, drawn, pageErrors, external };
  } finally {
    await withTimeout(page.close(), 10_000, "closing a page").catch(() => {});
  }
}

export type { Browser, Page };
