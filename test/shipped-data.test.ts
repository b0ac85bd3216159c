/**
 * Checks the shipped data (data/): the pre-trained networks follow the full protocol and show what the
 * paper's first figure rests on, and the cached adaptation runs are complete. Recomputes the test
 * errors from the weights rather than trusting the numbers stored beside them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import { loadNetwork } from "../lib/src/checkpoint";
import { sha256File } from "../lib/src/provenance";
import { dataPath, projectPath } from "../lib/src/paths";
import { cellConfig, checkGrid, gridCells } from "../lib/src/sweep";
import { Pretrainer, curves, evaluate, testSets, pretrainConfig } from "../lib/src/train";
import { Adapter, adaptConfig } from "../lib/src/adapt";
import { RuleName } from "../lib/src/rules";
import { loadAdaptationRuns } from "../lib/src/results";
import { loadPlugin } from "../lib/src/plugin";

const PRETRAINED = [["fb", 1], ["nofb", 1], ["fb", 2], ["fb", 3], ["nofb", 2], ["nofb", 3]] as const;

// The engine today reproduces the shipped runs' first steps within float32 rounding (different kernels,
// different summation orders, the same equations): measured 1e-6 to 3e-6 relative when this was written.
const SAME_RUN = 2e-5;

for (const [fb, seed] of PRETRAINED) {
  test(`data/pretrained/pretrain-${fb}-seed${seed}: full protocol, complete, test errors as recorded`, () => {
    const ck = loadNetwork(dataPath("pretrained", `pretrain-${fb}-seed${seed}.safetensors`));
    const c = ck.meta.pretrain as ReturnType<typeof pretrainConfig>;
    assert.equal(c.seed, seed);
    assert.equal(c.batches, 5000);
    assert.equal(c.batchSize, 256);
    assert.equal(c.network.N, 400);
    assert.equal(c.network.fbDensity, fb === "fb" ? 1 : 0);
    assert.equal(c.clipNorm, 0.2);
    assert.equal(c.adam.lr, 1e-3);
    assert.equal((ck.metrics as { batchesDone: number }).batchesDone, 5000);
    const ev = evaluate(ck.network, testSets(c), c.seed);
    const recorded = (ck.metrics as { lastEval: Record<string, number> }).lastEval;
    for (const key of ["centreOut_fb", "centreOut_nofb", "rotated_fb", "rotated_nofb", "random_fb"] as const) {
      assert.ok(Math.abs(ev[key] - recorded[key]) <= 1e-6 * Math.max(1, recorded[key]), `${key}: ${ev[key]} vs recorded ${recorded[key]}`);
    }
    if (fb === "fb") {
      assert.ok(ev.centreOut_fb < 0.5 * ev.centreOut_nofb, `centre-out: fb on ${ev.centreOut_fb} vs off ${ev.centreOut_nofb}`);
      assert.ok(ev.rotated_fb < 0.2 * ev.rotated_nofb, `rotated 30°: fb on ${ev.rotated_fb} vs off ${ev.rotated_nofb}`);
    } else {
      assert.equal(ev.centreOut_fb, ev.centreOut_nofb, "no feedback weights: switching feedback changes nothing");
    }
  });
}

// Networks pre-trained on the extensions' variants (notebooks 10 and 11): the paper's protocol with one
// named change each. Their recorded test errors are recomputed from the weights, and the current engine
// reproduces their first 3 batches.
const VARIANT_NETWORKS: [string, { fbDelay: number; variant?: string; plant?: string; fbDensity?: number; fbVelocityGain?: number; learned?: number; inner?: string }][] = [
  ["pretrain-fb-instructed-seed1", { fbDelay: 0, variant: "instructed_delay" }],
  ...[2, 5, 10, 20].map((d): [string, { fbDelay: number }] => [`pretrain-fb-delay${d}-seed1`, { fbDelay: d }]),
  // The second and third networks behind a variant (issue 25), as they are shipped.
  ...[5, 10, 20].flatMap((d) => [2, 3].map((s): [string, { fbDelay: number }] => [`pretrain-fb-delay${d}-seed${s}`, { fbDelay: d }])),
  ...[2, 3].map((s): [string, { fbDelay: number; variant?: string }] => [`pretrain-fb-instructed-seed${s}`, { fbDelay: 0, variant: "instructed_delay" }]),
  // Networks pre-trained through a plant (issue 24), as they are shipped.
  ...[1, 2, 3].map((s): [string, { fbDelay: number; plant: string }] => [`pretrain-fb-pointmass-seed${s}`, { fbDelay: 0, plant: "point_mass" }]),
  ...[1, 2, 3].map((s): [string, { fbDelay: number; plant: string }] => [`pretrain-fb-twojointarm-seed${s}`, { fbDelay: 0, plant: "two_joint_arm" }]),
  // One network per plant pre-trained without feedback, and one with velocity feedback (the fed-back error e + 0.05 s (v* - v)).
  ["pretrain-nofb-pointmass-seed1", { fbDelay: 0, plant: "point_mass", fbDensity: 0 }],
  // Without feedback the arm's network ends at 0.0201 centre-out, as the arm's feedback networks do with their
  // feedback off (0.017, 0.060, 0.022): nothing corrects the open-loop arm, so its bar is 0.025, not 0.02.
  ["pretrain-nofb-twojointarm-seed1", { fbDelay: 0, plant: "two_joint_arm", fbDensity: 0, learned: 0.025 }],
  ["pretrain-fb-vel0.05-pointmass-seed1", { fbDelay: 0, plant: "point_mass", fbVelocityGain: 0.05 }],
  // The arm with muscles in front (plant/muscle.ts, its defaults).
  ["pretrain-fb-muscle-twojointarm-seed1", { fbDelay: 0, plant: "muscle", inner: "two_joint_arm" }],
];
const SHIPPED_VARIANT_NETWORKS = VARIANT_NETWORKS.filter(([name]) => fs.existsSync(dataPath("pretrained", `${name}.safetensors`)));
for (const [name, want] of SHIPPED_VARIANT_NETWORKS) {
  test(`data/pretrained/${name}: full protocol with ${want.plant ? `the ${want.plant} plant` : want.variant ? `the ${want.variant} task` : `a feedback delay of ${want.fbDelay} steps`}, complete, test errors as recorded, first 3 batches reproduced`, () => {
    const file = dataPath("pretrained", `${name}.safetensors`);
    const ck = loadNetwork(file);
    const c = pretrainConfig(ck.meta.pretrain as Partial<ReturnType<typeof pretrainConfig>>);
    assert.equal(c.seed, Number(/-seed(\d+)$/.exec(name)![1]), "the seed its name says");
    assert.equal(c.batches, 5000);
    assert.equal(c.batchSize, 256);
    assert.equal(c.network.N, 400);
    assert.equal(c.network.fbDensity, want.fbDensity ?? 1);
    assert.equal(c.network.fbDelay, want.fbDelay);
    assert.equal(ck.network.config.fbVelocityGain ?? 0, want.fbVelocityGain ?? 0, "the velocity gain kappa it was pre-trained with");
    assert.equal(ck.network.config.fbDelay, want.fbDelay);
    assert.equal(c.reach.preparation !== undefined, want.variant === "instructed_delay");
    assert.equal(c.network.nIn, want.variant === "instructed_delay" ? 4 : 3);
    assert.equal(ck.network.config.plant?.name, want.plant, "the plant it was pre-trained through");
    if (want.inner) assert.equal(ck.network.config.plant?.options?.plant, want.inner, "the plant its muscles drive");
    assert.equal((ck.metrics as { batchesDone: number }).batchesDone, 5000);
    const ev = evaluate(ck.network, testSets(c), c.seed);
    const recorded = (ck.metrics as { lastEval: Record<string, number> }).lastEval;
    for (const key of ["centreOut_fb", "centreOut_nofb", "rotated_fb", "rotated_nofb", "random_fb"] as const) {
      assert.ok(Math.abs(ev[key] - recorded[key]) <= 1e-6 * Math.max(1, recorded[key]), `${key}: ${ev[key]} vs recorded ${recorded[key]}`);
    }
    assert.ok(ev.centreOut_fb < (want.learned ?? 0.02), `the task is learned: centre-out error with feedback ${ev.centreOut_fb}`);
    const trainer = Pretrainer.create({ ...c, evalEvery: 1_000_000 });
    const shipped = curves(file).train.loss;
    for (let i = 0; i < 3; i++) {
      const got = trainer.step().value.total;
      assert.ok(Math.abs(got - shipped[i]) / shipped[i] < SAME_RUN, `${name} batch ${i}: loss ${got} vs shipped ${shipped[i]}`);
    }
  });
}

for (const [name, network] of [["persistent-rot30", "pretrain-fb-seed1"], ["persistent-rot30-net2", "pretrain-fb-seed2"], ["persistent-rot30-net3", "pretrain-fb-seed3"]] as const) test(`data/results/${name}: 4 conditions x 3 seeds, 1000 trials each, with adapted weights, from ${network}`, () => {
  const dir = dataPath("results", name);
  const runs = loadAdaptationRuns(dir);
  const sha = sha256File(dataPath("pretrained", `${network}.safetensors`));
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".json"))) {
    assert.equal(JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8")).settings.pretrainedSha256, sha, `${f} starts from ${network}`);
  }
  for (const condition of ["rflo+c", "rflo", "bptt+c", "bptt"]) {
    const mine = runs.filter((r) => r.condition === condition);
    assert.ok(mine.length >= 3, `${condition}: ${mine.length} seeds`);
    for (const r of mine) {
      assert.equal(r.trials.length, 1000);
      assert.equal(r.tests[r.tests.length - 1].trial, 1000);
      assert.ok(fs.existsSync(`${dir}/${condition}-seed${r.seed}.wrec.safetensors`));
    }
  }
});

test("data/results/alignment-rot30: RFLO and FED with and without control, passive BPTT, 3 seeds; learning identical to the plain runs", () => {
  const dir = dataPath("results", "alignment-rot30");
  const runs = loadAdaptationRuns(dir);
  const plain = loadAdaptationRuns(dataPath("results", "persistent-rot30"));
  for (const condition of ["rflo+c", "rflo", "fed+c", "fed"]) {
    const mine = runs.filter((r) => r.condition === condition);
    assert.ok(mine.length >= 3, `${condition}: ${mine.length} seeds`);
    for (const r of mine) {
      const summary = JSON.parse(fs.readFileSync(`${dir}/${condition}-seed${r.seed}.json`, "utf8"));
      assert.equal(summary.config.compare, "bptt");
      assert.equal(summary.config.trialGradient, true);
      assert.equal(r.trials.length, 1000);
      for (const t of r.trials) {
        for (const col of ["localAlignment", "globalAlignment", "globalAlignmentTrial"] as const) {
          assert.ok(t[col] >= -1 && t[col] <= 1, `${condition} seed ${r.seed} trial ${t.trial}: ${col} ${t[col]}`);
        }
      }
      assert.deepEqual([...new Set(r.steps!.map((s) => s.trial))], [0, 100, 999]);
      assert.equal(r.steps!.length, 3 * 125);
      // The passive measurements change nothing: the same trials as the shipped run without them, bit for bit.
      const p = plain.find((q) => q.condition === condition && q.seed === r.seed);
      if (p) {
        assert.deepEqual(r.trials.map((t) => t.loss), p.trials.map((t) => t.loss), `${condition} seed ${r.seed}: trial losses`);
        assert.deepEqual(r.tests, p.tests, `${condition} seed ${r.seed}: test errors`);
      }
    }
  }
});

test("the current engine reproduces the first 10 batches of every shipped pre-training run", () => {
  for (const name of PRETRAINED.map(([fb, seed]) => `pretrain-${fb}-seed${seed}`)) {
    const file = dataPath("pretrained", `${name}.safetensors`);
    const config = pretrainConfig(loadNetwork(file).meta.pretrain as Partial<ReturnType<typeof pretrainConfig>>);
    const trainer = Pretrainer.create({ ...config, evalEvery: 1_000_000 });
    const shipped = curves(file).train.loss;
    let worst = 0;
    for (let i = 0; i < 10; i++) worst = Math.max(worst, Math.abs(trainer.step().value.total - shipped[i]) / shipped[i]);
    console.log(`${name}: first 10 batch losses, largest relative difference to the shipped run ${worst.toExponential(2)}`);
    assert.ok(worst < SAME_RUN, `${name}: batch losses differ by up to ${worst.toExponential(2)} (relative)`);
  }
});

test("the current engine reproduces the first 10 trials of every shipped adaptation run", () => {
  const pre = loadNetwork(dataPath("pretrained", "pretrain-fb-seed1.safetensors")).network;
  for (const run of loadAdaptationRuns(dataPath("results", "persistent-rot30"))) {
    const control = run.condition.endsWith("+c");
    const a = new Adapter(pre, adaptConfig({ rule: run.condition.replace("+c", "") as RuleName, control, seed: run.seed }));
    let worst = 0;
    for (let i = 0; i < 10; i++) worst = Math.max(worst, Math.abs(a.trial().loss - run.trials[i].loss) / run.trials[i].loss);
    console.log(`persistent-rot30 ${run.condition} seed ${run.seed}: first 10 trial losses, largest relative difference to the shipped run ${worst.toExponential(2)}`);
    assert.ok(worst < SAME_RUN, `${run.condition} seed ${run.seed}: trial losses differ by up to ${worst.toExponential(2)} (relative)`);
  }
});

/**
 * A results folder of `npm run adapt`: the conditions x seeds 1-3, each from `network`, 1000 trials (or
 * recorded as diverged: logs up to there, no weights, no final error); the current engine reproduces the
 * first 10 trials of every seed-1 run, from the stored config alone.
 */
