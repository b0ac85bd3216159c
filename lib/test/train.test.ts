import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Pretrainer, pretrainConfig, curves } from "../src/train";
import { PARAM_NAMES } from "../src/network";

const small = (batches: number) =>
  pretrainConfig({ seed: 5, batches, batchSize: 8, evalEvery: 2, testTrials: 4, network: { N: 12 } });

test("an interrupted and resumed run ends bit-identical to an uninterrupted one", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fbc-train-"));
  const straight = Pretrainer.create(small(6));
  while (straight.done < 6) straight.step();

  const first = Pretrainer.create(small(6));
  for (let i = 0; i < 3; i++) first.step();
  const file = path.join(dir, "run.safetensors");
  first.save(file);
  const resumed = Pretrainer.resume(file);
  assert.equal(resumed.done, 3);
  while (resumed.done < 6) resumed.step();

  for (const name of PARAM_NAMES) assert.deepEqual(resumed.net.params[name], straight.net.params[name], name);
  assert.deepEqual(resumed.trainCurve.map((r) => r.slice(0, 6)), straight.trainCurve.map((r) => r.slice(0, 6)));
  assert.deepEqual(resumed.evalCurve, straight.evalCurve);
  resumed.save(file);
  const c = curves(file);
  assert.deepEqual(Array.from(c.train.batch), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(c.eval.batch), [2, 4, 6]);
});

test("training lowers the loss, and W_fb stays frozen without feedback", () => {
  const fb = Pretrainer.create(pretrainConfig({ seed: 1, batches: 40, batchSize: 16, evalEvery: 40, network: { N: 24 } }));
  const first = fb.step().value.total;
  let last = first;
  while (fb.done < 40) last = fb.step().value.total;
  assert.ok(last < 0.7 * first, `loss ${first} -> ${last}`);

  const nofb = Pretrainer.create(pretrainConfig({ seed: 1, batches: 5, batchSize: 8, evalEvery: 5, network: { N: 12, fbDensity: 0 } }));
  const wFb = Float32Array.from(nofb.net.params.wFb);
  const wRec = Float32Array.from(nofb.net.params.wRec);
  while (nofb.done < 5) nofb.step();
  assert.deepEqual(nofb.net.params.wFb, wFb);
  assert.notDeepEqual(nofb.net.params.wRec, wRec);
});

test("bad pre-training settings are rejected by name", () => {
  assert.throws(() => pretrainConfig({ batchSize: 0 }), /batchSize: must be an integer >= 1/);
  assert.throws(() => pretrainConfig({ clipNorm: -1 }), /clipNorm/);
  assert.throws(() => pretrainConfig({ task: "pushed" as never }), /task: must be one of/);
  assert.throws(() => pretrainConfig({ network: { N: 0 } }), /N: must be an integer >= 1/);
});
