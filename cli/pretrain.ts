/**
 * Pre-trains a network (SPEC §4) into a resumable checkpoint. `npm run pretrain -- --help` lists the options.
 *
 *   npm run pretrain -- --seed 1 --feedback on          # -> runs/pretrain/pretrain-fb-seed1.safetensors (+ .json)
 *
 * While it runs, the state (network, Adam, random streams, curves, config, provenance) is saved atomically
 * every --checkpoint-every batches to <name>.partial.safetensors; when it finishes that file becomes
 * <name>.safetensors, with a summary <name>.json beside it. A rerun with identical settings resumes the
 * partial file, or reports that the finished one already exists; with any other setting it refuses and
 * names the settings that differ. Ctrl-C saves first. Shipped networks in data/ are replaced only with
 * --out data/pretrained --replace-shipped, from a clean tree.
 */
import { parseNamed } from "../lib/src/registry";
import * as fs from "fs";
import * as path from "path";
import { BatchResult, Pretrainer, PretrainConfig, pretrainConfig, EVAL_COLUMNS } from "../lib/src/train";
import { Progress } from "../lib/src/progress";
import { engine, setThreads } from "../lib/src/kernels";
import { loadCheckpoint, writeFileAtomic } from "../lib/src/checkpoint";
import { runsPath } from "../lib/src/paths";
import { interruptible, opt, runCli, Refusal } from "./args";
import { TfPretrainer } from "../lib/src/tftrain";
import { initTf, describeTf } from "../lib/src/backend";
import { REACH_VARIANT_NAMES, reachVariant } from "../lib/src/task";
import { assertSameSettings, destination, freeName, hasFilesStartingWith } from "./output";

const spec = {
  usage: "npm run pretrain --",
  about: `Pre-trains the feedback-controlled RNN on random reaches (SPEC §4: Adam, clipping, 5000 batches of 256).
Writes <out>/<name>.safetensors and <name>.json when done, <name>.partial.safetensors while running.
Identical settings resume; other settings are refused. Shipped data is never written unless asked.`,
  options: {
    seed: opt.int("seed of the weights, the training reaches and the initial states", 1, 0),
    feedback: opt.choice("train with the feedback controller (fbDensity 1) or without (0)", ["on", "off"] as const, "on"),
    batches: opt.int("number of training batches", 5000, 1),
    "batch-size": opt.int("reaches per batch", 256, 1),
    N: opt.int("number of recurrent units", 400, 1),
    variant: opt.choice("task variant: standard (the paper's) or instructed_delay (a 300-700 ms preparatory period, a go-cue input, T 200)", REACH_VARIANT_NAMES, "standard"),
    "fb-delay": opt.int("feedback delay in steps of dt (10 ms): the control input uses the error this many steps back", 0, 0, 1000),
    "fb-velocity": opt.num("velocity gain kappa in seconds: the fed-back error is e + kappa (v* - v), position and velocity error (0: the paper's position error)", 0, { min: 0 }),
    plant: { ...opt.str("the effector the network drives, name or name:key=value,... (massless, point_mass, two_joint_arm, muscle:plant=<one of them>; plant/); sets e0 zero", undefined, "<name:k=v,...>"), shown: "none: the paper's massless hand" },
    "eval-every": opt.int("evaluate the test sets every this many batches", 10, 1),
    "checkpoint-every": opt.int("save the state every this many batches", 100, 1),
    threads: opt.int("OpenBLAS threads (not a setting of the result)", 2, 1, 256),
    engine: opt.choice("native: OpenBLAS addon (or TypeScript); tfjs: the whole batch on TensorFlow.js's best backend (a CUDA GPU via tfjs-node-gpu)", ["native", "tfjs"] as const, "native"),
    out: { ...opt.str("folder of the checkpoint", undefined, "<dir>"), shown: path.relative(process.cwd(), runsPath("pretrain")) || "." },
    name: opt.str("file name stem (default: pretrain-<fb|nofb>[-delay<d>][-vel<kappa>][-instructed][-<plant>]-seed<seed>)", undefined, "<stem>"),
    fresh: opt.flag("start a new run even if one exists: it goes to the first free <name>-run<k>; nothing is overwritten"),
    "replace-shipped": opt.flag("allow --out inside data/: the finished run replaces the shipped checkpoint"),
    "allow-dirty": opt.flag("allow writing shipped data from a tree with uncommitted changes (recorded)"),
  },
};