function checkAdaptFolder(
  name: string, network: string, conditions: string[],
  want: { rotationDeg: number; curlGain: number; variant?: string; fbDelay?: number; perturbations?: { name: string; options: Record<string, unknown> }[]; feedbackRule?: string | null; controlGain?: number },
) {
  const dir = dataPath("results", name);
  const file = dataPath("pretrained", `${network}.safetensors`);
  const sha = sha256File(file);
  const pre = loadNetwork(file);
  assert.equal(pre.network.config.fbDelay, want.fbDelay ?? 0);
  const runs = loadAdaptationRuns(dir);
  assert.deepEqual(runs.map((r) => `${r.condition}-${r.seed}`).sort(), conditions.flatMap((c) => [1, 2, 3].map((s) => `${c}-${s}`)).sort());
  for (const run of runs) {
    const what = `${name} ${run.condition} seed ${run.seed}`;
    const summary = JSON.parse(fs.readFileSync(`${dir}/${run.condition}-seed${run.seed}.json`, "utf8"));
    assert.equal(summary.settings.pretrainedSha256, sha, `${what} starts from ${network}`);
    assert.equal(summary.config.rotationDeg, want.rotationDeg);
    assert.equal(summary.config.curlGain, want.curlGain);
    if (want.perturbations) assert.deepEqual(summary.config.perturbations, want.perturbations, `${what}: its perturbations`);
    if (want.feedbackRule !== undefined) assert.equal(summary.config.feedbackRule?.name ?? null, want.feedbackRule, `${what}: its feedback rule`);
    assert.equal(summary.config.controlGain ?? 1, want.controlGain ?? 1, `${what}: its controller's gain during learning`);
    assert.equal(summary.config.reach.preparation !== undefined, want.variant === "instructed_delay", `${what}: the task variant of its network`);
    const wrec = fs.existsSync(`${dir}/${run.condition}-seed${run.seed}.wrec.safetensors`);
    if (run.diverged) {
      assert.equal(run.trials.length, run.diverged.trial, `${what}: the trials before divergence`);
      assert.equal(summary.finalTestError, null);
      assert.ok(!wrec, `${what}: no adapted weights for a diverged run`);
    } else {
      assert.equal(run.trials.length, 1000, what);
      assert.equal(run.tests[run.tests.length - 1].trial, 1000, what);
      assert.ok(wrec, `${what}: adapted weights`);
    }
    if (run.seed !== 1) continue;
    const a = new Adapter(pre.network, adaptConfig(summary.config));
    let worst = 0;
    for (let i = 0; i < Math.min(10, run.trials.length); i++) worst = Math.max(worst, Math.abs(a.trial().loss - run.trials[i].loss) / run.trials[i].loss);
    console.log(`${what}: first 10 trial losses, largest relative difference to the shipped run ${worst.toExponential(2)}`);
    assert.ok(worst < SAME_RUN, `${what}: trial losses differ by up to ${worst.toExponential(2)} (relative)`);
  }
}

