/**
 * The command-line tools as a user meets them: they never overwrite or silently reuse results, they
 * resume only identical settings, and they answer bad input with one line. Each CLI runs as a child
 * process on tiny networks, with its run folder (FBC_RUNS_DIR) in a temporary directory.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { loadNetwork } from "../lib/src/checkpoint";

const repo = path.resolve(__dirname, "..");
const runs = fs.mkdtempSync(path.join(os.tmpdir(), "fbc-cli-"));
const env: NodeJS.ProcessEnv = { ...process.env, FBC_RUNS_DIR: runs, INIT_CWD: repo };
delete env.NODE_TEST_CONTEXT; // children are plain processes, not test files
const TINY = ["--N", "8", "--batch-size", "4", "--eval-every", "1", "--threads", "1"];

function cli(name: string, args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join("cli", `${name}.ts`), ...args], { cwd: repo, env, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stderr.split("\n").filter((l) => l.trim() !== "") };
}

const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** Hashes of every file under data/ (the shipped data), to show a command left it byte-identical. */
function shippedHashes(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(repo, p), sha(p));
    }
  };
  walk(path.join(repo, "data"));
  return out;
}

function assertOneLineError(r: ReturnType<typeof cli>, pattern: RegExp) {
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(r.lines[0], pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
}

const shippedBefore = shippedHashes();

test("every CLI: --help lists the options with defaults and exits 0", () => {
  for (const name of ["pretrain", "adapt", "compare", "second-order", "sweep"]) {
    const r = cli(name, ["--help"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: npm run /);
    assert.match(r.stdout, /--help/);
    if (name !== "compare" && name !== "sweep") assert.match(r.stdout, /--seeds? <.*\(default: 1/);
  }
});

test("a bad argument prints one line naming it and the allowed values, exits 2; negative numbers reach the check", () => {
  assertOneLineError(cli("adapt", ["--trials", "-5"]), /--trials: must be an integer >= 1, got "-5"/);
  assertOneLineError(cli("adapt", ["--trials=-5"]), /--trials: must be an integer >= 1, got "-5"/);
  assertOneLineError(cli("adapt", ["--lr", "0"]), /--lr: must be a number > 0, got "0"/);
  assertOneLineError(cli("pretrain", ["--feedback", "maybe"]), /--feedback: must be one of on, off, got "maybe"/);
  assertOneLineError(cli("pretrain", ["--bogus"]), /unknown option --bogus/);
  assertOneLineError(cli("adapt", ["--conditions", "rflo+c,nope"]), /--conditions.*"nope".*one of rflo\+c, rflo/);
});

test("a runtime error prints the message and the resolved path, without a stack trace unless --debug", () => {
  const r = cli("adapt", ["--pretrained", "data/pretrained/missing.safetensors"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /checkpoint \/.*data\/pretrained\/missing\.safetensors: cannot read \(ENOENT\)/);
  assert.ok(r.lines.length <= 2, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.match(cli("adapt", ["--pretrained", "data/pretrained/missing.safetensors", "--debug"]).stderr, /^\s+at /m);
});

test("pretrain: other settings against an existing checkpoint are refused and the file stays byte-identical", () => {
  const first = cli("pretrain", ["--batches", "3", ...TINY]);
  assert.equal(first.status, 0, first.stderr);
  const file = path.join(runs, "pretrain", "pretrain-fb-seed1.safetensors");
  const before = sha(file);
  for (const change of [["--batches", "5"], ["--N", "9"], ["--seed", "1", "--batch-size", "5"], ["--fb-velocity", "0.05", "--name", "pretrain-fb-seed1"]]) {
    const r = cli("pretrain", dedupe(["--batches", "3", ...TINY, ...change]));
    assertOneLineError(r, /was computed with other settings \(stored -> requested: .*(batches 3 -> 5|network\.N 8 -> 9|batchSize 4 -> 5|network\.fbVelocityGain .*-> 0\.05)/);
  }
  const same = cli("pretrain", ["--batches", "3", ...TINY]);
  assert.equal(same.status, 0);
  assert.match(same.stderr, /nothing to do: .* is complete with these settings/);
  assert.equal(sha(file), before, "the checkpoint is byte-identical");
});

test("pretrain: --plant and --fb-velocity name the file and travel with the checkpoint's config", async () => {
  const r = cli("pretrain", ["--batches", "2", ...TINY, "--plant", "point_mass", "--fb-velocity", "0.05", "--fb-delay", "2"]);
  assert.equal(r.status, 0, r.stderr);
  const file = path.join(runs, "pretrain", "pretrain-fb-delay2-vel0.05-pointmass-seed1.safetensors");
  const { loadNetwork } = await import("../lib/src/checkpoint");
  const ck = loadNetwork(file);
  assert.equal(ck.network.config.fbVelocityGain, 0.05);
  assert.equal(ck.network.config.fbDelay, 2);
  assert.equal(ck.network.config.plant?.name, "point_mass");
  assertOneLineError(cli("pretrain", ["--fb-velocity", "-1"]), /--fb-velocity: must be a number >= 0, got "-1"/);
});

/** Later occurrences of an option replace earlier ones (the CLI itself refuses an option given twice). */
function dedupe(args: string[]): string[] {
  const m = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) m.set(args[i], args[i + 1]);
  return [...m].flat();
}

test("pretrain: --fresh starts beside an existing run and never touches it; data/ needs --replace-shipped", () => {
  const file = path.join(runs, "pretrain", "pretrain-fb-seed1.safetensors");
  if (!fs.existsSync(file)) assert.equal(cli("pretrain", ["--batches", "3", ...TINY]).status, 0);
  const before = sha(file);
  const fresh = cli("pretrain", ["--batches", "2", ...TINY, "--fresh"]);
  assert.equal(fresh.status, 0, fresh.stderr);
  assert.ok(fs.existsSync(path.join(runs, "pretrain", "pretrain-fb-seed1-run2.safetensors")));
  assert.equal(sha(file), before);
  // The reported new-user steps, against the shipped folder:
  assertOneLineError(cli("pretrain", ["--batches", "2", ...TINY, "--out", "data/pretrained"]), /inside the shipped data folder .* --replace-shipped/);
  assertOneLineError(cli("pretrain", ["--batches", "2", ...TINY, "--out", "data/pretrained", "--fresh"]), /inside the shipped data folder/);
  assertOneLineError(cli("adapt", ["--trials", "2", "--out", "data/results/persistent-rot30", "--fresh"]), /inside the shipped data folder/);
  assertOneLineError(cli("pretrain", ["--batches", "2", ...TINY, "--replace-shipped"]), /--replace-shipped: only applies to an --out inside/);
  assert.deepEqual(shippedHashes(), shippedBefore, "data/ is byte-identical");
});

test("adapt: a changed --trials or --pretrained does not reuse the old result; identical settings do", () => {
  const pre = (seed: number) => {
    const r = cli("pretrain", ["--seed", String(seed), "--batches", "2", ...TINY, "--name", `tiny${seed}`]);
    assert.equal(r.status, 0, r.stderr);
    return path.join(runs, "pretrain", `tiny${seed}.safetensors`);
  };
  const [p1, p2] = [pre(1), pre(2)];
  const out = path.join(runs, "adapt-case");
  const base = ["--conditions", "rflo+c", "--seeds", "1", "--test-every", "1", "--out", out];
  assert.equal(cli("adapt", [...base, "--trials", "2", "--pretrained", p1]).status, 0);
  const files = fs.readdirSync(out).sort();
  assert.deepEqual(files, ["rflo+c-seed1.json", "rflo+c-seed1.tests.csv", "rflo+c-seed1.trials.csv", "rflo+c-seed1.wrec.safetensors"]);
  const hashes = files.map((f) => sha(path.join(out, f)));
  assertOneLineError(cli("adapt", [...base, "--trials", "3", "--pretrained", p1]), /other settings .*config\.trials 2 -> 3/);
  assertOneLineError(cli("adapt", [...base, "--trials", "2", "--pretrained", p2]), /other settings .*pretrainedSha256 [0-9a-f]{64} -> [0-9a-f]{64}/);
  const again = cli("adapt", [...base, "--trials", "2", "--pretrained", p1]);
  assert.equal(again.status, 0);
  assert.match(again.stderr, /finished already with identical settings/);
  assert.deepEqual(fs.readdirSync(out).sort().map((f) => sha(path.join(out, f))), hashes, "results untouched");
  const fresh = cli("adapt", [...base, "--trials", "3", "--pretrained", p1, "--fresh"]);
  assert.equal(fresh.status, 0, fresh.stderr);
  assert.equal(JSON.parse(fs.readFileSync(`${out}-run2/rflo+c-seed1.json`, "utf8")).config.trials, 3);
  assert.deepEqual(fs.readdirSync(out).sort().map((f) => sha(path.join(out, f))), hashes, "--fresh left the first folder untouched");
});

test("adapt: a result file it cannot write gives one line naming the file and folder, no temp file, and the same command then finishes", () => {
  const pre = cli("pretrain", ["--seed", "3", "--batches", "2", ...TINY, "--name", "tiny-unwritable"]);
  assert.equal(pre.status, 0, pre.stderr);
  const out = path.join(runs, "adapt-unwritable");
  // A folder where the trial log goes: its rename fails (EISDIR) deterministically, also for root.
  const blocked = path.join(out, "rflo+c-seed1.trials.csv");
  fs.mkdirSync(blocked, { recursive: true });
  const args = ["--conditions", "rflo+c", "--seeds", "1", "--trials", "2", "--test-every", "1", "--workers", "1", "--threads", "1", "--out", out, "--pretrained", path.join(runs, "pretrain", "tiny-unwritable.safetensors")];
  const r = cli("adapt", args);
  assert.equal(r.status, 1, r.stderr);
  const errors = r.lines.filter((l) => /error/i.test(l));
  assert.equal(errors.length, 1, r.stderr);
  assert.equal(r.lines.at(-1), errors[0], "the error is the last line");
  assert.match(errors[0], /^npm run adapt: error: could not write \/.*\/adapt-unwritable\/rflo\+c-seed1\.trials\.csv \(folder \/.*\/adapt-unwritable\): EISDIR: illegal operation on a directory, rename; nothing was left behind$/);
  assert.doesNotMatch(r.stderr, /^\s+at |--debug/m, "no stack trace and no hint");
  assert.deepEqual(fs.readdirSync(out).filter((f) => f.endsWith(".tmp")), [], "no temp file left behind");
  assert.ok(fs.existsSync(path.join(out, "rflo+c-seed1.partial.safetensors")), "the finished state is kept for the rerun");
  fs.rmdirSync(blocked);
  const again = cli("adapt", args);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /resuming at trial 2/);
  assert.deepEqual(fs.readdirSync(out).sort(), ["rflo+c-seed1.json", "rflo+c-seed1.tests.csv", "rflo+c-seed1.trials.csv", "rflo+c-seed1.wrec.safetensors"]);
});

test("pretrain: a summary it cannot write gives one line, no temp file, keeps the partial checkpoint, and the same command then finishes", () => {
  const out = path.join(runs, "pretrain-unwritable");
  const blocked = path.join(out, "blocked.json");
  fs.mkdirSync(blocked, { recursive: true });
  const args = ["--batches", "2", ...TINY, "--out", out, "--name", "blocked"];
  const r = cli("pretrain", args);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.lines.at(-1) ?? "", /^npm run pretrain: error: could not write \/.*\/pretrain-unwritable\/blocked\.json \(folder \/.*\/pretrain-unwritable\): EISDIR: illegal operation on a directory, rename; nothing was left behind$/);
  assert.equal(r.lines.filter((l) => /error/i.test(l)).length, 1, r.stderr);
  assert.deepEqual(fs.readdirSync(out).sort(), ["blocked.json", "blocked.partial.safetensors"], "no temp file; the run is not marked finished");
  fs.rmdirSync(blocked);
  const again = cli("pretrain", args);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /resuming .*blocked\.partial\.safetensors at batch 2\/2/);
  assert.deepEqual(fs.readdirSync(out).sort(), ["blocked.json", "blocked.safetensors"]);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, "blocked.json"), "utf8")).batchesDone, 2);
});