runCli(spec, async ({ values: a }) => {
  const plant = a.plant !== undefined ? parseNamed("--plant", a.plant) : null;
  const dest = destination({ command: "pretrain", out: a.out, replaceShipped: a["replace-shipped"], allowDirty: a["allow-dirty"] });
  const requested: PretrainConfig = pretrainConfig({
    seed: a.seed,
    batches: a.batches,
    batchSize: a["batch-size"],
    evalEvery: a["eval-every"],
    network: { N: a.N, fbDensity: a.feedback === "on" ? 1 : 0, fbDelay: a["fb-delay"], ...(a["fb-velocity"] ? { fbVelocityGain: a["fb-velocity"] } : {}), ...(plant ? { plant, e0: "zero" as const } : {}) },
    reach: reachVariant(a.variant),
  });
  const variantTag = a.variant === "instructed_delay" ? "-instructed" : "";
  // A plant that drives another (muscle:plant=two_joint_arm) names both: -muscle-twojointarm.
  const inner = plant && typeof plant.options?.plant === "string" ? plant.options.plant : null;
  const plantTag = plant ? `-${plant.name.replace(/_/g, "")}${inner ? `-${inner.replace(/_/g, "")}` : ""}` : "";
  const base = a.name ?? `pretrain-${a.feedback === "on" ? "fb" : "nofb"}${a["fb-delay"] ? `-delay${a["fb-delay"]}` : ""}${a["fb-velocity"] ? `-vel${a["fb-velocity"]}` : ""}${variantTag}${plantTag}-seed${a.seed}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(base)) throw new Refusal(`--name: must be a plain file name stem (letters, digits, . _ + -), got ${JSON.stringify(base)}`);
  // --fresh never touches an existing run: it takes the first free name. Replacing shipped data always starts fresh.
  const name = a.fresh && !dest.shipped ? freeName(base, (n) => hasFilesStartingWith(dest.dir, n)) : base;
  const final = path.join(dest.dir, `${name}.safetensors`);
  const partial = path.join(dest.dir, `${name}.partial.safetensors`);
  const summaryFile = path.join(dest.dir, `${name}.json`);
  const how = `Choose another --name or --out, add --fresh to start a new run beside it, or remove the file yourself to start over.`;

  const stored = (file: string) => {
    const ck = loadCheckpoint(file);
    const saved = (ck.meta ?? {}).pretrain as Partial<PretrainConfig> | undefined;
    if (!saved) throw new Refusal(`${file} is not a pre-training checkpoint (no meta.pretrain); it is left as it is. ${how}`);
    return { config: pretrainConfig(saved), done: Number((ck.metrics as { batchesDone?: number })?.batchesDone ?? ck.meta?.adamStep), sessions: (ck.meta?.sessions ?? []) as unknown[] };
  };

  let source: string | null = null;
  if (fs.existsSync(partial)) source = partial;
  else if (fs.existsSync(final) && !dest.shipped) source = final;
  let sessions: unknown[] = [];
  if (source) {
    const s = stored(source);
    assertSameSettings(source, s.config, requested, how);
    if (source === final && s.done >= requested.batches) {
      console.error(`nothing to do: ${final} is complete with these settings (${s.done} batches). ${how.replace("Choose", "To recompute, choose")}`);
      return;
    }
    sessions = s.sessions;
  }

  const threads = setThreads(a.threads);
  const trainer = source ? Pretrainer.resume(source) : Pretrainer.create(requested);
  // With --engine tfjs the batches run on TensorFlow.js; the native trainer keeps the curves, evaluates
  // and saves, after the weights and Adam's state are copied back (syncTo) at those points only.
  let tfEngine: TfPretrainer | null = null;
  if (a.engine === "tfjs") {
    const session = await initTf();
    console.error(`engine: tfjs, ${describeTf(session)}`);
    tfEngine = TfPretrainer.fromPretrainer(session.tf, trainer);
  } else console.error(`engine: ${engine()}`);
  const engineName = tfEngine ? `tfjs` : engine().name;
  console.error(
    source
      ? `resuming ${source} at batch ${trainer.done}/${requested.batches}`
      : `new run -> ${final}${dest.shipped ? ` (replaces the shipped file when it finishes)` : ""}`,
  );
  const session = {
    ...dest.provenance,
    engine: engineName,
    threads,
    startBatch: trainer.done,
    startedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
  };

  const save = (file: string) => {
    tfEngine?.syncTo(trainer);
    trainer.save(file, { engine: engineName, codeVersion: dest.provenance.codeVersion, commit: dest.provenance.commit, clean: dest.provenance.clean, sessions: [...sessions, { ...session, endBatch: trainer.done }] });
  };

  const signals = interruptible();

  /** One batch on TensorFlow.js, with the curve row and the evaluation schedule of Pretrainer.step. */
  function tfStep(e: TfPretrainer): BatchResult {
    const r = e.step(trainer.trials, trainer.init);
    trainer.trainCurve.push([r.batch, r.value.total, r.value.task, r.value.rate, r.value.param, r.gradNorm, r.seconds]);
    if (r.batch % requested.evalEvery !== 0 && r.batch !== requested.batches) return r;
    e.syncTo(trainer);
    return { ...r, eval: trainer.evaluateNow() };
  }

  // Batches done; on tfjs the native trainer catches up only when synced, so count the engine's steps.
  const done = () => (tfEngine ? tfEngine.done : trainer.done);
  const bar = new Progress({ label: name, total: requested.batches, start: trainer.done, unit: "batch" });
  let lastEval = "";
  while (done() < requested.batches) {
    if (await signals.interrupted()) {
      save(partial);
      bar.log(`interrupted at batch ${trainer.done}; saved ${partial} (rerun the same command to resume)`);
      process.exit(130);
    }
    const r = tfEngine ? tfStep(tfEngine) : trainer.step();
    if (r.eval) {
      const e = r.eval;
      lastEval = `co ${e.centreOut_fb.toPrecision(3)}/${e.centreOut_nofb.toPrecision(3)} rot ${e.rotated_fb.toPrecision(3)}/${e.rotated_nofb.toPrecision(3)} wfb ${e.wfbAlignment.toFixed(3)}`;
    }
    bar.update(done(), { loss: r.value.total, task: r.value.task, "test fb/nofb": lastEval });
    if (done() % a["checkpoint-every"] === 0 && done() < requested.batches) save(partial);
  }
  tfEngine?.syncTo(trainer);
  if ((trainer.evalCurve.at(-1)?.[0] ?? -1) !== trainer.done) trainer.evaluateNow();
  save(partial);
  const ev = trainer.evalCurve[trainer.evalCurve.length - 1];
  const summary = {
    file: path.basename(final),
    seed: requested.seed,
    feedback: a.feedback,
    batchesDone: trainer.done,
    batchesTotal: requested.batches,
    codeVersion: dest.provenance.codeVersion,
    commit: dest.provenance.commit,
    clean: dest.provenance.clean,
    allowDirty: dest.provenance.allowDirty,
    engine: engineName,
    savedAt: new Date().toISOString(),
    lastEval: ev ? Object.fromEntries(EVAL_COLUMNS.map((k, i) => [k, ev[i]])) : null,
    meanSecondsPerBatch: trainer.trainCurve.length ? trainer.trainCurve.reduce((s, r) => s + r[6], 0) / trainer.trainCurve.length : null,
    config: trainer.config,
  };
  // The summary first, then the rename that marks the run finished: if the summary cannot be written, the
  // partial file stays and the same command finishes both (a finished checkpoint is never redone).
  writeFileAtomic(summaryFile, JSON.stringify(summary, null, 2) + "\n");
  fs.renameSync(partial, final);
  console.error(`saved ${final} (${trainer.done}/${requested.batches} batches) and ${summaryFile}`);
});
