import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync } from "child_process";
import { Rng, makeStreams } from "../src/rng";
import * as net from "../src/network";
import * as ck from "../src/checkpoint";

const tmpdir = () => fs.mkdtempSync(path.join(os.tmpdir(), "fbc-ck-"));

test("a network round-trips with its config, rng states, metrics and extra tensors", () => {
  for (const dtype of ["float32", "float64"] as const) {
    const dir = tmpdir();
    const file = path.join(dir, "sub", "net.safetensors");
    const streams = makeStreams(4);
    const n = net.initNetwork({ N: 12, fbDelay: 1 }, streams.weights, dtype);
    streams.trials.uniform();
    const curve = new Float64Array([3, 2.5, 1.25]);
    ck.saveNetwork(file, n, {
      rng: { trials: streams.trials.state() },
      metrics: { loss: [1, 0.5] },
      meta: { seed: 4 },
      tensors: { "curves/loss": { shape: [3], data: curve } },
    });
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ["net.safetensors"], "no temp file left behind");
    const back = ck.loadNetwork(file);
    assert.deepEqual(back.network.config, n.config);
    for (const name of net.PARAM_NAMES) assert.deepEqual(back.network.params[name], n.params[name]);
    assert.equal(back.meta.seed, 4);
    assert.match(String(back.meta.codeVersion), /^([0-9a-f]{12}(\+dirty)?|unknown)$/);
    assert.deepEqual(back.metrics, { loss: [1, 0.5] });
    assert.deepEqual(back.extra["curves/loss"].data, curve);
    const resumed = Rng.fromState(back.rng.trials);
    assert.equal(resumed.uniform(), streams.trials.uniform());
  }
});

function writeBroken(file: string, edit: (bytes: Buffer) => Buffer) {
  const n = net.initNetwork({ N: 6 }, Rng.seeded(1));
  ck.saveNetwork(file, n);
  fs.writeFileSync(file, edit(fs.readFileSync(file)));
}

function withHeader(bytes: Buffer, change: (h: any) => void): Buffer {
  const n = Number(bytes.readBigUInt64LE(0));
  const h = JSON.parse(bytes.subarray(8, 8 + n).toString());
  change(h);
  const json = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, bytes.subarray(8 + n)]);
}

test("an unknown version, a wrong shape or a truncated file gives a clear error naming the file", () => {
  const dir = tmpdir();
  const file = path.join(dir, "bad.safetensors");
  writeBroken(file, (b) => withHeader(b, (h) => (h.__metadata__.format_version = "99")));
  assert.throws(() => ck.loadNetwork(file), (e: Error) => e.message.includes(file) && /unknown format version "99"/.test(e.message));

  writeBroken(file, (b) => withHeader(b, (h) => (h.__metadata__.config = JSON.stringify({ ...JSON.parse(h.__metadata__.config), N: 7 }))));
  assert.throws(() => ck.loadNetwork(file), (e: Error) => e.message.includes(file) && /rnn.weight_ih_l0 has shape \[6,3\], expected \[7,3\]/.test(e.message));

  writeBroken(file, (b) => withHeader(b, (h) => (h["rnn.weight_hh_l0"].shape = [4, 9])));
  assert.throws(() => ck.loadNetwork(file), /rnn.weight_hh_l0 has shape \[4,9\], expected \[6,6\]/);

  writeBroken(file, (b) => b.subarray(0, b.length - 10));
  assert.throws(() => ck.loadNetwork(file), (e: Error) => e.message.includes(file) && /truncated/.test(e.message));
  writeBroken(file, (b) => b.subarray(0, 30));
  assert.throws(() => ck.loadNetwork(file), /truncated: header says/);
  fs.writeFileSync(file, "hello");
  assert.throws(() => ck.loadNetwork(file), /truncated: 5 bytes/);
  fs.writeFileSync(file, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{}")]));
  assert.throws(() => ck.loadNetwork(file), /not an fbcontrol.checkpoint file/);
  assert.throws(() => ck.loadNetwork(path.join(dir, "missing.safetensors")), /missing.safetensors: cannot read \(ENOENT\)/);
});

test("a failed save leaves no file, not even a partial one", () => {
  const dir = tmpdir();
  const file = path.join(dir, "x.safetensors");
  assert.throws(() => ck.saveCheckpoint(file, { kind: "t", config: {}, tensors: { a: { shape: [2, 2], data: new Float32Array(3) } } }), /shape \[2,2\] needs 4 entries/);
  assert.deepEqual(fs.readdirSync(dir), []);
});

const python = "/usr/bin/python3";
const hasNumpy = (() => {
  try {
    execFileSync(python, ["-c", "import numpy"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

test("Python with numpy reads the checkpoint (scripts/load_checkpoint.py)", { skip: hasNumpy ? false : "no /usr/bin/python3 with numpy" }, () => {
  const file = path.join(tmpdir(), "py.safetensors");
  const n = net.initNetwork({ N: 10 }, Rng.seeded(2), "float32");
  ck.saveNetwork(file, n, { metrics: { final: 0.25 }, rng: { init: Rng.seeded(2, "init").state() } });
  const script = path.join(__dirname, "..", "..", "scripts", "load_checkpoint.py");
  const out = JSON.parse(execFileSync(python, [script, file, "--json"], { encoding: "utf8" }));
  for (const name of net.PARAM_NAMES) {
    const t = out.tensors[ck.TORCH_NAMES[name]];
    assert.deepEqual(t.shape, net.paramShapes(n.config)[name]);
    assert.equal(t.dtype, "float32");
    const sum = Array.from(n.params[name]).reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(t.sum - sum) < 1e-9 * Math.max(1, Math.abs(sum)) + 1e-12, `${name}: ${t.sum} vs ${sum}`);
  }
  assert.equal(out.meta.config.N, 10);
  assert.deepEqual(out.meta.metrics, { final: 0.25 });
  assert.equal(out.meta.rng.init.stream, "init");
});

test("a missing file is reported with the absolute path tried, and a relative project path with its dataPath call", () => {
  const cwd = process.cwd();
  try {
    process.chdir(path.join(__dirname, "..", "..", "notebooks")); // where notebooks run
    assert.throws(
      () => ck.loadNetwork("data/pretrained/pretrain-fb-seed1.safetensors"),
      (e: Error) =>
        e.message.includes(`tried ${path.resolve("data/pretrained/pretrain-fb-seed1.safetensors")}`) &&
        e.message.includes('use dataPath("pretrained", "pretrain-fb-seed1.safetensors")'),
    );
  } finally {
    process.chdir(cwd);
  }
  assert.throws(() => ck.loadNetwork("/nonexistent/x.safetensors"), /checkpoint \/nonexistent\/x\.safetensors: cannot read \(ENOENT\)$/);
});