test("adapt: a run that diverges is recorded as diverged (its logs up to there, no weights, no final error); the other runs go on", () => {
  const r0 = cli("pretrain", ["--seed", "1", "--batches", "2", ...TINY, "--name", "tiny-div"]);
  assert.equal(r0.status, 0, r0.stderr);
  const pre = path.join(runs, "pretrain", "tiny-div.safetensors");
  const out = path.join(runs, "adapt-diverge");
  const r = cli("adapt", ["--conditions", "rflo+c,rflo", "--seeds", "1", "--trials", "300", "--test-every", "5", "--lr", "1000", "--pretrained", pre, "--out", out, "--workers", "1"]);
  assert.equal(r.status, 0, r.stderr);
  for (const c of ["rflo+c", "rflo"]) {
    assert.match(r.stderr, new RegExp(`${c.replace("+", "\\+")} seed 1: diverged at trial \\d+ \\((the trial loss|W_rec) .*\\); recorded as diverged`));
    const s = JSON.parse(fs.readFileSync(path.join(out, `${c}-seed1.json`), "utf8"));
    assert.equal(s.complete, true);
    assert.equal(s.finalTestError, null);
    assert.ok(Number.isInteger(s.diverged.trial) && s.diverged.trial < 300, JSON.stringify(s.diverged));
    assert.ok(!fs.existsSync(path.join(out, `${c}-seed1.wrec.safetensors`)), "no adapted weights for a diverged run");
    const trials = fs.readFileSync(path.join(out, `${c}-seed1.trials.csv`), "utf8").trim().split("\n");
    assert.equal(trials.length - 1, s.diverged.trial, "the trials before divergence");
    assert.doesNotMatch(trials.join("\n"), /NaN/);
  }
  const again = cli("adapt", ["--conditions", "rflo+c,rflo", "--seeds", "1", "--trials", "300", "--test-every", "5", "--lr", "1000", "--pretrained", pre, "--out", out, "--workers", "1"]);
  assert.match(again.stderr, /nothing to do/, "a diverged run is a finished result, reused with identical settings");
});

