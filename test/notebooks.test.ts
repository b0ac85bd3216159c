// Executes every notebook in quick mode (FBC_MODE=quick) on a fresh tslab kernel via scripts/run_notebooks.py.
// Needs `npm run setup` (Debian Jupyter, the project-local kernel) and a built lib (`npm test` builds it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";

const repo = resolve(__dirname, "..");
const dir = join(repo, "notebooks");
const notebooks = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort() : [];

if (notebooks.length === 0) {
  test("notebooks folder exists", () => {
    assert.ok(existsSync(dir), `missing ${dir}`);
  });
}

for (const nb of notebooks) {
  test(`notebook ${nb} runs in quick mode`, () => {
    const run = spawnSync("/usr/bin/python3", ["scripts/run_notebooks.py", "--mode", "quick", join("notebooks", nb)], {
      cwd: repo,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (run.error) throw run.error;
    assert.equal(run.status, 0, `${nb} failed (exit ${run.status}):\n${run.stdout}${run.stderr}`);
  });
}
