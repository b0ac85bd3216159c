/**
 * writeFileAtomic when a write fails: whatever step fails (folder, open, write, fsync, close, rename),
 * no temporary file stays in the folder, a file that existed is left as it was, and the error is one
 * WriteError line naming the file, its folder and the cause, with the cause's `code`.
 *
 * The failures are injected by replacing one function of Node's `fs` module (node:test's mock.method)
 * for the duration of one call: checkpoint.ts calls them as properties of that module object, so this
 * works as root and on any file system (a read-only folder would not stop root; a tiny tmpfs needs mount).
 */
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { WriteError, writeFileAtomic } from "../src/checkpoint";

const tmpdir = () => fs.mkdtempSync(path.join(os.tmpdir(), "fbc-atomic-"));

/** An error shaped like Node's own fs errors (code, errno, syscall, path in the message). */
function fsError(code: string, errno: number, description: string, syscall: string, file?: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: ${description}, ${syscall}${file ? ` '${file}'` : ""}`);
  Object.assign(e, { code, errno: -errno, syscall, ...(file ? { path: file } : {}) });
  return e;
}

const original = {
  writeFileSync: fs.writeFileSync,
  closeSync: fs.closeSync,
  rmSync: fs.rmSync,
};

/** Each step of the write, made to fail as it would on a real system. */
const failures: { step: string; code: string; why: string; inject(): void }[] = [
  {
    step: "folder",
    code: "EACCES",
    why: "EACCES: permission denied, mkdir",
    inject: () => mock.method(fs, "mkdirSync", (p: string) => { throw fsError("EACCES", 13, "permission denied", "mkdir", p); }),
  },
  {
    step: "open",
    code: "EMFILE",
    why: "EMFILE: too many open files, open",
    inject: () => mock.method(fs, "openSync", (p: string) => { throw fsError("EMFILE", 24, "too many open files", "open", p); }),
  },
  {
    // A full disk: part of the bytes reach the temp file, then ENOSPC.
    step: "write",
    code: "ENOSPC",
    why: "ENOSPC: no space left on device, write",
    inject: () =>
      mock.method(fs, "writeFileSync", (fd: number, bytes: Uint8Array | string) => {
        original.writeFileSync(fd, typeof bytes === "string" ? bytes.slice(0, 3) : bytes.subarray(0, 3));
        throw fsError("ENOSPC", 28, "no space left on device", "write");
      }),
  },
  {
    step: "fsync",
    code: "EIO",
    why: "EIO: i/o error, fsync",
    inject: () => mock.method(fs, "fsyncSync", () => { throw fsError("EIO", 5, "i/o error", "fsync"); }),
  },
  {
    // NFS reports a failed flush at close; the descriptor is closed nevertheless.
    step: "close",
    code: "EDQUOT",
    why: "EDQUOT: disk quota exceeded, close",
    inject: () =>
      mock.method(fs, "closeSync", (fd: number) => {
        original.closeSync(fd);
        throw fsError("EDQUOT", 122, "disk quota exceeded", "close");
      }),
  },
  {
    step: "rename",
    code: "EACCES",
    why: "EACCES: permission denied, rename",
    inject: () =>
      mock.method(fs, "renameSync", (from: string, to: string) => {
        const e = fsError("EACCES", 13, "permission denied", "rename", from);
        e.message += ` -> '${to}'`;
        Object.assign(e, { dest: to });
        throw e;
      }),
  },
];

for (const f of failures) {
  test(`a failure at ${f.step} (${f.code}) leaves no temp file, keeps the old file, and throws one WriteError line`, (t) => {
    const dir = tmpdir();
    const file = path.join(dir, "run.partial.safetensors");
    fs.writeFileSync(file, "old contents");
    const before = fs.readdirSync(dir).sort();
    const opened: string[] = [];
    const openSync = fs.openSync;
    if (f.step !== "open") {
      mock.method(fs, "openSync", (p: string, flags: string) => {
        opened.push(p);
        return openSync(p, flags);
      });
    }
    f.inject();
    t.after(() => mock.restoreAll());
    let caught: unknown;
    try {
      writeFileAtomic(file, Buffer.from("new contents"));
    } catch (e) {
      caught = e;
    }
    mock.restoreAll();
    assert.ok(caught instanceof WriteError, `expected a WriteError, got ${caught}`);
    assert.ok(caught instanceof Error);
    const err = caught as WriteError;
    assert.equal(err.code, f.code, "the cause's code is kept");
    assert.equal(err.file, file);
    assert.equal(err.dir, dir);
    assert.equal(err.name, "WriteError");
    assert.equal((err.cause as NodeJS.ErrnoException).code, f.code, "the original error is the cause");
    assert.doesNotMatch(err.message, /\n/, "one line");
    assert.equal(err.message, `could not write ${file} (folder ${dir}): ${f.why}; nothing was left behind`);
    assert.doesNotMatch(err.message, /\.tmp/, "the temp file's path is not in the message");
    if (f.step !== "folder" && f.step !== "open") assert.equal(opened.length, 1, "the temp file was created");
    for (const p of opened) assert.match(path.basename(p), /^run\.partial\.safetensors\.\d+\.\d+\.tmp$/);
    assert.deepEqual(fs.readdirSync(dir).sort(), before, "no temp file remains in the folder");
    assert.equal(fs.readFileSync(file, "utf8"), "old contents", "the existing file is unchanged");
  });
}

test("the ENOSPC message reads as the issue asks: file, folder, cause, nothing left behind", (t) => {
  const dir = tmpdir();
  const file = path.join(dir, "x.safetensors");
  mock.method(fs, "writeFileSync", () => { throw fsError("ENOSPC", 28, "no space left on device", "write"); });
  t.after(() => mock.restoreAll());
  assert.throws(
    () => writeFileAtomic(file, "data"),
    (e: unknown) => {
      assert.ok(e instanceof WriteError);
      assert.equal(e.message, `could not write ${file} (folder ${dir}): ENOSPC: no space left on device, write; nothing was left behind`);
      return true;
    },
  );
  mock.restoreAll();
  assert.deepEqual(fs.readdirSync(dir), [], "no file at all: neither the destination nor a temp file");
});

test("a path inside the working folder is shown relative to it", (t) => {
  const cwd = process.cwd();
  const dir = tmpdir();
  process.chdir(dir);
  t.after(() => process.chdir(cwd));
  mock.method(fs, "fsyncSync", () => { throw fsError("EIO", 5, "i/o error", "fsync"); });
  t.after(() => mock.restoreAll());
  assert.throws(() => writeFileAtomic(path.join("runs", "adapt", "x.safetensors"), "data"), {
    name: "WriteError",
    message: "could not write runs/adapt/x.safetensors (folder runs/adapt): EIO: i/o error, fsync; nothing was left behind",
  });
  mock.restoreAll();
  assert.deepEqual(fs.readdirSync(path.join(dir, "runs", "adapt")), []);
});

test("without injection: a destination that is a folder fails at rename (also as root), and the temp file goes", () => {
  const dir = tmpdir();
  const file = path.join(dir, "summary.json");
  fs.mkdirSync(file);
  assert.throws(() => writeFileAtomic(file, "{}\n"), (e: unknown) => {
    assert.ok(e instanceof WriteError);
    assert.match(e.code ?? "", /^(EISDIR|ENOTEMPTY|EEXIST)$/);
    assert.match(e.message, new RegExp(`^could not write ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\(folder .*\\): E[A-Z]+: .*, rename; nothing was left behind$`));
    return true;
  });
  assert.deepEqual(fs.readdirSync(dir), ["summary.json"], "only the folder that was there");
  assert.deepEqual(fs.readdirSync(file), []);
});

test("without injection: a folder path through a regular file fails at the folder step (ENOTDIR)", () => {
  const dir = tmpdir();
  fs.writeFileSync(path.join(dir, "plain"), "");
  const file = path.join(dir, "plain", "sub", "x.csv");
  assert.throws(() => writeFileAtomic(file, "a\n1\n"), { name: "WriteError", code: "ENOTDIR" });
  assert.deepEqual(fs.readdirSync(dir), ["plain"]);
});

test("if even the temp file cannot be removed, the message names it instead of claiming nothing was left", (t) => {
  const dir = tmpdir();
  const file = path.join(dir, "x.safetensors");
  mock.method(fs, "renameSync", () => { throw fsError("EIO", 5, "i/o error", "rename"); });
  mock.method(fs, "rmSync", () => { throw fsError("EIO", 5, "i/o error", "unlink"); });
  t.after(() => mock.restoreAll());
  let err: WriteError | undefined;
  try {
    writeFileAtomic(file, "data");
  } catch (e) {
    err = e as WriteError;
  }
  mock.restoreAll();
  assert.ok(err instanceof WriteError);
  assert.equal(err.code, "EIO");
  const left = fs.readdirSync(dir);
  assert.equal(left.length, 1);
  assert.match(left[0], /^x\.safetensors\.\d+\.\d+\.tmp$/);
  assert.equal(err.leftBehind, path.join(dir, left[0]));
  assert.equal(err.message, `could not write ${file} (folder ${dir}): EIO: i/o error, rename; the temporary file ${path.join(dir, left[0])} could not be removed, delete it by hand`);
  original.rmSync(path.join(dir, left[0]));
});

test("successful writes leave only the file, and each uses a fresh temp name", (t) => {
  const dir = tmpdir();
  const file = path.join(dir, "x.csv");
  const temps: string[] = [];
  const renameSync = fs.renameSync;
  mock.method(fs, "renameSync", (from: string, to: string) => {
    temps.push(from);
    renameSync(from, to);
  });
  t.after(() => mock.restoreAll());
  writeFileAtomic(file, "a\n1\n");
  writeFileAtomic(file, "a\n2\n");
  mock.restoreAll();
  assert.equal(new Set(temps).size, 2);
  assert.deepEqual(fs.readdirSync(dir), ["x.csv"]);
  assert.equal(fs.readFileSync(file, "utf8"), "a\n2\n");
});