test("data/results/curl0.3-rot0: the curl field (gain 0.3, no rotation), 4 conditions x 3 seeds of 1000 trials; the current engine reproduces their first 10 trials", () => {
  checkAdaptFolder("curl0.3-rot0", "pretrain-fb-seed1", ["rflo+c", "rflo", "bptt+c", "bptt"], { rotationDeg: 0, curlGain: 0.3 });
});

test("data/results/persistent-rot16.7: RFLO+c and RFLO on a 16.7° rotation, 3 seeds of 1000 trials, from pretrain-fb-seed1", () => {
  checkAdaptFolder("persistent-rot16.7", "pretrain-fb-seed1", ["rflo+c", "rflo"], { rotationDeg: 16.7, curlGain: 0 });
});

test("data/results/instructed-rot30: F3 on the instructed-delay network, 4 conditions x 3 seeds; first 10 trials reproduced", () => {
  checkAdaptFolder("instructed-rot30", "pretrain-fb-instructed-seed1", ["rflo+c", "rflo", "bptt+c", "bptt"], { rotationDeg: 30, curlGain: 0, variant: "instructed_delay" });
});

// Networks 2 and 3: the four conditions, 3 seeds each.
for (const [n, conditions] of [[2, ["rflo+c", "rflo", "bptt+c", "bptt"]], [3, ["rflo+c", "rflo", "bptt+c", "bptt"]]] as const) {
  test(`data/results/instructed-rot30-net${n}: ${conditions.join(", ")} on instructed-delay network ${n}, 3 seeds; first 10 trials reproduced`, () => {
    checkAdaptFolder(`instructed-rot30-net${n}`, `pretrain-fb-instructed-seed${n}`, [...conditions], { rotationDeg: 30, curlGain: 0, variant: "instructed_delay" });
  });
}

