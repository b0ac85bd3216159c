/**
 * Persistent-perturbation learning (SPEC §5.2, §6; figure F3): adaptation conditions x seeds from a
 * pre-trained network, written as result tables. `npm run adapt -- --help` lists the options.
 *
 *   npm run adapt                                       # -> runs/adapt/persistent-rot30/
 *
 * A condition is a rule (rflo, bptt, fed) with "+c" when the control input stays on during learning.
 * Per run: <condition>-seed<S>.trials.csv (one row per trial), .tests.csv (test error with feedback OFF on the
 * 8 rotated targets, before trial 0 and every --test-every trials), optionally .steps.csv and .windows.csv
 * (--step-trials, --efficiency-windows), .json (settings, provenance, timing, final
 * error; written last, it marks the run complete) and .wrec.safetensors (the adapted W_rec). An interrupted
 * run resumes from <...>.partial.safetensors (saved every 100 trials and on Ctrl-C).
 *
 * A run's settings are its adaptation config plus the SHA-256 of the pre-trained checkpoint. A finished run
 * is reused, and a partial one resumed, only when they are identical; otherwise the command refuses before
 * computing anything and names the settings that differ.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fork } from "child_process";
import * as aq from "arquero";
import { Adapter, AdaptConfig, DivergenceError, adaptConfig } from "../lib/src/adapt";
import { pretrainedReach } from "../lib/src/train";
import { TORCH_NAMES, loadNetwork, saveCheckpoint, writeFileAtomic } from "../lib/src/checkpoint";
import { engine, setThreads } from "../lib/src/kernels";
import { Progress } from "../lib/src/progress";
import { dataPath, runsPath } from "../lib/src/paths";
import { sha256File } from "../lib/src/provenance";
import { ruleNames, ruleRegistry } from "../lib/src/rules";
import { perturbationRegistry } from "../lib/src/perturbation";
import { targetSetRegistry } from "../lib/src/targets";
import { feedbackRuleRegistry } from "../lib/src/feedbackRules";
import { measureRegistry } from "../lib/src/measures";
import { parseNamed } from "../lib/src/registry";
import { Option, interruptible, loadPluginsOrExit, opt, runCli } from "./args";
import { assertSameSettings, destination, freeName, userPath } from "./output";

// Plugins first: the rules, perturbations and target sets they register are choices below and in --help.
loadPluginsOrExit("npm run adapt", process.argv.slice(2));
const RULES = ruleNames();
const CONDITIONS = RULES.flatMap((r) => [`${r}+c`, r]);
const DEFAULT_PRETRAINED = dataPath("pretrained", "pretrain-fb-seed1.safetensors");
const rel = (p: string) => path.relative(process.cwd(), p) || ".";

const spec = {
  usage: "npm run adapt --",
  about: `Adapts a pre-trained network to a persistent visuomotor rotation with online learning rules (batch 1),
one run per condition and seed, and writes result tables. Identical settings reuse finished runs and
resume partial ones; other settings are refused. Shipped data is never written unless asked.

rules (a condition is a rule, with +c for the control input on while learning):
${ruleRegistry.describe()}
perturbations (--perturb name:key=value,...):
${perturbationRegistry.describe()}
target sets (--targets name:key=value,...):
${targetSetRegistry.describe()}
feedback rules (--feedback-rule name:key=value,...):
${feedbackRuleRegistry.describe()}
measures (--measure name:key=value,...; their columns join <run>.trials.csv and .tests.csv):
${measureRegistry.describe()}`,
  options: {
    plugin: opt.list("plugin files (.ts or .js) that register rules, perturbations, target sets, feedback rules or measures (recorded with their SHA-256)", opt.str("", "", "<file>"), []),
    conditions: opt.list(`conditions, each one of ${CONDITIONS.join(", ")}`, opt.choice("", CONDITIONS, ""), ["rflo+c", "rflo", "bptt+c", "bptt"]),
    seeds: opt.list("adaptation seeds (trial order, initial states)", opt.int("", 0, 0), [1, 2, 3]),
    trials: opt.int("adaptation trials per run", 1000, 1),
    rotation: opt.num("rotation of the targets (the paper's perturbation; a rotated cursor is --perturb cursor_rotation:deg=<d> with --rotation 0), degrees", 30, { min: -180, max: 180 }),
    pretrained: { ...opt.str("pre-trained checkpoint", DEFAULT_PRETRAINED, "<file>"), shown: rel(DEFAULT_PRETRAINED) },
    out: { ...opt.str("results folder", undefined, "<dir>"), shown: `${rel(runsPath("adapt"))}/persistent-rot<rotation> (curl<gain>-rot<rotation> with --curl)` },
    compare: opt.choice("a rule run passively beside the learning one, for alignment columns", RULES, undefined),
    projection: opt.choice("error projection of the built-in local rules (rflo, fed): the feedback weights W_fb (the paper's) or W_out^T (the reference's RFLO_t)", ["feedback", "transpose"] as const, "feedback"),
    "rule-options": opt.str("options of the conditions' rules, key=value,... (each rule must have them; see the rules above)", undefined, "<k=v,...>"),
    perturb: opt.str("a perturbation beyond the rotation and curl, name or name:key=value,... (listed above)", undefined, "<name:k=v,...>"),
    "feedback-rule": { ...opt.str("let W_fb learn during adaptation with this feedback rule, name or name:key=value,... (listed above; control and the local rules' signal use it)", undefined, "<name:k=v,...>"), shown: "none: W_fb fixed, the paper's" },
    targets: { ...opt.str("the target set of learning trials and tests, name or name:key=value,... (listed above)", undefined, "<name:k=v,...>"), shown: "the paper's 8 centre-out targets" },
    measure: { ...opt.str("a registered measure that watches every run, name or name:key=value,... (listed above)", undefined, "<name:k=v,...>"), shown: "none" },
    "trial-gradient": opt.flag("also compare each trial's summed update with the whole-trial BPTT gradient at its starting weights"),
    "efficiency-windows": opt.list("window lengths (trials) for |W_{t+w} - W_t| against the path length, to <run>.windows.csv", opt.int("", 0, 1), []),
    "test-gradient": opt.flag("at every test also take the test error's gradient, for first-order predicted decreases (tests.csv)"),
    "step-trials": opt.list("trials whose per-step alignment is written to <run>.steps.csv (needs --compare)", opt.int("", 0, 0), []),
    curl: opt.num("gain of a curl force field during learning and tests (push = gain x the previous hand velocity rotated by +90°; 0: none)", 0, { min: -100, max: 100 }),
    "fb-delay": { ...opt.int("feedback delay (steps) of the control input during learning, in place of the pre-trained network's own", undefined, 0, 1000), shown: "the network's own" },
    "control-gain": opt.num("scale of the fed-back error before W_fb during learning (the controller's strength; 1: the network's own; +c conditions only)", 1, { min: 0, max: 100 }),
    lr: opt.num("learning rate for every condition (default: the paper's per condition)", undefined, { above: 0 }),
    "lr-transform": opt.choice("apply the reference code's hidden LR rescalings (SPEC §6.4)", ["none", "reference"] as const, "none"),
    "test-every": opt.int("test every this many trials", 25, 1),
    threads: opt.int("OpenBLAS threads per run (not a setting of the result)", 1, 1, 256),
    workers: { ...opt.int("runs computed at once, each in its own process (default: one per core)", undefined, 1, 256), shown: `${os.availableParallelism()} here` },
    fresh: opt.flag("start a new results folder beside an existing one (<out>-run<k>); nothing is overwritten"),
    "replace-shipped": opt.flag("allow --out inside data/: finished runs replace the shipped ones"),
    "allow-dirty": opt.flag("allow writing shipped data from a tree with uncommitted changes (recorded)"),
  },
} satisfies { usage: string; about: string; options: Record<string, Option<unknown>> };

interface Settings {
  config: AdaptConfig;
  pretrainedSha256: string;
}

runCli(spec, async ({ values: a }) => {
  const ruleOptions = a["rule-options"] !== undefined ? parseNamed("--rule-options", `x:${a["rule-options"]}`).options ?? {} : {};
  const perturbations = a.perturb !== undefined ? [parseNamed("--perturb", a.perturb)] : [];
  const targets = a.targets !== undefined ? parseNamed("--targets", a.targets) : null;
  const feedbackRule = a["feedback-rule"] !== undefined ? parseNamed("--feedback-rule", a["feedback-rule"]) : null;
  const measures = a.measure !== undefined ? [parseNamed("--measure", a.measure)] : [];
  const suffix = `${perturbations.map((p) => `-${p.name}`).join("")}${targets ? `-targets-${targets.name}` : ""}${feedbackRule ? `-fb-${feedbackRule.name}` : ""}`;
  const command = (a.curl !== 0 ? `adapt/curl${a.curl}-rot${a.rotation}` : `adapt/persistent-rot${a.rotation}`) + suffix;
  const dest = destination({ command, out: a.out, replaceShipped: a["replace-shipped"], allowDirty: a["allow-dirty"] });
  const out = a.fresh && !dest.shipped ? path.join(path.dirname(dest.dir), freeName(path.basename(dest.dir), (n) => fs.existsSync(path.join(path.dirname(dest.dir), n)))) : dest.dir;
  const pretrained = userPath(a.pretrained);
  const pre = loadNetwork(pretrained); // a clear error naming the resolved path if it is missing
  const pretrainedSha256 = sha256File(pretrained);
  // A network pre-trained on the instructed-delay variant adapts on that variant (its 4 inputs, T 200).
  const reach = pretrainedReach(pre.meta);

  const runs = a.conditions.flatMap((label) =>
    a.seeds.map((seed) => {
      const control = label.endsWith("+c");
      const rule = control ? label.slice(0, -2) : label;
      const config = adaptConfig({
        rule,
        control,
        seed,
        trials: a.trials,
        rotationDeg: a.rotation,
        testEvery: a["test-every"],
        lrTransform: a["lr-transform"],
        projection: a.projection,
        compare: a.compare ?? null,
        trialGradient: a["trial-gradient"],
        stepTrials: a["step-trials"].filter((t) => t < a.trials),
        efficiencyWindows: a["efficiency-windows"],
        testGradient: a["test-gradient"],
        curlGain: a.curl,
        fbDelay: a["fb-delay"] ?? null,
        controlGain: a["control-gain"],
        ruleOptions,
        perturbations,
        targets,
        feedbackRule,
        measures,
        reach,
        ...(a.lr !== undefined ? { lr: a.lr } : {}),
      });
      const base = path.join(out, `${label}-seed${seed}`);
      return { label, seed, base, partial: `${base}.partial.safetensors`, summary: `${base}.json`, settings: { config, pretrainedSha256 } as Settings };
    }),
  );

  // Check every stored run against the request before computing anything.
  const how = `Use another --out, or --fresh for a new folder beside it (nothing is overwritten).`;
  const todo: typeof runs = [];
  for (const r of runs) {
    if (fs.existsSync(r.summary) && !dest.shipped) {
      const s = JSON.parse(fs.readFileSync(r.summary, "utf8"));
      const stored = s.settings ?? { config: s.config, pretrainedSha256: undefined };
      assertSameSettings(r.summary, { ...stored, config: adaptConfig(stored.config) }, r.settings, how);
      if (s.complete) {
        console.error(`${r.label} seed ${r.seed}: finished already with identical settings (${rel(r.summary)}); reused`);
        continue;
      }
    }
    if (fs.existsSync(r.partial)) {
      const meta = loadNetwork(r.partial).meta;
      assertSameSettings(r.partial, { config: Adapter.savedConfig(r.partial), pretrainedSha256: meta.pretrainedSha256 }, r.settings, how);
    }
    todo.push(r);
  }
  if (todo.length === 0) {
    console.error(`nothing to do: all ${runs.length} runs in ${rel(out)} are finished with these settings`);
    return;
  }
  if (dest.shipped) console.error(`replacing shipped results in ${rel(out)} as each run finishes`);

  const workers = Math.min(a.workers ?? os.availableParallelism(), todo.length);
  if (workers > 1) {
    // One child process per run, `workers` at a time, longest first (BPTT runs take ~30x an RFLO run).
    const cost = (r: (typeof todo)[number]) => (r.settings.config.rule === "bptt" ? 30 : 1) * r.settings.config.trials;
    const passOn = (name: "plugin" | "rule-options" | "perturb" | "targets" | "feedback-rule" | "measure") => {
      const v = a[name];
      return v === undefined || (Array.isArray(v) && v.length === 0) ? [] : [`--${name}`, Array.isArray(v) ? v.join(",") : String(v)];
    };
    const queue = [...todo].sort((x, y) => cost(y) - cost(x));
    const childArgs = (r: (typeof todo)[number]) => [
      "--conditions", r.label, "--seeds", String(r.seed), "--trials", String(a.trials), "--rotation", String(a.rotation),
      "--pretrained", pretrained, "--out", out, "--lr-transform", a["lr-transform"], "--projection", a.projection, "--test-every", String(a["test-every"]),
      "--threads", String(a.threads), "--workers", "1", "--curl", String(a.curl),
      ...(a["fb-delay"] !== undefined ? ["--fb-delay", String(a["fb-delay"])] : []), "--control-gain", String(a["control-gain"]),
      ...(a.compare ? ["--compare", a.compare] : []), ...(a.lr !== undefined ? ["--lr", String(a.lr)] : []),
      ...(a["trial-gradient"] ? ["--trial-gradient"] : []), ...(a["step-trials"].length ? ["--step-trials", a["step-trials"].join(",")] : []),
      ...(a["test-gradient"] ? ["--test-gradient"] : []), ...(a["efficiency-windows"].length ? ["--efficiency-windows", a["efficiency-windows"].join(",")] : []),
      ...(a["replace-shipped"] ? ["--replace-shipped"] : []), ...(a["allow-dirty"] ? ["--allow-dirty"] : []),
      ...passOn("plugin"), ...passOn("rule-options"), ...passOn("perturb"), ...passOn("targets"), ...passOn("feedback-rule"), ...passOn("measure"),
    ];
    console.error(`${todo.length} runs, ${workers} at a time (one process each); results -> ${rel(out)}`);
    let failed = 0;
    let interrupted = false;
    const children = new Set<ReturnType<typeof fork>>();
    const forward = (sig: NodeJS.Signals) => () => {
      interrupted = true;
      for (const c of children) c.kill(sig);
    };
    process.on("SIGINT", forward("SIGINT"));
    process.on("SIGTERM", forward("SIGTERM"));
    const slot = async (): Promise<void> => {
      for (let r = queue.shift(); r && !interrupted; r = queue.shift()) {
        const child = fork(__filename, childArgs(r), { execArgv: process.execArgv, env: { ...process.env, FBC_PROGRESS_EVERY: "10" } });
        children.add(child);
        const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
        children.delete(child);
        if (code === 130) interrupted = true;
        else if (code !== 0) failed += 1;
      }
    };
    await Promise.all(Array.from({ length: workers }, slot));
    if (interrupted) process.exit(130);
    if (failed) throw new Error(`${failed} of ${todo.length} runs failed (their messages are above); rerun the same command to redo them`);
    console.error(`all ${runs.length} runs finished in ${rel(out)}`);
    return;
  }

  const threads = setThreads(a.threads);
  console.error(`pre-trained: ${rel(pretrained)} (sha256 ${pretrainedSha256.slice(0, 12)}, code ${pre.meta.codeVersion}); engine ${engine()}; results -> ${rel(out)}`);

  const signals = interruptible();

  for (const r of todo) {
    const { config } = r.settings;
    const provenance = { ...dest.provenance, pretrainedSha256, pretrained: rel(pretrained) };
    const adapter = fs.existsSync(r.partial) ? Adapter.resume(pre.network, config, r.partial) : new Adapter(pre.network, config);
    if (adapter.done > 0) console.error(`${r.label} seed ${r.seed}: resuming at trial ${adapter.done}`);
    const savePartial = () => adapter.save(r.partial, provenance);
    const bar = new Progress({ label: `${r.label} seed ${r.seed}`, total: config.trials, start: adapter.done, unit: "trial" });
    const t0 = performance.now();
    if (adapter.testLog.length === 0) adapter.test();
    let diverged: DivergenceError | undefined;
    while (adapter.done < config.trials) {
      if (await signals.interrupted()) {
        savePartial();
        bar.log(`interrupted at trial ${adapter.done}; saved ${rel(r.partial)} (rerun the same command to resume)`);
        process.exit(130);
      }
      let rec;
      try {
        rec = adapter.trial();
      } catch (e) {
        // A result, not a failure: the run is recorded as diverged, with its logs up to there.
        if (!(e instanceof DivergenceError)) throw e;
        diverged = e;
        bar.log(`${r.label} seed ${r.seed}: ${e.message}`);
        break;
      }
      if (adapter.done % config.testEvery === 0 || adapter.done === config.trials) adapter.test();
      const last = adapter.testLog[adapter.testLog.length - 1];
      bar.update(adapter.done, { loss: rec.loss, "test (fb off)": last.testError });
      if (adapter.done % 100 === 0 && adapter.done < config.trials) savePartial();
    }
    if (!diverged) savePartial(); // the finished state, so that a crash below can redo the writes without recomputing
    writeFileAtomic(`${r.base}.trials.csv`, aq.from(adapter.trialLog).toCSV());
    writeFileAtomic(`${r.base}.tests.csv`, aq.from(adapter.testLog).toCSV());
    if (adapter.stepLog.length) writeFileAtomic(`${r.base}.steps.csv`, aq.from(adapter.stepLog).toCSV());
    if (adapter.windowLog.length) writeFileAtomic(`${r.base}.windows.csv`, aq.from(adapter.windowLog).toCSV());
    if (!diverged) saveCheckpoint(`${r.base}.wrec.safetensors`, {
      kind: "adapted-wrec",
      config,
      tensors: {
        [TORCH_NAMES.wRec]: { shape: [adapter.net.config.N, adapter.net.config.N], data: adapter.net.params.wRec },
        // A learned W_fb is part of the adapted network.
        ...(adapter.feedbackRule ? { [TORCH_NAMES.wFb]: { shape: [adapter.net.config.N, adapter.net.config.nOut], data: adapter.net.params.wFb } } : {}),
      },
      meta: provenance,
    });
    const final = adapter.testLog[adapter.testLog.length - 1];
    const summary = {
      complete: true,
      condition: r.label,
      settings: r.settings,
      config,
      lrApplied: adapter.lr,
      pretrained: { file: rel(pretrained), sha256: pretrainedSha256, codeVersion: pre.meta.codeVersion, seed: pre.meta.seed },
      ...dest.provenance,
      engine: engine().name,
      threads,
      secondsThisSession: (performance.now() - t0) / 1000,
      initialTestError: adapter.testLog[0].testError,
      finalTestError: diverged ? null : final.testError,
      diverged: diverged ? { trial: diverged.trial, because: diverged.because } : null,
      finishedAt: new Date().toISOString(),
    };
    writeFileAtomic(r.summary, JSON.stringify(summary, null, 2) + "\n"); // written last: marks the run complete
    fs.rmSync(r.partial, { force: true });
    if (diverged) console.error(`${r.label} seed ${r.seed}: diverged at trial ${diverged.trial} (${diverged.because}); recorded as diverged, without adapted weights`);
    else console.error(`${r.label} seed ${r.seed}: test error ${adapter.testLog[0].testError.toPrecision(4)} -> ${final.testError.toPrecision(4)}`);
  }
});