test("pretrain --variant instructed_delay: a 4-input network, named -instructed, that adapt runs on its own task variant", () => {
  const r = cli("pretrain", ["--variant", "instructed_delay", "--batches", "2", ...TINY]);
  assert.equal(r.status, 0, r.stderr);
  const file = path.join(runs, "pretrain", "pretrain-fb-instructed-seed1.safetensors");
  const ck = loadNetwork(file);
  assert.equal(ck.network.config.nIn, 4);
  assert.equal(ck.network.params.wIn.length, 8 * 4);
  assert.equal((ck.meta.pretrain as { reach: { T: number } }).reach.T, 200);
  const out = path.join(runs, "adapt-instructed");
  const a = cli("adapt", ["--conditions", "rflo+c,bptt", "--seeds", "1", "--trials", "2", "--test-every", "1", "--pretrained", file, "--out", out, "--workers", "1"]);
  assert.equal(a.status, 0, a.stderr);
  const summary = JSON.parse(fs.readFileSync(path.join(out, "rflo+c-seed1.json"), "utf8"));
  assert.deepEqual(summary.config.reach.preparation, { delayMin: 30, delayMax: 70, goCueSteps: 10, testDelay: 50 });
  assert.equal(summary.complete, true);
  assert.ok(Number.isFinite(summary.finalTestError));
  // The test curve is on the variant's centre-out set (T 200, delay 50): its first row is the pre-trained error.
  const b = JSON.parse(fs.readFileSync(path.join(out, "bptt-seed1.json"), "utf8"));
  assert.equal(b.config.reach.T, 200);
  assert.ok(Number.isFinite(b.finalTestError));
});

