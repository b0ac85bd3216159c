/**
 * Plugin files: a user's module (TypeScript or JavaScript) that registers rules, perturbations or target
 * sets (rules.registerRule, perturbation.registerPerturbation, targets.registerTargetSet). The
 * command-line tools load them with `--plugin <file>` and sweep grids with `"plugins": [...]`;
 * everything a plugin registers records the file and the SHA-256 of its bytes, so that a result computed
 * with another version of the plugin is refused rather than reused.
 *
 *   // my-rules.ts
 *   import { rules } from "fbcontrol";
 *   rules.registerRule({ name: "myrule", description: "...", create: (o) => new MyRule(o) });
 */
import * as fs from "fs";
import * as path from "path";
import { sha256File } from "./provenance";
import { projectPath } from "./paths";
import { Source, setLoadingSource } from "./registry";
import { ruleRegistry } from "./rules/registry";
import { perturbationRegistry } from "./perturbation";
import { targetSetRegistry } from "./targets";
import { feedbackRuleRegistry } from "./feedbackRules";
import { measureRegistry } from "./measures";
import { plantRegistry } from "./plant";
import { ParameterError } from "./validate";

/** What a plugin registered. */
export interface LoadedPlugin {
  /**
   * The plugin's path as recorded in results: relative to the project root when inside it, else absolute (or
   * `shownAs`).
   */
  file: string;
  /** SHA-256 of the file's bytes, hex. */
  sha256: string;
  /** Names of the learning rules it registered. */
  rules: string[];
  /** Names of the perturbations it registered. */
  perturbations: string[];
  /** Names of the target sets it registered. */
  targetSets: string[];
  /** Names of the feedback rules it registered. */
  feedbackRules: string[];
  /** Names of the measures it registered. */
  measures: string[];
  /** Names of the plants it registered. */
  plants: string[];
}

const loaded = new Map<string, LoadedPlugin>();

/**
 * Loads a plugin file once (by its absolute path) and returns what it registered. `shownAs` is the path
 * recorded in results (default: relative to the working folder). A file that cannot be loaded gives one
 * line naming it and the cause. TypeScript plugins load through tsx where no TypeScript loader is active.
 */
export function loadPlugin(file: string, shownAs?: string): LoadedPlugin {
  // A relative path is taken from the working folder, or else from the project root (a notebook runs in notebooks/).
  const fromRoot = projectPath(file);
  const abs = path.isAbsolute(file) || fs.existsSync(path.resolve(file)) || !fs.existsSync(fromRoot) ? path.resolve(file) : fromRoot;
  const known = loaded.get(abs);
  if (known) return known;
  if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) throw new ParameterError("plugin", `${file}: no such file`);
  const sha256 = sha256File(abs);
  // Recorded relative to the project root when inside it (so that it does not depend on the working folder).
  const inProject = path.relative(projectPath(), abs);
  const source: Source = { kind: "plugin", file: shownAs ?? (inProject.startsWith("..") || path.isAbsolute(inProject) ? abs : inProject), sha256 };
  setLoadingSource(source);
  try {
    // A TypeScript plugin where no TypeScript loader is active (a notebook kernel, plain node): tsx's require.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    if (/\.[cm]?ts$/.test(abs) && !require.extensions[".ts"]) require("tsx/cjs/api").require(abs, __filename);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    else require(abs);
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new ParameterError("plugin", `${file} could not be loaded: ${msg}`);
  } finally {
    setLoadingSource(null);
  }
  const mine = (reg: { names(): string[]; source(n: string): Source }) =>
    reg.names().filter((n) => {
      const s = reg.source(n);
      return s.kind === "plugin" && s.sha256 === sha256 && s.file === source.file;
    });
  const out: LoadedPlugin = {
    file: source.file, sha256, rules: mine(ruleRegistry), perturbations: mine(perturbationRegistry), targetSets: mine(targetSetRegistry),
    feedbackRules: mine(feedbackRuleRegistry), measures: mine(measureRegistry), plants: mine(plantRegistry),
  };
  if (![out.rules, out.perturbations, out.targetSets, out.feedbackRules, out.measures, out.plants].some((names) => names.length)) {
    throw new ParameterError("plugin", `${file} registered nothing (call rules.registerRule, perturbation.registerPerturbation, targets.registerTargetSet, feedbackRules.registerFeedbackRule, measures.registerMeasure or plant.registerPlant in it)`);
  }
  loaded.set(abs, out);
  return out;
}

/**
 * The --plugin files of a command line (`--plugin a.ts,b.ts` or `--plugin=a.ts`), loaded before the
 * command line is parsed, so that --help and the option checks know what they registered.
 */
export function loadPluginsFromArgv(argv: readonly string[]): LoadedPlugin[] {
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--plugin" && i + 1 < argv.length) files.push(...argv[++i].split(","));
    else if (argv[i].startsWith("--plugin=")) files.push(...argv[i].slice("--plugin=".length).split(","));
  }
  return files.filter((f) => f.trim()).map((f) => loadPlugin(f.trim()));
}
