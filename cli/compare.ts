/**
 * Compares a recomputed result with the shipped one (or any two results of the same kind) and prints
 * what differs: settings, provenance, tensors, and the recorded metrics.
 *
 *   npm run compare -- runs/pretrain/pretrain-fb-seed1.safetensors data/pretrained/pretrain-fb-seed1.safetensors
 *   npm run compare -- runs/adapt/persistent-rot30 data/results/persistent-rot30
 *
 * Two checkpoints: the settings that differ, per tensor the largest absolute difference and the relative
 * Frobenius difference ‖a-b‖/‖b‖, and the last test errors side by side. Two adaptation folders: per run
 * (condition and seed) the settings that differ, the final test errors, and the largest difference of
 * the per-trial losses.
 */
import * as fs from "fs";
import * as path from "path";
import { CheckpointContent, loadCheckpoint } from "../lib/src/checkpoint";
import { describeDiff, settingsDiff } from "../lib/src/provenance";
import { opt, runCli, UsageError } from "./args";
import { userPath } from "./output";

const spec = {
  usage: "npm run compare --",
  about: `Prints how two results of the same kind differ: two checkpoints (.safetensors), or two folders of
adaptation runs written by \`npm run adapt\`. Nothing is written.`,
  options: {
    digits: opt.int("significant digits of the printed numbers", 4, 1, 17),
  },
  positionals: { names: "<a> <b>", min: 2, max: 2 },
};

const fmt = (x: number, d: number) => (Number.isFinite(x) ? x.toPrecision(d) : String(x));

function compareCheckpoints(fa: string, fb: string, a: CheckpointContent, b: CheckpointContent, d: number): void {
  const settings = (c: CheckpointContent) => ({ kind: c.kind, config: c.config, pretrain: c.meta?.pretrain });
  const diff = settingsDiff(settings(b), settings(a));
  console.log(diff.length ? `settings differ (b -> a): ${describeDiff(diff, 20)}` : "settings: identical");
  for (const [name, f, c] of [["a", fa, a], ["b", fb, b]] as const) {
    const m = c.meta ?? {};
    console.log(`${name}: ${f}\n   code ${m.codeVersion ?? "?"}${m.allowDirty ? " (dirty tree allowed)" : ""}, created ${m.createdAt ?? "?"}, engine ${m.engine ?? "?"}`);
  }
  console.log(`\n${"tensor".padEnd(24)} ${"shape".padEnd(12)} ${"max |a-b|".padStart(12)} ${"|a-b|/|b|".padStart(12)}`);
  const names = [...new Set([...Object.keys(a.tensors), ...Object.keys(b.tensors)])].sort();
  for (const n of names) {
    const ta = a.tensors[n];
    const tb = b.tensors[n];
    if (!ta || !tb) {
      console.log(`${n.padEnd(24)} only in ${ta ? "a" : "b"}`);
      continue;
    }
    if (ta.shape.join("x") !== tb.shape.join("x")) {
      console.log(`${n.padEnd(24)} shapes differ: [${ta.shape}] vs [${tb.shape}]`);
      continue;
    }
    let maxAbs = 0;
    let num = 0;
    let den = 0;
    for (let i = 0; i < ta.data.length; i++) {
      const e = ta.data[i] - tb.data[i];
      maxAbs = Math.max(maxAbs, Math.abs(e));
      num += e * e;
      den += tb.data[i] * tb.data[i];
    }
    const rel = den > 0 ? Math.sqrt(num / den) : num > 0 ? Infinity : 0;
    console.log(`${n.padEnd(24)} ${`[${ta.shape}]`.padEnd(12)} ${fmt(maxAbs, d).padStart(12)} ${fmt(rel, d).padStart(12)}`);
  }
  const ea = (a.metrics as { lastEval?: Record<string, number> } | null)?.lastEval;
  const eb = (b.metrics as { lastEval?: Record<string, number> } | null)?.lastEval;
  if (ea && eb) {
    console.log(`\n${"last evaluation".padEnd(24)} ${"a".padStart(12)} ${"b".padStart(12)}`);
    for (const k of Object.keys(eb)) console.log(`${k.padEnd(24)} ${fmt(ea[k], d).padStart(12)} ${fmt(eb[k], d).padStart(12)}`);
  }
}

function readRuns(dir: string): Map<string, { summary: Record<string, any>; losses: number[] }> {
  const runs = new Map<string, { summary: Record<string, any>; losses: number[] }>();
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const summary = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
    if (!summary.complete) continue;
    const stem = f.slice(0, -".json".length);
    const csv = fs.readFileSync(path.join(dir, `${stem}.trials.csv`), "utf8").trim().split("\n");
    const col = csv[0].split(",").indexOf("loss");
    runs.set(stem, { summary, losses: csv.slice(1).map((line) => Number(line.split(",")[col])) });
  }
  if (runs.size === 0) throw new UsageError(`${dir}: no finished adaptation runs (<condition>-seed<S>.json) in it`);
  return runs;
}

function compareRunFolders(da: string, db: string, d: number): void {
  const a = readRuns(da);
  const b = readRuns(db);
  const settings = (s: Record<string, any>) => s.settings ?? { config: s.config, pretrainedSha256: s.pretrained?.sha256 };
  console.log(`a: ${da}\nb: ${db}\n`);
  console.log(`${"run".padEnd(16)} ${"final a".padStart(10)} ${"final b".padStart(10)} ${"max |loss a-b|".padStart(15)}  settings (b -> a)`);
  for (const stem of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const ra = a.get(stem);
    const rb = b.get(stem);
    if (!ra || !rb) {
      console.log(`${stem.padEnd(16)} only in ${ra ? "a" : "b"}`);
      continue;
    }
    const n = Math.min(ra.losses.length, rb.losses.length);
    let maxAbs = 0;
    for (let i = 0; i < n; i++) maxAbs = Math.max(maxAbs, Math.abs(ra.losses[i] - rb.losses[i]));
    const diff = settingsDiff(settings(rb.summary), settings(ra.summary));
    console.log(
      `${stem.padEnd(16)} ${fmt(ra.summary.finalTestError, d).padStart(10)} ${fmt(rb.summary.finalTestError, d).padStart(10)} ${fmt(maxAbs, d).padStart(15)}  ${diff.length ? describeDiff(diff) : "identical"}`,
    );
  }
}

runCli(spec, ({ values, positionals }) => {
  const [pa, pb] = positionals.map(userPath);
  for (const p of [pa, pb]) if (!fs.existsSync(p)) throw new UsageError(`${p}: no such file or folder`);
  const dirs = [pa, pb].map((p) => fs.statSync(p).isDirectory());
  if (dirs[0] !== dirs[1]) throw new UsageError(`compare two checkpoints or two result folders, got a ${dirs[0] ? "folder" : "file"} and a ${dirs[1] ? "folder" : "file"}`);
  if (dirs[0]) compareRunFolders(pa, pb, values.digits);
  else compareCheckpoints(pa, pb, loadCheckpoint(pa), loadCheckpoint(pb), values.digits);
});