test("second-order: a resumable table per run; other settings refused, identical ones reused; data/ needs --replace-shipped", () => {
  const r0 = cli("pretrain", ["--seed", "1", "--batches", "2", ...TINY, "--name", "tiny-so"]);
  assert.equal(r0.status, 0, r0.stderr);
  const pre = path.join(runs, "pretrain", "tiny-so.safetensors");
  const out = path.join(runs, "so-case");
  const base = ["--conditions", "rflo+c", "--trials", "0,1", "--steps", "5,20", "--eigen", "5", "--pretrained", pre, "--out", out];
  const first = cli("second-order", [...base, "--lambdas", "1,10"]);
  assert.equal(first.status, 0, first.stderr);
  const csv = fs.readFileSync(path.join(out, "rflo+c-seed1.csv"), "utf8").trim().split("\n");
  assert.equal(csv.length, 1 + 2 * 2 * 2, "one row per trial, step and damping");
  assert.match(csv[0], /^trial,step,lambda,loss,cosRule,cosGradient,cosRuleGradient,iterations,residual,converged/);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, "rflo+c-seed1.json"), "utf8")).complete, true);
  const hash = sha(path.join(out, "rflo+c-seed1.csv"));
  assertOneLineError(cli("second-order", [...base, "--lambdas", "1"]), /other settings .*analysis\.lambdas/);
  const again = cli("second-order", [...base, "--lambdas", "1,10"]);
  assert.equal(again.status, 0);
  assert.match(again.stderr, /finished already with identical settings/);
  assert.equal(sha(path.join(out, "rflo+c-seed1.csv")), hash);
  assertOneLineError(cli("second-order", [...base.slice(0, -2), "--out", "data/results/so-case"]), /inside the shipped data folder/);
  // An interrupted run (summary not complete, the first analysed step on disk) resumes after that step and ends with the same table.
  const json = path.join(out, "rflo+c-seed1.json");
  fs.writeFileSync(json, JSON.stringify({ ...JSON.parse(fs.readFileSync(json, "utf8")), complete: false }));
  fs.writeFileSync(path.join(out, "rflo+c-seed1.csv"), csv.slice(0, 3).join("\n") + "\n");
  const resumed = cli("second-order", [...base, "--lambdas", "1,10"]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming after 1 of 4 steps/);
  const noSeconds = (lines: string[]) => lines.map((l) => l.split(",").filter((_, i) => i !== 13).join(","));
  assert.deepEqual(noSeconds(fs.readFileSync(path.join(out, "rflo+c-seed1.csv"), "utf8").trim().split("\n")), noSeconds(csv));
});

