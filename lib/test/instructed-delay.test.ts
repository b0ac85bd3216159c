/**
 * The instructed-delay variant of the task (issue 14): a preparatory period of a per-trial length
 * between the target cue and a go cue on a 4th input channel. Off by default: the paper's task is
 * unchanged (pinned by task.test.ts and the shipped-data tests).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/rng";
import * as task from "../src/task";
import { initNetwork, networkConfig, simulate } from "../src/network";
import { pretrainConfig, pretrainedReach } from "../src/train";
import { ParameterError } from "../src/validate";

const reach = task.reachVariant("instructed_delay");

test("instructed delay: the named variant is off by default and the paper's task keeps 3 inputs and no preparation", () => {
  const c = task.reachConfig();
  assert.equal("preparation" in c, false);
  assert.deepEqual(task.reachVariant("standard"), c);
  assert.equal(task.centreOutAll().nIn, 3);
  assert.deepEqual(reach.preparation, { delayMin: 30, delayMax: 70, goCueSteps: 10, testDelay: 50 });
  assert.equal(reach.T, 200);
  assert.equal(task.variantOf(reach), "instructed_delay");
  assert.equal(task.inputChannels(reach), 4);
});

test("instructed delay: the velocity is exactly zero before go, nonzero at go, and the reach ends at rest on the target", () => {
  for (const b of [task.randomReaches(200, Rng.seeded(3), reach), task.centreOutRandom(64, Rng.seeded(4), reach), task.rotate(task.centreOutAll(reach), 40)]) {
    const { T, B } = b;
    for (let i = 0; i < B; i++) {
      const go = b.go[i];
      for (let t = 0; t < go; t++) {
        assert.equal(b.velocity[(t * B + i) * 2], 0, `trial ${i} step ${t} < go ${go}`);
        assert.equal(b.velocity[(t * B + i) * 2 + 1], 0);
        assert.equal(b.position[(t * B + i) * 2], b.start[2 * i]);
      }
      const dist = Math.hypot(b.end[2 * i] - b.start[2 * i], b.end[2 * i + 1] - b.start[2 * i + 1]);
      if (dist > 0.1) assert.ok(Math.hypot(b.velocity[(go * B + i) * 2], b.velocity[(go * B + i) * 2 + 1]) > 0, `trial ${i}: moves from go on`);
      // The last position is the (rotated) target, exactly; the hand is at rest there.
      const phi = (b.rotationDeg * Math.PI) / 180;
      const dx = b.end[2 * i] - b.start[2 * i];
      const dy = b.end[2 * i + 1] - b.start[2 * i + 1];
      const ex = b.start[2 * i] + Math.cos(phi) * dx - Math.sin(phi) * dy;
      const ey = b.start[2 * i + 1] + Math.sin(phi) * dx + Math.cos(phi) * dy;
      assert.ok(Math.abs(b.position[((T - 1) * B + i) * 2] - ex) < 1e-12 && Math.abs(b.position[((T - 1) * B + i) * 2 + 1] - ey) < 1e-12, `trial ${i} ends on its target`);
      assert.equal(b.velocity[((T - 1) * B + i) * 2], 0);
      // Summed velocity is the displacement, as in the paper's task.
      let sx = 0;
      for (let t = 0; t < T; t++) sx += b.velocity[(t * B + i) * 2] * b.config.dt;
      assert.ok(Math.abs(sx - (ex - b.start[2 * i])) < 1e-12);
    }
  }
});

test("instructed delay: go = stimOn + a delay drawn uniformly from [30, 70]; test sets use 50", () => {
  const b = task.randomReaches(4000, Rng.seeded(5), reach);
  const counts = new Map<number, number>();
  for (const g of b.go) counts.set(g - 20, (counts.get(g - 20) ?? 0) + 1);
  assert.equal(Math.min(...counts.keys()), 30);
  assert.equal(Math.max(...counts.keys()), 70);
  assert.equal(counts.size, 41);
  for (const n of counts.values()) assert.ok(n > 4000 / 41 / 2 && n < (2 * 4000) / 41, `count ${n}`);
  assert.deepEqual([...task.centreOutAll(reach).go], new Array(8).fill(70));
  assert.deepEqual([...task.centreOutAll(reach, 33).go], new Array(8).fill(53));
  // The start and end positions are drawn exactly as in the paper's task (delays are drawn after them).
  const plain = task.randomReaches(4000, Rng.seeded(5));
  assert.deepEqual(b.start, plain.start);
  assert.deepEqual(b.end, plain.end);
});

test("instructed delay: inputs are the target cue from stimOn, the hold signal until go, the go cue for 10 steps from go", () => {
  const b = task.centreOut([0, 3, 5], reach, [30, 51, 70]);
  assert.equal(b.nIn, 4);
  const u = (t: number, i: number, c: number) => task.at(b.inputs, b.B, 4, t, i, c);
  for (let i = 0; i < 3; i++) {
    const go = b.go[i];
    assert.equal(go, 20 + [30, 51, 70][i]);
    for (let t = 0; t < b.T; t++) {
      assert.equal(u(t, i, 0), t >= 20 ? b.end[2 * i] : 0);
      assert.equal(u(t, i, 1), t >= 20 ? b.end[2 * i + 1] : 0);
      assert.equal(u(t, i, 2), t < go ? 5 : 0, `hold, trial ${i} step ${t}`);
      assert.equal(u(t, i, 3), t >= go && t < go + 10 ? 5 : 0, `go cue, trial ${i} step ${t}`);
    }
  }
  const sub = task.selectTrials(b, [2, 0]);
  assert.deepEqual([...sub.go], [90, 50]);
  assert.equal(sub.inputs.length, b.T * 2 * 4);
  assert.equal(task.at(sub.inputs, 2, 4, 95, 0, 3), 5);
});

test("instructed delay: bad settings name the parameter and its range", () => {
  const bad = (f: () => unknown, name: string) => assert.throws(f, (e: unknown) => e instanceof ParameterError && e.parameter === name);
  bad(() => task.reachVariant("instructed_delay", { T: 125 }), "T");
  bad(() => task.reachConfig({ preparation: { delayMin: 40, delayMax: 30, goCueSteps: 10, testDelay: 40 } }), "preparation.delayMax");
  bad(() => task.reachConfig({ T: 200, preparation: { delayMin: 30, delayMax: 80, goCueSteps: 10, testDelay: 50 } }), "T");
  bad(() => task.reachConfig({ T: 200, preparation: { delayMin: 30, delayMax: 70, goCueSteps: 0, testDelay: 50 } }), "preparation.goCueSteps");
  bad(() => task.reachConfig({ T: 200, preparation: { delayMin: 30, delayMax: 70, goCueSteps: 10, testDelay: 80 } }), "preparation.testDelay");
  bad(() => task.centreOut([0, 1], reach, [50]), "delays");
  bad(() => task.centreOut([0], reach, [10]), "delays[0]");
  bad(() => task.centreOut([0], {}, [50]), "delays");
  bad(() => task.reachVariant("delayed" as task.ReachVariant), "variant");
});

test("instructed delay: networks get 4 inputs from the pre-training config; a mismatched network is refused by name", () => {
  const cfg = pretrainConfig({ network: { N: 8 }, reach });
  assert.equal(cfg.network.nIn, 4);
  assert.equal(pretrainConfig({ network: { N: 8 } }).network.nIn, 3);
  assert.throws(() => pretrainConfig({ network: { N: 8, nIn: 3 }, reach }), /network.nIn/);
  const net4 = initNetwork(networkConfig({ N: 8, nIn: 4 }), Rng.seeded(1));
  const net3 = initNetwork(networkConfig({ N: 8 }), Rng.seeded(1));
  const b4 = task.centreOutAll(reach);
  const ro = simulate(net4, b4, { init: Rng.seeded(2) });
  assert.equal(ro.T, 200);
  assert.ok(ro.y.every(Number.isFinite));
  assert.throws(() => simulate(net3, b4, { init: Rng.seeded(2) }), /config.nIn.*3 input channels.*the trials have 4/);
  assert.throws(() => simulate(net4, task.centreOutAll(), { init: Rng.seeded(2) }), /config.nIn/);
  assert.deepEqual(pretrainedReach({ pretrain: cfg }), reach);
  assert.deepEqual(pretrainedReach({ pretrain: pretrainConfig() }), task.reachConfig());
  assert.deepEqual(pretrainedReach({}), task.reachConfig());
});
