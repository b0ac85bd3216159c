/**
 * Persistent-perturbation learning (SPEC §5.2, §6; figure F3): runs adaptation conditions x seeds from a
 * pre-trained network and writes result tables.
 *
 *   npm run adapt -- [--conditions rflo+c,rflo,bptt+c,bptt] [--seeds 1,2,3] [--trials 1000] [--rotation 30]
 *                    [--pretrained data/pretrained/pretrain-fb-seed1.safetensors] [--out data/results/persistent-rot30]
 *                    [--compare bptt] [--lr <number>] [--lr-transform none|reference] [--test-every 25] [--threads 1]
 *
 * A condition is a rule (rflo, bptt, fed) with "+c" when the control input stays on during learning.
 * Per run, <out>/<condition>-seed<S>.trials.csv (one row per trial), .tests.csv (test error with feedback OFF
 * on the 8 rotated targets, before trial 0 and every --test-every trials) and .json (config, learning rate,
 * pre-trained checkpoint, code version, timing, final error) and .wrec.safetensors (the adapted W_rec). Finished runs are skipped; an interrupted run
 * resumes from <...>.partial.safetensors (written every 100 trials). Ctrl-C saves before exiting.
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import * as aq from "arquero";
import { Adapter, adaptConfig } from "../lib/src/adapt";
import { TORCH_NAMES, codeVersion, loadNetwork, saveCheckpoint, writeFileAtomic } from "../lib/src/checkpoint";
import { engine, setThreads } from "../lib/src/kernels";
import { Progress } from "../lib/src/progress";
import { dataPath } from "../lib/src/paths";
import { RULE_NAMES, RuleName } from "../lib/src/rules";
import { oneOf } from "../lib/src/validate";

const { values: a } = parseArgs({
  options: {
    conditions: { type: "string", default: "rflo+c,rflo,bptt+c,bptt" },
    seeds: { type: "string", default: "1,2,3" },
    trials: { type: "string", default: "1000" },
    rotation: { type: "string", default: "30" },
    pretrained: { type: "string", default: dataPath("pretrained", "pretrain-fb-seed1.safetensors") },
    out: { type: "string" },
    compare: { type: "string" },
    lr: { type: "string" },
    "lr-transform": { type: "string", default: "none" },
    "test-every": { type: "string", default: "25" },
    threads: { type: "string", default: "1" },
  },
});

const num = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (v === undefined || v.trim() === "" || !Number.isFinite(n)) throw new Error(`--${name}: must be a number, got ${JSON.stringify(v)}`);
  return n;
};
const rotation = num("rotation", a.rotation);
const out = a.out ?? dataPath("results", `persistent-rot${rotation}`);
const seeds = a.seeds!.split(",").map((s) => num("seeds", s));
const conditions = a.conditions!.split(",").map((c) => {
  const control = c.endsWith("+c");
  return { label: c, rule: oneOf("--conditions", control ? c.slice(0, -2) : c, RULE_NAMES) as RuleName, control };
});
setThreads(num("threads", a.threads));
const pre = loadNetwork(a.pretrained!);
console.error(`pre-trained: ${a.pretrained} (code ${pre.meta.codeVersion}); engine ${engine().name}; results -> ${out}`);

let stopping = false;
process.on("SIGINT", () => (stopping = true));
process.on("SIGTERM", () => (stopping = true));
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function csv(rows: object[]): string {
  return aq.from(rows).toCSV();
}

async function runOne(label: string, rule: RuleName, control: boolean, seed: number): Promise<void> {
  const base = path.join(out, `${label}-seed${seed}`);
  const summaryFile = `${base}.json`;
  if (fs.existsSync(summaryFile) && JSON.parse(fs.readFileSync(summaryFile, "utf8")).complete) {
    console.error(`${label} seed ${seed}: done already (${summaryFile})`);
    return;
  }
  const config = adaptConfig({
    rule,
    control,
    seed,
    trials: num("trials", a.trials),
    rotationDeg: rotation,
    testEvery: num("test-every", a["test-every"]),
    lrTransform: oneOf("--lr-transform", a["lr-transform"]!, ["none", "reference"] as const),
    compare: a.compare ? oneOf("--compare", a.compare, RULE_NAMES) : null,
    ...(a.lr ? { lr: num("lr", a.lr) } : {}),
  });
  const partial = `${base}.partial.safetensors`;
  const adapter = fs.existsSync(partial) ? Adapter.resume(pre.network, config, partial) : new Adapter(pre.network, config);
  if (adapter.done > 0) console.error(`${label} seed ${seed}: resuming at trial ${adapter.done}`);
  const savePartial = () => adapter.save(partial);
  const bar = new Progress({ label: `${label} seed ${seed}`, total: config.trials, start: adapter.done, unit: "trial" });
  const t0 = performance.now();
  if (adapter.testLog.length === 0) adapter.test();
  while (adapter.done < config.trials) {
    await tick();
    if (stopping) {
      savePartial();
      bar.log(`interrupted at trial ${adapter.done}; saved ${partial}`);
      process.exit(130);
    }
    const rec = adapter.trial();
    if (adapter.done % config.testEvery === 0 || adapter.done === config.trials) adapter.test();
    const last = adapter.testLog[adapter.testLog.length - 1];
    bar.update(adapter.done, { loss: rec.loss, "test (fb off)": last.testError });
    if (adapter.done % 100 === 0 && adapter.done < config.trials) savePartial();
  }
  fs.mkdirSync(out, { recursive: true });
  writeFileAtomic(`${base}.trials.csv`, csv(adapter.trialLog));
  writeFileAtomic(`${base}.tests.csv`, csv(adapter.testLog));
  const final = adapter.testLog[adapter.testLog.length - 1];
  writeFileAtomic(
    summaryFile,
    JSON.stringify(
      {
        complete: true,
        condition: label,
        config,
        lrApplied: adapter.lr,
        pretrained: { file: path.relative(process.cwd(), a.pretrained!), codeVersion: pre.meta.codeVersion, seed: pre.meta.seed },
        codeVersion: codeVersion(),
        engine: engine().name,
        secondsThisSession: (performance.now() - t0) / 1000,
        initialTestError: adapter.testLog[0].testError,
        finalTestError: final.testError,
        finishedAt: new Date().toISOString(),
      },
      null,
      2,
    ) + "\n",
  );
  saveCheckpoint(`${base}.wrec.safetensors`, {
    kind: "adapted-wrec",
    config,
    tensors: { [TORCH_NAMES.wRec]: { shape: [adapter.net.config.N, adapter.net.config.N], data: adapter.net.params.wRec } },
    meta: { pretrained: path.relative(process.cwd(), a.pretrained!), codeVersion: codeVersion() },
  });
  fs.rmSync(partial, { force: true });
  console.error(`${label} seed ${seed}: test error ${adapter.testLog[0].testError.toPrecision(4)} -> ${final.testError.toPrecision(4)}`);
}

async function main(): Promise<void> {
  for (const c of conditions) for (const seed of seeds) await runOne(c.label, c.rule, c.control, seed);
}

main();