// Runs through a plant (issue 24) at rates chosen by the plants' sweeps, under the target rotation, the cursor
// rotation and the curl field; and the RFLO runs with a passive BPTT comparison (seed 1 only). As shipped.
// The plants' runs (issue 24): on each network pre-trained through a plant, each condition at its best rate
// from network 1's sweeps (-best), RFLO through the point mass also at 5e-6 (-lr5e-6), and the curl field;
// the arm at the paper's rates on network 1 (-rot30-net1; the point mass's has its own test below). A folder
// is shipped as its runs finish, a condition with all 3 seeds at once: the test checks every condition
// shipped (the title names them) against the full set. The velocity-feedback network has the four rules at the
// point mass's rates, the muscle arm's network at the arm's -best rates.
// BPTT+c's best rate through either plant is the paper's: in the -best folders of network 1 its runs are
// those of <plant>-rot30-net1, copied.
const ALL4 = ["rflo+c", "rflo", "bptt+c", "bptt"];
const CURSOR30 = { rotationDeg: 0, curlGain: 0, perturbations: [{ name: "cursor_rotation", options: { deg: 30 } }] };
const PLANT_RUNS: [string, string, string[], { rotationDeg: number; curlGain: number; perturbations?: { name: string; options: Record<string, unknown> }[]; controlGain?: number }][] = [
  ["twojointarm-rot30-net1", "pretrain-fb-twojointarm-seed1", ALL4, { rotationDeg: 30, curlGain: 0 }],
  ...[1, 2, 3].flatMap((n) => (["pointmass", "twojointarm"] as const).flatMap((plant): typeof PLANT_RUNS => {
    const network = `pretrain-fb-${plant}-seed${n}`;
    return [
      [`${plant}-rot30-best-net${n}`, network, ALL4, { rotationDeg: 30, curlGain: 0 }],
      [`${plant}-cursor-rot30-best-net${n}`, network, ALL4, CURSOR30],
      [`${plant}-curl0.3-net${n}`, network, ALL4, { rotationDeg: 0, curlGain: 0.3 }],
      ...(plant === "pointmass" ? ([
        [`${plant}-rot30-lr5e-6-net${n}`, network, ["rflo"], { rotationDeg: 30, curlGain: 0 }],
        [`${plant}-curl0.3-lr5e-6-net${n}`, network, ["rflo"], { rotationDeg: 0, curlGain: 0.3 }],
      ] as typeof PLANT_RUNS) : []),
    ];
  })),
  // The four rules through the point mass's network pre-trained with velocity feedback (the rates of -best; RFLO's of -lr5e-6).
  ["pointmass-vel0.05-rot30-net1", "pretrain-fb-vel0.05-pointmass-seed1", ALL4, { rotationDeg: 30, curlGain: 0 }],
  // The four rules through the arm with muscles, at the arm's rates (-best).
  ["muscle-twojointarm-rot30-net1", "pretrain-fb-muscle-twojointarm-seed1", ALL4, { rotationDeg: 30, curlGain: 0 }],
  // RFLO+c through the arm with a weaker controller during learning (--control-gain 0.5, 0.25; 1.5e-6 and 5e-6), and
  // BPTT+c at gain 0.25 on network 1: does the controller's strength decide what control costs?
  ...[0.5, 0.25].flatMap((g) => [1, 2, 3].flatMap((n): typeof PLANT_RUNS => [
    [`twojointarm-controlgain${g}-rot30-net${n}`, `pretrain-fb-twojointarm-seed${n}`, g === 0.25 && n === 1 ? ["rflo+c", "bptt+c"] : ["rflo+c"], { rotationDeg: 30, curlGain: 0, controlGain: g }],
    [`twojointarm-controlgain${g}-rot30-lr5e-6-net${n}`, `pretrain-fb-twojointarm-seed${n}`, ["rflo+c"], { rotationDeg: 30, curlGain: 0, controlGain: g }],
  ])),
  // The same at gain 0 (no control input: RFLO in effect) and 2 (a stronger controller), 1.5e-6.
  ...[0, 2].flatMap((g) => [1, 2, 3].map((n): (typeof PLANT_RUNS)[number] => [`twojointarm-controlgain${g}-rot30-net${n}`, `pretrain-fb-twojointarm-seed${n}`, ["rflo+c"], { rotationDeg: 30, curlGain: 0, controlGain: g }])),
  // BPTT+c at 1e-5 on network 1, gains 0.25 and 1 (at its best rate, 1e-4, gain 0.25 diverges: the folder above).
  ...[0.25, 1].map((g): (typeof PLANT_RUNS)[number] => [`twojointarm-controlgain${g}-rot30-lr1e-5-net1`, "pretrain-fb-twojointarm-seed1", ["bptt+c"], { rotationDeg: 30, curlGain: 0, controlGain: g }]),
  // The control: RFLO+c on the massless hand at gains 0.5, 0.25 and 2 (the paper's rate), its 3 networks.
  ...[0.5, 0.25, 2].flatMap((g) => [1, 2, 3].map((n): (typeof PLANT_RUNS)[number] => [`controlgain${g}-rot30-net${n}`, `pretrain-fb-seed${n}`, ["rflo+c"], { rotationDeg: 30, curlGain: 0, controlGain: g }])),
];
for (const [folder, network, all, want] of PLANT_RUNS) {
  if (!fs.existsSync(dataPath("results", folder))) continue; // shipped as the runs finish
  const shipped = all.filter((c) => fs.existsSync(dataPath("results", folder, `${c}-seed1.json`)));
  test(`data/results/${folder}: ${shipped.join(", ")}${shipped.length < all.length ? ` (of ${all.join(", ")})` : ""} through the plant of ${network}, 3 seeds (diverged runs recorded); first 10 trials reproduced`, () => {
    assert.ok(shipped.length > 0, `${folder}: no run of ${all.join(", ")}`);
    checkAdaptFolder(folder, network, shipped, want);
  });
}

// The loop's gain along learning (issue 24: does RFLO+c change the controller?), one network per hand.
for (const [folder, network] of [["loopgain-rot30-net1", "pretrain-fb-seed1"], ["loopgain-pointmass-rot30-net1", "pretrain-fb-pointmass-seed1"], ["loopgain-twojointarm-rot30-net1", "pretrain-fb-twojointarm-seed1"]] as const) {
  if (!fs.existsSync(dataPath("results", folder))) continue;
  test(`data/results/${folder}: RFLO+c and RFLO with the loop_gain measure every 50 trials, seed 1, from ${network}; trial 1's loop gain and the first 3 trials reproduced`, () => {
    const dir = dataPath("results", folder);
    const file = dataPath("pretrained", `${network}.safetensors`);
    const pre = loadNetwork(file).network;
    const runs = loadAdaptationRuns(dir);
    assert.deepEqual(runs.map((r) => `${r.condition}-${r.seed}`).sort(), ["rflo+c-1", "rflo-1"]);
    for (const run of runs) {
      const summary = JSON.parse(fs.readFileSync(`${dir}/${run.condition}-seed1.json`, "utf8"));
      assert.equal(summary.settings.pretrainedSha256, sha256File(file));
      assert.deepEqual(summary.config.measures, [{ name: "loop_gain", options: { every: 50, window: 10 } }]);
      assert.equal(run.trials.length, 1000);
      const measured = run.trials.filter((t) => Number.isFinite(Number((t as Record<string, unknown>).loopGain))).map((t) => t.trial + 1);
      assert.deepEqual(measured, [1, ...Array.from({ length: 20 }, (_, i) => 50 * (i + 1))]);
      const a = new Adapter(pre, adaptConfig(summary.config));
      for (let i = 0; i < 3; i++) {
        const rec = a.trial();
        assert.ok(Math.abs(rec.loss - run.trials[i].loss) / run.trials[i].loss < SAME_RUN, `${run.condition} trial ${i}: loss`);
        if (i === 0) {
          const want = Number((run.trials[0] as Record<string, unknown>).loopGain);
          assert.ok(Math.abs(rec.loopGain! - want) < 1e-6 * want, `${run.condition}: loop gain after trial 1 ${rec.loopGain} vs shipped ${want}`);
        }
      }
    }
  });
}