test("adapt: runs computed in parallel worker processes equal the same runs computed one after another", () => {
  const pre = path.join(runs, "pretrain", "tiny1.safetensors");
  if (!fs.existsSync(pre)) assert.equal(cli("pretrain", ["--seed", "1", "--batches", "2", ...TINY, "--name", "tiny1"]).status, 0);
  const base = ["--conditions", "bptt,rflo", "--seeds", "1", "--trials", "3", "--test-every", "1", "--pretrained", pre];
  const serial = cli("adapt", [...base, "--workers", "1", "--out", path.join(runs, "serial")]);
  assert.equal(serial.status, 0, serial.stderr);
  const parallel = cli("adapt", [...base, "--workers", "2", "--out", path.join(runs, "parallel")]);
  assert.equal(parallel.status, 0, parallel.stderr);
  assert.match(parallel.stderr, /2 runs, 2 at a time/);
  for (const f of fs.readdirSync(path.join(runs, "serial")).filter((f) => !f.endsWith(".json"))) {
    assert.equal(sha(path.join(runs, "parallel", f)), sha(path.join(runs, "serial", f)), f);
  }
});

test("pretrain --engine tfjs trains the same network as the native engine, within float32 rounding", () => {
  const args = dedupe(["--batches", "3", ...TINY, "--eval-every", "2"]);
  assert.equal(cli("pretrain", [...args, "--name", "eng-native"]).status, 0);
  const tf = cli("pretrain", [...args, "--name", "eng-tfjs", "--engine", "tfjs"]);
  assert.equal(tf.status, 0, tf.stderr);
  const a = loadNetwork(path.join(runs, "pretrain", "eng-native.safetensors"));
  const b = loadNetwork(path.join(runs, "pretrain", "eng-tfjs.safetensors"));
  assert.deepEqual((b.meta.sessions as { engine: string }[]).map((s) => s.engine), ["tfjs"]);
  for (const name of ["wRec", "wIn", "wOut", "wFb", "b", "bOut"] as const) {
    const x = a.network.params[name];
    const y = b.network.params[name];
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / (1e-3 + Math.abs(x[i])));
    assert.ok(worst < 1e-4, `${name}: differs by ${worst}`);
  }
  assert.deepEqual(b.extra["curves.eval"].shape, a.extra["curves.eval"].shape, "the same evaluation schedule");
});

test("pretrain: Ctrl-C saves a partial checkpoint first (exit 130), and the same command resumes it", async () => {
  const args = ["--batches", "400", ...TINY, "--name", "interrupted", "--checkpoint-every", "1000"];
  const child = spawn(process.execPath, ["--import", "tsx", "cli/pretrain.ts", ...args], { cwd: repo, env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  await new Promise<void>((resolve) => {
    const poll = (): void => void (/new run ->/.test(err) ? setTimeout(resolve, 300) : setTimeout(poll, 50));
    poll();
  });
  child.kill("SIGINT");
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  assert.equal(code, 130, err);
  const partial = path.join(runs, "pretrain", "interrupted.partial.safetensors");
  const saved = loadNetwork(partial);
  const done = (saved.metrics as { batchesDone: number }).batchesDone;
  assert.ok(done > 0 && done < 400, `saved at batch ${done}`);
  const resumed = cli("pretrain", args);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`resuming .*interrupted\\.partial\\.safetensors at batch ${done}/400`));
  assert.ok(!fs.existsSync(partial), "the partial file became the finished one");
  const fin = loadNetwork(path.join(runs, "pretrain", "interrupted.safetensors"));
  assert.equal((fin.metrics as { batchesDone: number }).batchesDone, 400);
  const sessions = fin.meta.sessions as { startBatch: number; endBatch: number; codeVersion: string }[];
  assert.deepEqual(sessions.map((s) => [s.startBatch, s.endBatch]), [[0, done], [done, 400]], "each session's provenance is kept");
});

