/**
 * Every shipped artifact says which code made it. This test lists each artifact under data/ whose
 * recorded code version is not a clean commit (a "+dirty" tree, "unknown", or missing), and fails unless
 * data/README.md names exactly those artifacts under "Artifacts whose provenance is dirty", with what
 * produced them. A regenerated artifact therefore has to leave that list too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { loadCheckpoint } from "../lib/src/checkpoint";
import { dataPath } from "../lib/src/paths";
import { isCleanVersion } from "../lib/src/provenance";

/** The code versions an artifact records: its own and, for resumed runs, each session's. */
function versions(file: string): unknown[] {
  let meta: Record<string, any>;
  if (file.endsWith(".safetensors")) meta = loadCheckpoint(file).meta ?? {};
  else if (file.endsWith(".json")) meta = JSON.parse(fs.readFileSync(file, "utf8"));
  else return [];
  const sessions = Array.isArray(meta.sessions) ? meta.sessions.map((s: { codeVersion?: unknown }) => s.codeVersion) : [];
  return [meta.codeVersion, ...sessions];
}

function artifacts(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? artifacts(p) : /\.(json|safetensors)$/.test(e.name) ? [p] : [];
  });
}

test("shipped artifacts record a clean commit, or data/README.md lists them as dirty", () => {
  const dirty = artifacts(dataPath())
    .filter((f) => !versions(f).every(isCleanVersion))
    .map((f) => path.relative(dataPath(), f))
    .sort();
  const readme = fs.readFileSync(dataPath("README.md"), "utf8");
  const section = readme.split(/^## /m).find((s) => s.startsWith("Artifacts whose provenance is dirty")) ?? "";
  const declared = [...section.matchAll(/^- `([^`]+)`/gm)].map((m) => m[1]).sort();
  if (dirty.length) console.log(`shipped artifacts with dirty provenance:\n  ${dirty.join("\n  ")}`);
  assert.deepEqual(declared, dirty, "data/README.md must list exactly the artifacts whose provenance is dirty");
});