test("data/results/pointmass-alignment-rot30-net1: RFLO+c and RFLO through the point mass with passive BPTT and control_size, seed 1; the first 3 trials' measurements reproduced", () => {
  const dir = dataPath("results", "pointmass-alignment-rot30-net1");
  if (!fs.existsSync(dir)) return; // shipped when it finishes
  const pre = loadNetwork(dataPath("pretrained", "pretrain-fb-pointmass-seed1.safetensors")).network;
  const runs = loadAdaptationRuns(dir);
  assert.deepEqual(runs.map((r) => r.condition).sort(), ["rflo", "rflo+c"]);
  for (const run of runs) {
    const summary = JSON.parse(fs.readFileSync(`${dir}/${run.condition}-seed${run.seed}.json`, "utf8"));
    assert.equal(summary.config.compare, "bptt");
    assert.equal(summary.config.trialGradient, true);
    assert.deepEqual(summary.config.measures, [{ name: "control_size", options: {} }]);
    assert.equal(run.trials.length, 1000);
    const a = new Adapter(pre, adaptConfig(summary.config));
    for (let i = 0; i < 3; i++) {
      const rec = a.trial();
      for (const col of ["localAlignment", "globalAlignment", "globalAlignmentTrial", "controlRms", "controlShare"] as const) {
        const want = Number((run.trials[i] as Record<string, unknown>)[col]);
        assert.ok(Math.abs(rec[col]! - want) < 1e-4 * Math.max(1, Math.abs(want)), `${run.condition} trial ${i} ${col}: ${rec[col]} vs shipped ${want}`);
      }
    }
  }
});

test("data/results/pointmass-rot30-net1: the four rules through the point mass at the paper's rates, 3 seeds (diverged runs recorded); first 10 trials reproduced", () => {
  checkAdaptFolder("pointmass-rot30-net1", "pretrain-fb-pointmass-seed1", ["rflo+c", "rflo", "bptt+c", "bptt"], { rotationDeg: 30, curlGain: 0 });
  const runs = loadAdaptationRuns(dataPath("results", "pointmass-rot30-net1"));
  assert.equal(runs.filter((r) => r.condition === "rflo+c" && r.diverged).length, 3, "RFLO+c diverged in every seed");
});

// Issue 25 item 4: why RFLO without control climbs back on the instructed-delay task. An intervention that
// removes the climb (RFLO's error through W_out^T), a control that does not (updates in the movement only),
// and learned feedback weights, each on the 3 instructed-delay networks.
for (const n of [1, 2, 3]) {
  test(`data/results/instructed-rflo-{t,movement,fb}-net${n}: the climb's intervention and controls on instructed-delay network ${n}, 3 seeds; first 10 trials reproduced`, () => {
    loadPlugin("plugins/rflo-window.ts");
    const net = `pretrain-fb-instructed-seed${n}`;
    const want = { rotationDeg: 30, curlGain: 0, variant: "instructed_delay" };
    checkAdaptFolder(`instructed-rflo-t-net${n}`, net, ["rflo"], want);
    checkAdaptFolder(`instructed-rflo-movement-net${n}`, net, ["rflo_window"], want);
    checkAdaptFolder(`instructed-rflo-fb-net${n}`, net, ["rflo"], { ...want, feedbackRule: "noise_mirror" });
    for (const r of loadAdaptationRuns(dataPath("results", `instructed-rflo-t-net${n}`))) {
      assert.equal(JSON.parse(fs.readFileSync(dataPath("results", `instructed-rflo-t-net${n}`, `rflo-seed${r.seed}.json`), "utf8")).config.projection, "transpose");
    }
    for (const r of loadAdaptationRuns(dataPath("results", `instructed-rflo-movement-net${n}`))) {
      assert.deepEqual(JSON.parse(fs.readFileSync(dataPath("results", `instructed-rflo-movement-net${n}`, `rflo_window-seed${r.seed}.json`), "utf8")).config.ruleOptions, { period: "movement" });
    }
  });
}

for (const d of [2, 5, 10, 20]) {
  test(`data/results/fbdelay${d}-rot30: RFLO+c and RFLO on the network with a feedback delay of ${d} steps, 3 seeds; first 10 trials reproduced`, () => {
    checkAdaptFolder(`fbdelay${d}-rot30`, `pretrain-fb-delay${d}-seed1`, ["rflo+c", "rflo"], { rotationDeg: 30, curlGain: 0, fbDelay: d });
  });
}

for (const [d, n] of [[5, 2], [5, 3], [10, 2], [10, 3], [20, 2], [20, 3]]) {
  test(`data/results/fbdelay${d}-rot30-net${n}: RFLO+c and RFLO on network ${n} pre-trained with a feedback delay of ${d} steps, 3 seeds; first 10 trials reproduced`, () => {
    checkAdaptFolder(`fbdelay${d}-rot30-net${n}`, `pretrain-fb-delay${d}-seed${n}`, ["rflo+c", "rflo"], { rotationDeg: 30, curlGain: 0, fbDelay: d });
  });
}

for (const d of [2, 5, 10, 20]) {
  test(`data/results/imposed-fbdelay${d}-rot30-net{2,3}: RFLO+c and RFLO from pretrain-fb-seed{2,3} with the control delayed by ${d} steps while learning; first 10 trials reproduced`, () => {
    for (const n of [2, 3]) {
      checkAdaptFolder(`imposed-fbdelay${d}-rot30-net${n}`, `pretrain-fb-seed${n}`, ["rflo+c", "rflo"], { rotationDeg: 30, curlGain: 0, fbDelay: 0 });
      for (const r of loadAdaptationRuns(dataPath("results", `imposed-fbdelay${d}-rot30-net${n}`))) {
        assert.equal(JSON.parse(fs.readFileSync(dataPath("results", `imposed-fbdelay${d}-rot30-net${n}`, `${r.condition}-seed${r.seed}.json`), "utf8")).config.fbDelay, d);
      }
    }
  });
}