test("a process killed (SIGKILL) while writing a checkpoint leaves the previous file intact and loadable", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fbc-kill-"));
  const file = path.join(dir, "net.safetensors");
  // Rewrites a 400-unit network again and again, each version with all W_rec entries equal to its number.
  const writer = `
    const { initNetwork } = require("./lib/src/network");
    const { saveNetwork } = require("./lib/src/checkpoint");
    const { Rng } = require("./lib/src/rng");
    const net = initNetwork({ N: 400 }, Rng.seeded(1));
    for (let v = 1; ; v++) {
      net.params.wRec.fill(v);
      saveNetwork(${JSON.stringify(file)}, net, { meta: { version: v } });
      if (v === 2) process.stdout.write("writing\\n");
    }
  `;
  let interrupted = 0;
  // Kill until two kills have landed inside a write (a temp file left behind), at most 20 times.
  for (let round = 0; round < 20 && interrupted < 2; round++) {
    const tmpBefore = fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")).length;
    const child = spawn(process.execPath, ["--import", "tsx", "-e", writer], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<string | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve) => child.stdout.once("data", () => setTimeout(resolve, 20 + 37 * (round % 5))));
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL", `the writer was still writing when killed\n${stderr}`);
    const ck = loadNetwork(file);
    const v = Number(ck.meta.version);
    assert.ok(v >= 1);
    assert.ok(ck.network.params.wRec.every((x) => x === v), `round ${round}: the file holds one complete version (${v})`);
    if (fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")).length > tmpBefore) interrupted += 1;
  }
  assert.ok(interrupted >= 1, "no kill landed inside a write, so nothing was tested");
});

test("sweep: shards (by --shard and by Slurm's environment) merge to the same table as one process; other settings refused; data/ needs --replace-shipped", () => {
  const gridFile = path.join(runs, "grid.json");
  const grid = {
    name: "cli-sweep", pretrained: "pretrained/pretrain-fb-seed1.safetensors", conditions: ["rflo+c", "rflo"], rotations: [30, 60],
    learningRates: { "rflo+c": [5e-5, 5e-3], rflo: [5e-5] }, seeds: [1], trials: 6, testEvery: 3, divergeFactor: 10,
  };
  fs.writeFileSync(gridFile, JSON.stringify(grid));
  const one = path.join(runs, "sweep-one");
  const sharded = path.join(runs, "sweep-sharded");
  const r1 = cli("sweep", ["--grid", gridFile, "--out", one, "--workers", "1"]);
  assert.equal(r1.status, 0, r1.stderr);
  assert.match(r1.stderr, /shard 0\/1 \(default\): 6 of 6 cells to compute/);
  for (const i of [0, 1]) assert.equal(cli("sweep", ["--grid", gridFile, "--out", sharded, "--shard", `${i}/3`, "--workers", "1"]).status, 0);
  // The third shard as a Slurm array task would take it (ids counted from SLURM_ARRAY_TASK_MIN).
  const slurmEnv = { ...env, SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_COUNT: "3" };
  const r3 = spawnSync(process.execPath, ["--import", "tsx", "cli/sweep.ts", "--grid", gridFile, "--out", sharded], { cwd: repo, env: slurmEnv, encoding: "utf8" });
  assert.equal(r3.status, 0, r3.stderr);
  assert.match(r3.stderr, /shard 2\/3 \(Slurm array task 3 of 3\): 2 of 2 cells to compute/);
  const again = cli("sweep", ["--grid", gridFile, "--out", sharded, "--shard", "1/3"]);
  assert.match(again.stderr, /all 2 cells finished already/, "finished cells are skipped");
  for (const dir of [one, sharded]) assert.equal(cli("sweep", ["merge", "--grid", gridFile, "--out", dir, "--require-complete"]).status, 0);
  for (const f of ["sweep.csv", "summary.csv", "curves.csv"]) {
    assert.equal(fs.readFileSync(path.join(sharded, f), "utf8"), fs.readFileSync(path.join(one, f), "utf8"), `${f}: sharded = one process`);
  }
  const info = JSON.parse(fs.readFileSync(path.join(one, "sweep.json"), "utf8"));
  assert.deepEqual([info.cells, info.finished, info.missing], [6, 6, []]);
  const rows = fs.readFileSync(path.join(one, "sweep.csv"), "utf8").trim().split("\n");
  assert.equal(rows.length, 7);
  assert.ok(rows.slice(1).every((l) => /,(done|diverged),/.test(l) && !/NaN/.test(l)), rows.join("\n"));

  // A merge of a partial sweep lists what is missing; --require-complete makes that an error.
  const part = path.join(runs, "sweep-part");
  assert.equal(cli("sweep", ["--grid", gridFile, "--out", part, "--shard", "0/3", "--workers", "1"]).status, 0);
  const m = cli("sweep", ["merge", "--grid", gridFile, "--out", part, "--require-complete"]);
  assert.equal(m.status, 1);
  assert.match(m.stderr, /merged 2\/6 cells[\s\S]*missing 4 cells:\n  rflo\+c-rot30-lr5e-3-seed1\n  rflo-rot30-lr5e-5-seed1\n/);
  const st = cli("sweep", ["status", "--grid", gridFile, "--out", part]);
  assert.match(st.stdout, /cli-sweep: 2\/6 cells finished, 0 part-way/);

  // Other settings against stored cells are refused, naming the difference; the cell files stay as they were.
  const before = fs.readFileSync(path.join(one, "cells", "rflo+c-rot30-lr5e-5-seed1.json"), "utf8");
  fs.writeFileSync(gridFile, JSON.stringify({ ...grid, trials: 7 }));
  assertOneLineError(cli("sweep", ["--grid", gridFile, "--out", one]), /rflo\+c-rot30-lr5e-5-seed1\.json was computed with other settings \(stored -> requested: config\.trials 6 -> 7\)/);
  assert.equal(fs.readFileSync(path.join(one, "cells", "rflo+c-rot30-lr5e-5-seed1.json"), "utf8"), before);
  fs.writeFileSync(gridFile, JSON.stringify({ ...grid, rotations: [30, 200] }));
  assertOneLineError(cli("sweep", ["--grid", gridFile, "--out", one]), /--grid .*grid\.json: rotations: must be in \[-180, 180\] degrees, got 200/);
  fs.writeFileSync(gridFile, JSON.stringify(grid));
  assertOneLineError(cli("sweep", ["--grid", gridFile, "--out", "data/results/cli-sweep"]), /inside the shipped data folder .* --replace-shipped/);
  assertOneLineError(cli("sweep", ["--grid", gridFile, "--out", one, "--shard", "3/3"]), /shard: must be i\/n with 0 <= i < n, got 3\/3/);
  assertOneLineError(cli("sweep", ["frobnicate", "--grid", gridFile]), /unknown command "frobnicate"/);
});

