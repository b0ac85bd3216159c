/**
 * Pre-trains a network (SPEC §4) and writes a resumable checkpoint.
 *
 *   npm run pretrain -- --seed 1 --feedback on [--batches 5000] [--out data/pretrained] [--batch-size 256]
 *                       [--N 400] [--eval-every 10] [--checkpoint-every 100] [--threads 2] [--fresh]
 *
 * The checkpoint <out>/pretrain-<fb|nofb>-seed<S>.safetensors holds the network, Adam's state, the random
 * streams, the training and test curves and the config; a run that finds it resumes where it stopped.
 * A summary <same name>.json sits beside it. Ctrl-C saves before exiting.
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { Pretrainer, pretrainConfig, EVAL_COLUMNS } from "../lib/src/train";
import { Progress } from "../lib/src/progress";
import { engine, setThreads } from "../lib/src/kernels";
import { codeVersion, writeFileAtomic } from "../lib/src/checkpoint";
import { oneOf } from "../lib/src/validate";
import { dataPath } from "../lib/src/paths";

const { values: a } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    feedback: { type: "string", default: "on" },
    batches: { type: "string", default: "5000" },
    out: { type: "string", default: dataPath("pretrained") },
    "batch-size": { type: "string", default: "256" },
    N: { type: "string", default: "400" },
    "eval-every": { type: "string", default: "10" },
    "checkpoint-every": { type: "string", default: "100" },
    threads: { type: "string", default: "2" },
    fresh: { type: "boolean", default: false },
  },
});

const int = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name}: must be an integer, got ${JSON.stringify(v)}`);
  return n;
};

const feedback = oneOf("--feedback", a.feedback!, ["on", "off"]);
const seed = int("seed", a.seed);
const batches = int("batches", a.batches);
const every = int("checkpoint-every", a["checkpoint-every"]);
const name = `pretrain-${feedback === "on" ? "fb" : "nofb"}-seed${seed}`;
const file = path.join(a.out!, `${name}.safetensors`);
const summaryFile = path.join(a.out!, `${name}.json`);

const threads = setThreads(int("threads", a.threads));
const eng = engine();
console.error(`engine: ${eng.name}${eng.reason ? ` (${eng.reason})` : ""}, ${threads} thread(s)`);

let trainer: Pretrainer;
if (fs.existsSync(file) && !a.fresh) {
  trainer = Pretrainer.resume(file, batches);
  console.error(`resuming ${file} at batch ${trainer.done}/${batches}`);
} else {
  const config = pretrainConfig({
    seed,
    batches,
    batchSize: int("batch-size", a["batch-size"]),
    evalEvery: int("eval-every", a["eval-every"]),
    network: { N: int("N", a.N), fbDensity: feedback === "on" ? 1 : 0 },
  });
  trainer = Pretrainer.create(config);
  console.error(`new run -> ${file}`);
}

function save(): void {
  trainer.save(file, { engine: engine().name });
  const ev = trainer.evalCurve[trainer.evalCurve.length - 1];
  const summary = {
    file: path.basename(file),
    seed: trainer.config.seed,
    feedback,
    batchesDone: trainer.done,
    batchesTotal: trainer.config.batches,
    codeVersion: codeVersion(),
    engine: engine().name,
    savedAt: new Date().toISOString(),
    lastEval: ev ? Object.fromEntries(EVAL_COLUMNS.map((k, i) => [k, ev[i]])) : null,
    meanSecondsPerBatch: trainer.trainCurve.length ? trainer.trainCurve.reduce((s, r) => s + r[6], 0) / trainer.trainCurve.length : null,
    config: trainer.config,
  };
  writeFileAtomic(summaryFile, JSON.stringify(summary, null, 2) + "\n");
}

let stopping = false;
process.on("SIGINT", () => {
  stopping = true;
});
process.on("SIGTERM", () => {
  stopping = true;
});

// Yield to the event loop once per batch, so that Ctrl-C / SIGTERM reach the handlers above.
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  const bar = new Progress({ label: name, total: trainer.config.batches, start: trainer.done, unit: "batch" });
  let lastEval = "";
  while (trainer.done < trainer.config.batches) {
    await tick();
    if (stopping) break;
    const r = trainer.step();
    if (r.eval) {
      const e = r.eval;
      lastEval = `co ${e.centreOut_fb.toPrecision(3)}/${e.centreOut_nofb.toPrecision(3)} rot ${e.rotated_fb.toPrecision(3)}/${e.rotated_nofb.toPrecision(3)} wfb ${e.wfbAlignment.toFixed(3)}`;
    }
    bar.update(r.batch, { loss: r.value.total, task: r.value.task, "test fb/nofb": lastEval });
    if (r.batch % every === 0) save();
  }
  if (stopping) bar.log(`interrupted at batch ${trainer.done}; saving`);
  if (trainer.done === trainer.config.batches && (trainer.evalCurve.at(-1)?.[0] ?? -1) !== trainer.done) trainer.evaluateNow();
  save();
  console.error(`saved ${file} (${trainer.done}/${trainer.config.batches} batches)`);
}

main();