for (const d of [2, 5, 10, 20]) {
  test(`data/results/imposed-fbdelay${d}-rot30: RFLO+c and RFLO from pretrain-fb-seed1 with its control delayed by ${d} steps while learning; first 10 trials reproduced; RFLO (no control) equals the undelayed run`, () => {
    checkAdaptFolder(`imposed-fbdelay${d}-rot30`, "pretrain-fb-seed1", ["rflo+c", "rflo"], { rotationDeg: 30, curlGain: 0, fbDelay: 0 });
    const runs = loadAdaptationRuns(dataPath("results", `imposed-fbdelay${d}-rot30`));
    const plain = loadAdaptationRuns(dataPath("results", "persistent-rot30"));
    for (const r of runs) {
      const summary = JSON.parse(fs.readFileSync(dataPath("results", `imposed-fbdelay${d}-rot30`, `${r.condition}-seed${r.seed}.json`), "utf8"));
      assert.equal(summary.config.fbDelay, d);
      // Without control the delayed control input is never used: the same run as without delay (within the
      // float32 rounding of the engine that computed persistent-rot30: 6e-7 relative when this was written).
      if (r.condition !== "rflo") continue;
      const p = plain.find((q) => q.condition === "rflo" && q.seed === r.seed)!;
      assert.equal(r.tests.length, p.tests.length);
      r.tests.forEach((t, i) => assert.ok(Math.abs(t.testError - p.tests[i].testError) <= SAME_RUN * p.tests[i].testError, `rflo seed ${r.seed} test ${i}: ${t.testError} vs ${p.tests[i].testError}`));
    }
  });
}

// Issue 23: 3 seeds on each of the 3 networks trained with feedback, at each condition's best rate of the
// cursor sweeps (network 1, seed 1). Conditions that diverged at every rate of a sweep have no runs.
const CURSOR_RUNS: [string, string[], { name: string; options: Record<string, unknown> }, string | null][] = [
  ["cursor-rot30", ["rflo+c", "rflo", "bptt+c", "bptt"], { name: "cursor_rotation", options: { deg: 30 } }, null],
  // RFLO+c and RFLO at 1.5e-5, the best rate before the sweep had 1.5e-6 (kept: the verdict at a higher rate).
  ["cursor-rot30-lr1.5e-5", ["rflo+c", "rflo"], { name: "cursor_rotation", options: { deg: 30 } }, null],
  ["cursor-rot60", ["rflo", "bptt+c", "bptt"], { name: "cursor_rotation", options: { deg: 60 } }, null],
  ["cursor-rot90", ["bptt"], { name: "cursor_rotation", options: { deg: 90 } }, null],
  ["cursor-rot120", ["bptt"], { name: "cursor_rotation", options: { deg: 120 } }, null],
  ["cursor-mirror", ["bptt+c", "bptt"], { name: "cursor_mirror", options: { axisDeg: 90 } }, null],
  ["cursor-fb-rot30", ["rflo+c", "rflo"], { name: "cursor_rotation", options: { deg: 30 } }, "noise_mirror"],
  ["cursor-fb-rot60", ["rflo+c", "rflo"], { name: "cursor_rotation", options: { deg: 60 } }, "noise_mirror"],
  ["cursor-fb-rot90", ["rflo+c", "rflo"], { name: "cursor_rotation", options: { deg: 90 } }, "noise_mirror"],
  ["cursor-fb-rot120", ["rflo"], { name: "cursor_rotation", options: { deg: 120 } }, "noise_mirror"],
  ["cursor-fb-mirror", ["rflo"], { name: "cursor_mirror", options: { axisDeg: 90 } }, "noise_mirror"],
];
for (const [prefix, conditions, perturbation, feedbackRule] of CURSOR_RUNS) {
  for (const n of [1, 2, 3]) {
    if (!fs.existsSync(dataPath("results", `${prefix}-net${n}`))) continue; // shipped as the runs finish
    test(`data/results/${prefix}-net${n}: ${conditions.join(", ")} under ${perturbation.name} ${JSON.stringify(perturbation.options)}${feedbackRule ? ` with W_fb learning (${feedbackRule})` : ""}, 3 seeds from pretrain-fb-seed${n}; first 10 trials reproduced`, () => {
      checkAdaptFolder(`${prefix}-net${n}`, `pretrain-fb-seed${n}`, conditions, { rotationDeg: 0, curlGain: 0, perturbations: [perturbation], feedbackRule });
    });
  }
}

test("the current engine reproduces the alignment measurements of the first 3 trials of the shipped alignment runs (seed 1)", () => {
  const pre = loadNetwork(dataPath("pretrained", "pretrain-fb-seed1.safetensors")).network;
  for (const run of loadAdaptationRuns(dataPath("results", "alignment-rot30")).filter((r) => r.seed === 1)) {
    const control = run.condition.endsWith("+c");
    const a = new Adapter(pre, adaptConfig({ rule: run.condition.replace("+c", "") as RuleName, control, seed: 1, compare: "bptt", trialGradient: true }));
    for (let i = 0; i < 3; i++) {
      const rec = a.trial();
      for (const col of ["localAlignment", "globalAlignment", "globalAlignmentTrial"] as const) {
        assert.ok(Math.abs(rec[col] - run.trials[i][col]) < 1e-4, `${run.condition} trial ${i} ${col}: ${rec[col]} vs shipped ${run.trials[i][col]}`);
      }
    }
  }
});

test("data/results/sweep-s1: every cell is a cell of grids/s1.json computed from pretrain-fb-seed1; the merged tables match the cells", () => {
  checkSweepFolder("sweep-s1", "s1.json");
});

for (const g of ["cursor-rot30", "cursor-rot60", "cursor-rot90", "cursor-rot120", "cursor-mirror"]) {
  test(`data/results/sweep-${g}: cells of grids/${g}.json (RFLO+c and RFLO so far, under the cursor perturbation); the merged tables match the cells`, () => {
    const files = checkSweepFolder(`sweep-${g}`, `${g}.json`);
    assert.ok(files.length >= 10, "the 10 RFLO cells are there");
    const grid = JSON.parse(fs.readFileSync(projectPath("grids", `${g}.json`), "utf8"));
    assert.equal(grid.perturbations.length, 1);
    assert.ok(grid.perturbations[0].name.startsWith("cursor_"));
  });
}