test("plugins: a user's rule file runs through adapt and a sharded sweep; --help lists it; a changed plugin is refused with the difference", () => {
  // The plugin lives outside the project, as a user's would; NODE_PATH lets its `import ... from "fbcontrol"` resolve.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fbc-plugin-"));
  const plugin = path.join(dir, "my-rule.ts");
  fs.copyFileSync(path.join(repo, "test", "fixtures", "scaled-rflo-plugin.ts"), plugin);
  const penv = { ...env, NODE_PATH: path.join(repo, "node_modules") };
  const run = (name: string, args: string[]) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join("cli", `${name}.ts`), ...args], { cwd: repo, env: penv, encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stderr.split("\n").filter((l) => l.trim() !== "") };
  };
  const help = run("adapt", ["--plugin", plugin, "--help"]);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /scaled_rflo \[.*my-rule\.ts\]: RFLO with its update multiplied by factor/);
  assert.match(help.stdout, /--conditions .*scaled_rflo\+c/);
  assert.equal(cli("pretrain", ["--seed", "5", "--batches", "2", ...TINY, "--name", "tiny-plugin"]).status, 0);
  const pre = path.join(runs, "pretrain", "tiny-plugin.safetensors");
  const out = path.join(runs, "adapt-plugin");
  const args = ["--plugin", plugin, "--conditions", "scaled_rflo+c", "--seeds", "1", "--trials", "3", "--test-every", "1", "--lr", "1e-5", "--pretrained", pre, "--out", out, "--workers", "1"];
  const r = run("adapt", args);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(fs.readFileSync(path.join(out, "scaled_rflo+c-seed1.json"), "utf8"));
  assert.equal(summary.config.rule, "scaled_rflo");
  assert.equal(summary.config.sources["rule:scaled_rflo"].sha256, sha(plugin));
  assert.match(run("adapt", args).stderr, /finished already with identical settings/);
  fs.appendFileSync(plugin, "\n// a later version of the plugin\n");
  const refused = run("adapt", args);
  assert.equal(refused.status, 2, refused.stderr);
  assert.equal(refused.lines.length, 1, refused.stderr);
  assert.match(refused.lines[0], /other settings .*config\.sources\.rule:scaled_rflo\.sha256 [0-9a-f]{64} -> [0-9a-f]{64}/);
  assertOneLineError(run("adapt", ["--plugin", path.join(dir, "none.ts")]), /plugin: .*none\.ts: no such file/);
  assertOneLineError(run("adapt", ["--conditions", "scaled_rflo"]), /--conditions/);

  // A sweep grid naming the plugin's rule: two shards merged equal one process.
  const gridFile = path.join(dir, "grid.json");
  fs.writeFileSync(gridFile, JSON.stringify({
    name: "plugin-sweep", pretrained: "pretrained/pretrain-fb-seed1.safetensors", plugins: [plugin], ruleOptions: { scaled_rflo: { factor: 4 } },
    conditions: ["scaled_rflo+c", "rflo"], rotations: [30], learningRates: { "scaled_rflo+c": [1e-5, 3e-5], rflo: [5e-5] }, seeds: [1], trials: 4, testEvery: 2,
  }));
  const one = path.join(runs, "plugin-sweep-one");
  const sharded = path.join(runs, "plugin-sweep-sharded");
  assert.equal(run("sweep", ["--grid", gridFile, "--out", one, "--workers", "1"]).status, 0);
  for (const i of [0, 1]) assert.equal(run("sweep", ["--grid", gridFile, "--out", sharded, "--shard", `${i}/2`, "--workers", "1"]).status, 0);
  for (const d of [one, sharded]) assert.equal(run("sweep", ["merge", "--grid", gridFile, "--out", d, "--require-complete"]).status, 0);
  assert.equal(fs.readFileSync(path.join(sharded, "sweep.csv"), "utf8"), fs.readFileSync(path.join(one, "sweep.csv"), "utf8"));
  const cell = JSON.parse(fs.readFileSync(path.join(one, "cells", "scaled_rflo+c-rot30-lr1e-5-seed1.json"), "utf8"));
  assert.deepEqual(cell.settings.config.ruleOptions, { factor: 4 });
});