test("data/results/sweep-twojointarm-curl0.3: BPTT+c and BPTT in the curl field through the arm, cells of grids/twojointarm-curl0.3.json; the merged tables match the cells", () => {
  assert.equal(checkSweepFolder("sweep-twojointarm-curl0.3", "twojointarm-curl0.3.json").length, 8);
});

for (const g of ["pointmass-rot30", "pointmass-cursor-rot30", "twojointarm-rot30", "twojointarm-cursor-rot30"]) {
  if (!fs.existsSync(dataPath("results", `sweep-${g}`, "sweep.json"))) continue; // shipped as they finish (issue 24 item 6)
  test(`data/results/sweep-${g}: cells of grids/${g}.json through the plant (the four conditions' rates; partial where it says missing); the merged tables match the cells`, () => {
    const files = checkSweepFolder(`sweep-${g}`, `${g}.json`);
    assert.ok(files.filter((f) => f.startsWith("rflo")).length === 14, "the 14 RFLO cells are there");
  });
}

for (const g of ["cursor-fb-rot30", "cursor-fb-rot60", "cursor-fb-rot90", "cursor-fb-rot120", "cursor-fb-mirror", "cursor-fbnoise-rot30", "cursor-fbnoise-rot60", "cursor-fbnoise-rot90"]) {
  if (!fs.existsSync(dataPath("results", `sweep-${g}`))) continue; // shipped as they finish (issue 23 item 4)
  test(`data/results/sweep-${g}: RFLO+c and RFLO with W_fb learning by noise_mirror${g.includes("noise") ? " at eta 0 (noise only)" : ""}, cells of grids/${g}.json; the merged tables match the cells`, () => {
    const files = checkSweepFolder(`sweep-${g}`, `${g}.json`);
    assert.ok(files.length >= 8, "the first 8 cells are there (sweep.json lists any still missing)");
    const grid = checkGrid(JSON.parse(fs.readFileSync(projectPath("grids", `${g}.json`), "utf8")));
    assert.equal(grid.feedbackRule?.name, "noise_mirror");
    assert.equal(grid.feedbackRule?.options?.eta, g.includes("noise") ? 0 : 0.05);
    for (const f of files) {
      const cell = JSON.parse(fs.readFileSync(dataPath("results", `sweep-${g}`, "cells", f), "utf8"));
      assert.deepEqual(cell.settings.config.feedbackRule, grid.feedbackRule, `${f}: computed with the grid's feedback rule`);
    }
  });
}

/** Checks a shipped sweep folder against its grid; returns the finished cells' file names. */
function checkSweepFolder(name: string, gridFile: string): string[] {
  const dir = dataPath("results", name);
  const grid = checkGrid(JSON.parse(fs.readFileSync(projectPath("grids", gridFile), "utf8")));
  const sha = sha256File(dataPath(...grid.pretrained.split("/")));
  const cells = gridCells(grid);
  const files = fs.readdirSync(`${dir}/cells`).filter((f) => f.endsWith(".json"));
  const ids = new Set(cells.map((c) => c.id));
  for (const f of files) assert.ok(ids.has(f.slice(0, -".json".length)), `${f} is a cell of the grid`);
  const merged = JSON.parse(fs.readFileSync(`${dir}/sweep.json`, "utf8"));
  const rows = fs.readFileSync(`${dir}/sweep.csv`, "utf8").trim().split("\n");
  const header = rows[0].split(",");
  const col = (name: string) => header.indexOf(name);
  assert.equal(rows.length - 1, files.length, "sweep.csv has one row per finished cell (merge after adding cells)");
  assert.deepEqual(merged.missing, cells.filter((c) => !files.includes(`${c.id}.json`)).map((c) => c.id));
  for (const line of rows.slice(1)) {
    const v = line.split(",");
    const cell = cells.find((c) => c.id === v[col("id")])!;
    const rec = JSON.parse(fs.readFileSync(`${dir}/cells/${cell.id}.json`, "utf8"));
    assert.equal(rec.settings.pretrainedSha256, sha);
    assert.deepEqual(adaptConfig(rec.settings.config), cellConfig(grid, cell), `${cell.id}: the grid's settings`);
    assert.equal(rec.settings.divergeFactor, grid.divergeFactor);
    assert.ok(["done", "diverged"].includes(v[col("status")]));
    assert.equal(Number(v[col("finalTestError")]), rec.result.finalTestError);
    assert.ok(Number.isFinite(rec.result.finalTestError), `${cell.id}: a finite final error, diverged or not`);
    // A finished cell ran every trial; a diverged one stopped at its divergence, which the last test can find too.
    if (rec.result.status === "done") assert.equal(rec.result.trialsDone, grid.trials, `${cell.id}: a finished cell ran every trial`);
    else assert.ok(rec.result.trialsDone <= grid.trials && rec.result.divergedAt === rec.result.trialsDone, `${cell.id}: a diverged cell stopped where it diverged`);
  }
  return files;
}

// RFLO with its trace through the plant's lag (plugins/rflo-lag.ts, issue 24): the sweeps through the point
// mass and on the massless hand, and the best rates' runs on each point-mass network shipped.
test("data/results/sweep-pointmass-rflolag-rot30, sweep-rflolag-rot30, sweep-twojointarm-rflolag-rot30 and pointmass-rflolag-rot30-best-net*: rflo_lag (tau 0.1) computed with today's plugin file; the merged tables match the cells; first 10 trials reproduced", () => {
  const plugin = loadPlugin(projectPath("plugins", "rflo-lag.ts"));
  const recorded = { kind: "plugin", file: "plugins/rflo-lag.ts", sha256: plugin.sha256 };
  for (const [g, n] of [["pointmass-rflolag-rot30", 18], ["rflolag-rot30", 10], ["twojointarm-rflolag-rot30", 14]] as const) {
    if (!fs.existsSync(dataPath("results", `sweep-${g}`, "sweep.json"))) continue;
    const files = checkSweepFolder(`sweep-${g}`, `${g}.json`);
    assert.equal(files.length, n, `sweep-${g}: every cell`);
    for (const f of files) {
      const cell = JSON.parse(fs.readFileSync(dataPath("results", `sweep-${g}`, "cells", f), "utf8"));
      assert.deepEqual(cell.settings.config.sources["rule:rflo_lag"], recorded, `${f}: computed with this version of the plugin`);
      assert.deepEqual(cell.settings.config.ruleOptions, { tau: 0.1 });
    }
  }
  for (const n of [1, 2, 3]) {
    const folder = `pointmass-rflolag-rot30-best-net${n}`;
    if (!fs.existsSync(dataPath("results", folder))) continue;
    checkAdaptFolder(folder, `pretrain-fb-pointmass-seed${n}`, ["rflo_lag+c", "rflo_lag"], { rotationDeg: 30, curlGain: 0 });
    for (const r of loadAdaptationRuns(dataPath("results", folder))) {
      const summary = JSON.parse(fs.readFileSync(dataPath("results", folder, `${r.condition}-seed${r.seed}.json`), "utf8"));
      assert.deepEqual(summary.config.sources["rule:rflo_lag"], recorded);
      assert.deepEqual(summary.config.ruleOptions, { tau: 0.1 });
      assert.equal(summary.config.lr, 5e-4, "the best rate of sweep-pointmass-rflolag-rot30, both conditions");
    }
  }
});

test("data/results/node-perturbation-*: the plugin rule's learning-rate sweep (10 cells) and its runs on the 3 feedback networks, computed with today's plugin file; first 10 trials reproduced", () => {
  const plugin = loadPlugin(projectPath("plugins", "node-perturbation.ts"));
  const recorded = { kind: "plugin", file: "plugins/node-perturbation.ts", sha256: plugin.sha256 };
  const cells = fs.readdirSync(dataPath("results", "node-perturbation-lr", "cells")).filter((f) => f.endsWith(".json"));
  assert.equal(cells.length, 10);
  for (const f of cells) {
    const cell = JSON.parse(fs.readFileSync(dataPath("results", "node-perturbation-lr", "cells", f), "utf8"));
    assert.deepEqual(cell.settings.config.sources["rule:node_perturbation"], recorded, `${f}: computed with this version of the plugin`);
  }
  for (const n of [1, 2, 3]) {
    checkAdaptFolder(`node-perturbation-rot30-net${n}`, `pretrain-fb-seed${n}`, ["node_perturbation+c", "node_perturbation"], { rotationDeg: 30, curlGain: 0 });
    for (const r of loadAdaptationRuns(dataPath("results", `node-perturbation-rot30-net${n}`))) {
      const summary = JSON.parse(fs.readFileSync(dataPath("results", `node-perturbation-rot30-net${n}`, `${r.condition}-seed${r.seed}.json`), "utf8"));
      assert.deepEqual(summary.config.sources["rule:node_perturbation"], recorded);
      assert.equal(summary.config.lr, r.condition.endsWith("+c") ? 1e-4 : 1e-5, "the best rate of the sweep");
    }
  }
});

test("data/results/curvature-rot30: step-loss Hessian spectra with control on and off, 3 networks x (pre-trained, RFLO+c seed 1) x 8 targets x 5 steps; one pair recomputed from the shipped weights", async () => {
  const { stepCurvature } = await import("../lib/src/analysis/curvature");
  const { adaptedNetwork } = await import("../lib/src/results");
  const { centreOutAll } = await import("../lib/src/task");
  const { perturbTargets, targetRotation } = await import("../lib/src/perturbation");
  const { cloneNetwork, simulate } = await import("../lib/src/network");
  const { Rng } = await import("../lib/src/rng");
  const aq = await import("arquero");
  const dir = dataPath("results", "curvature-rot30");
  const info = JSON.parse(fs.readFileSync(`${dir}/curvature.json`, "utf8"));
  assert.equal(info.complete, true);
  assert.equal(info.clean || info.allowDirty, true);
  const s = info.settings;
  assert.deepEqual([s.networks, s.weights, s.targets, s.steps, s.rotationDeg], [[1, 2, 3], ["pretrained", "rflo+c-seed1"], [0, 1, 2, 3, 4, 5, 6, 7], [40, 60, 80, 100, 120], 30]);
  for (const [file, sha] of Object.entries(s.files)) assert.equal(sha256File(projectPath(file)), sha, `${file} is the file the table was computed from`);
  const rows = aq.fromCSV(fs.readFileSync(`${dir}/curvature.csv`, "utf8")).objects() as any[];
  assert.equal(rows.length, 3 * 2 * 8 * 5 * 2);
  assert.equal(new Set(rows.map((r) => `${r.network}:${r.weights}:${r.target}:${r.step}:${r.control}`)).size, rows.length, "each network, weights, target, step and control once");
  for (const r of rows) {
    assert.ok(r.lambda_min < r.lambda_max && Number.isFinite(r.neg_mass_mean) && r.neg_mass_mean >= 0 && r.neg_mass_mean <= 1);
    if (r.converged_min) assert.ok(r.residual_min <= s.analysis.extremes.tol);
    if (r.converged_max) assert.ok(r.residual_max <= s.analysis.extremes.tol);
  }
  // Recompute one on/off pair (network 2 after RFLO+c seed 1, target 5, step 100): the same start vector, so the
  // extreme Ritz values agree to rounding; tolerance 1e-6 x max|lambda| (the convergence tolerance is 1e-5).
  const pre = loadNetwork(dataPath("pretrained", "pretrain-fb-seed2.safetensors")).network;
  const net = cloneNetwork(adaptedNetwork(pre, dataPath("results", "persistent-rot30-net2", "rflo+c-seed1.wrec.safetensors")), "float64"); // as cli/curvature.ts (initial states drawn in float64)
  const batch = perturbTargets(centreOutAll(), [targetRotation(30)]);
  const N = net.config.N;
  const x0 = Float64Array.from(simulate(net, batch, { feedback: false, init: Rng.seeded(s.analysis.seed, "eval-init") }).x.subarray(5 * N, 6 * N));
  for (const control of [true, false]) {
    const r = stepCurvature(net, batch, 5, x0, 100, control, { ...s.analysis, probes: 1, steps: 2 });
    const shipped = rows.find((x) => x.network === 2 && x.weights === "rflo+c-seed1" && x.target === 5 && x.step === 100 && x.control === control)!;
    const scale = Math.max(Math.abs(shipped.lambda_min), Math.abs(shipped.lambda_max));
    assert.ok(Math.abs(r.extremes.min - shipped.lambda_min) < 1e-6 * scale, `control ${control}: lambda_min ${r.extremes.min} vs shipped ${shipped.lambda_min}`);
    assert.ok(Math.abs(r.extremes.max - shipped.lambda_max) < 1e-6 * scale, `control ${control}: lambda_max ${r.extremes.max} vs shipped ${shipped.lambda_max}`);
    assert.ok(Math.abs(r.loss - shipped.loss) < 1e-9 * shipped.loss, `control ${control}: loss ${r.loss} vs shipped ${shipped.loss}`);
  }
});