test("plugins: a user's measure file attaches through adapt --measure, in worker processes too; its columns reach trials.csv and its source the settings", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fbc-measure-"));
  const plugin = path.join(dir, "my-measure.ts");
  fs.copyFileSync(path.join(repo, "test", "fixtures", "update-peak-measure.ts"), plugin);
  const penv = { ...env, NODE_PATH: path.join(repo, "node_modules") };
  const run = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join("cli", "adapt.ts"), ...args], { cwd: repo, env: penv, encoding: "utf8" });
  const help = run(["--plugin", plugin, "--help"]);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /update_peak \[.*my-measure\.ts\]: the largest per-step update/);
  assert.match(help.stdout, /control_size: root mean square of the control input/);
  if (!fs.existsSync(path.join(runs, "pretrain", "tiny-plugin.safetensors"))) assert.equal(cli("pretrain", ["--seed", "5", "--batches", "2", ...TINY, "--name", "tiny-plugin"]).status, 0);
  const out = path.join(runs, "adapt-measure");
  const r = run(["--plugin", plugin, "--measure", "update_peak", "--conditions", "rflo+c,rflo", "--seeds", "1", "--trials", "3", "--test-every", "1", "--pretrained", path.join(runs, "pretrain", "tiny-plugin.safetensors"), "--out", out, "--workers", "2"]);
  assert.equal(r.status, 0, r.stderr);
  for (const c of ["rflo+c", "rflo"]) {
    const [header, ...rows] = fs.readFileSync(path.join(out, `${c}-seed1.trials.csv`), "utf8").trim().split("\n");
    const cols = header.split(",");
    assert.deepEqual(cols.slice(-2), ["updatePeak", "updatePeakStep"]);
    assert.equal(rows.length, 3);
    for (const row of rows) {
      const v = row.split(",");
      assert.ok(Number(v[cols.indexOf("updatePeak")]) > 0 && Number(v[cols.indexOf("updatePeakStep")]) >= 0, row);
    }
    const summary = JSON.parse(fs.readFileSync(path.join(out, `${c}-seed1.json`), "utf8"));
    assert.deepEqual(summary.config.measures, [{ name: "update_peak", options: {} }]);
    assert.equal(summary.config.sources["measure:update_peak"].sha256, sha(plugin));
  }
  assertOneLineError(cli("adapt", ["--measure", "no_such"]), /no_such/);
});

test("after all CLI tests, the shipped data is byte-identical", () => {
  assert.deepEqual(shippedHashes(), shippedBefore);
});
