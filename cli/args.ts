/**
 * Command-line manners shared by every CLI: typed options with defaults, `--help`, one-line errors.
 *
 * - `--help` lists every option with its default and exits 0.
 * - A bad argument prints one line naming it and the allowed values, and exits 2. Values are taken
 *   verbatim after their option (`--trials -5`, `--trials=-5`), so negative numbers reach the real check.
 * - Refusals (a request that would overwrite or reuse something it must not) exit 2 as well, with the reason.
 * - A failed write (`WriteError`: full disk, no permission, ...) prints its one line, which names the file,
 *   its folder and the cause, and exits 1: the request was fine, so the same command works once there is room.
 * - A learning rule that fails (`RuleError`: it threw, or returned a non-finite norm) prints one line naming
 *   the rule, the trial and the step, and exits 1.
 * - Any other error prints one line (the message) and exits 1; `--debug` adds the stack trace.
 */
import { ParameterError } from "../lib/src/validate";
import { WriteError } from "../lib/src/checkpoint";
import { RuleError } from "../lib/src/adapt";
import { loadPluginsFromArgv } from "../lib/src/plugin";

/** A bad command line: printed as one line, exit status 2. */
/**
 * Loads the --plugin files of `argv` (lib/src/plugin.ts) before the command line is parsed, so that what
 * they register is known to the options and --help; a plugin that fails to load ends the command with one line.
 */
export function loadPluginsOrExit(prog: string, argv: readonly string[]): void {
  try {
    loadPluginsFromArgv(argv);
  } catch (e) {
    process.stderr.write(`${prog}: ${e instanceof Error ? e.message : String(e)}\n`);
    if (argv.includes("--debug") && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exit(2);
  }
}

export class UsageError extends Error {
  override name = "UsageError";
}

/** A request the tool will not carry out as given (it would overwrite or reuse the wrong thing): exit 2. */
export class Refusal extends Error {
  override name = "Refusal";
}

export interface Option<T> {
  help: string;
  /** Placeholder shown in --help, e.g. "<int>"; absent for flags. */
  value?: string;
  default: T;
  parse(raw: string, flag: string): T;
  /** How the default is shown in --help (default: its JSON). */
  shown?: string;
}

type Values<S> = { [K in keyof S]: S[K] extends Option<infer T> ? T : never };

const bad = (flag: string, allowed: string, raw: string) => new UsageError(`${flag}: must be ${allowed}, got ${JSON.stringify(raw)}`);

function range(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return ` in [${min}, ${max}]`;
  if (min !== undefined) return ` >= ${min}`;
  if (max !== undefined) return ` <= ${max}`;
  return "";
}

function parseNumber(raw: string, flag: string, integer: boolean, min?: number, max?: number, above?: number): number {
  const what = (integer ? "an integer" : "a number") + (above !== undefined ? ` > ${above}` : range(min, max));
  const n = raw.trim() === "" ? NaN : Number(raw);
  const ok =
    Number.isFinite(n) &&
    (!integer || Number.isInteger(n)) &&
    (min === undefined || n >= min) &&
    (max === undefined || n <= max) &&
    (above === undefined || n > above);
  if (!ok) throw bad(flag, what, raw);
  return n;
}

export const opt = {
  int<D extends number | undefined>(help: string, dflt: D, min?: number, max?: number): Option<number | D> {
    return { help, value: "<int>", default: dflt, parse: (raw, flag) => parseNumber(raw, flag, true, min, max) };
  },
  /** A finite number; `above` makes the bound exclusive (e.g. a learning rate > 0). */
  num<D extends number | undefined>(help: string, dflt: D, bounds: { min?: number; max?: number; above?: number } = {}): Option<number | D> {
    return { help, value: "<number>", default: dflt, parse: (raw, flag) => parseNumber(raw, flag, false, bounds.min, bounds.max, bounds.above) };
  },
  str<D extends string | undefined>(help: string, dflt: D, value = "<text>"): Option<string | D> {
    return {
      help,
      value,
      default: dflt,
      parse: (raw, flag) => {
        if (raw === "") throw bad(flag, "a non-empty value", raw);
        return raw;
      },
    };
  },
  choice<T extends string, D extends T | undefined>(help: string, values: readonly T[], dflt: D): Option<T | D> {
    return {
      help,
      value: `<${values.join("|")}>`,
      default: dflt,
      parse: (raw, flag) => {
        if (!(values as readonly string[]).includes(raw)) throw bad(flag, `one of ${values.join(", ")}`, raw);
        return raw as T;
      },
    };
  },
  /** A comma-separated list, each item parsed by `item` (e.g. "1,2,3"); duplicates are an error. */
  list<T>(help: string, item: Option<T>, dflt: T[], value = "<a,b,...>"): Option<T[]> {
    return {
      help,
      value,
      default: dflt,
      shown: dflt.join(","),
      parse: (raw, flag) => {
        const items = raw.split(",").map((s) => item.parse(s.trim(), `${flag} (item ${JSON.stringify(s.trim())})`));
        if (items.length === 0 || raw.trim() === "") throw bad(flag, "a non-empty comma-separated list", raw);
        if (new Set(items.map(String)).size !== items.length) throw bad(flag, "a list without repeated items", raw);
        return items;
      },
    };
  },
  flag(help: string): Option<boolean> {
    return { help, default: false, parse: () => true };
  },
};

export interface CliSpec<S extends Record<string, Option<unknown>>> {
  /** How it is invoked, e.g. "npm run pretrain --". */
  usage: string;
  /** What it does, a few lines, printed at the top of --help. */
  about: string;
  options: S;
  /** Positional arguments: their names for --help and how many are allowed. */
  positionals?: { names: string; min: number; max: number };
}

export interface Parsed<S> {
  values: Values<S>;
  positionals: string[];
  /** Which options the command line set explicitly. */
  given: Set<keyof S>;
  debug: boolean;
}

const BUILTIN = {
  help: opt.flag("print this help and exit"),
  debug: opt.flag("print stack traces of errors"),
};

export function helpText<S extends Record<string, Option<unknown>>>(spec: CliSpec<S>): string {
  const all = { ...spec.options, ...BUILTIN } as Record<string, Option<unknown>>;
  const rows = Object.entries(all).map(([name, o]) => {
    const left = `  --${name}${o.value ? ` ${o.value}` : ""}`;
    const shown = o.shown ?? (o.default === undefined ? undefined : typeof o.default === "string" ? o.default : JSON.stringify(o.default));
    const dflt = o.value === undefined || shown === undefined ? "" : ` (default: ${shown})`;
    return [left, o.help + dflt] as const;
  });
  const width = Math.min(36, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = rows.map(([l, r]) => (l.length + 2 > width ? `${l}\n${" ".repeat(width)}${r}` : l.padEnd(width) + r));
  const pos = spec.positionals ? ` ${spec.positionals.names}` : "";
  return `usage: ${spec.usage} [options]${pos}\n\n${spec.about.trim()}\n\noptions:\n${lines.join("\n")}\n\nexit status: 0 done, 1 runtime error, 2 bad argument or refused request, 130 interrupted (state saved)\n`;
}

export function parseCommandLine<S extends Record<string, Option<unknown>>>(spec: CliSpec<S>, argv: string[]): Parsed<S> | "help" {
  const all = { ...spec.options, ...BUILTIN } as Record<string, Option<unknown>>;
  const values: Record<string, unknown> = Object.fromEntries(Object.entries(spec.options).map(([k, o]) => [k, o.default]));
  const given = new Set<keyof S>();
  const positionals: string[] = [];
  let debug = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--") || arg === "--") {
      if (arg === "--") continue;
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const o = all[name];
    if (!o) {
      const close = Object.keys(all).filter((k) => k.startsWith(name.slice(0, 3)) || name.startsWith(k.slice(0, 3)));
      throw new UsageError(`unknown option --${name}${close.length ? ` (did you mean ${close.map((c) => `--${c}`).join(", ")}?)` : ""}`);
    }
    if (name === "help") return "help";
    if (name === "debug") {
      debug = true;
      continue;
    }
    let raw: string;
    if (o.value === undefined) {
      if (eq >= 0) throw new UsageError(`--${name}: is a flag and takes no value, got ${JSON.stringify(arg.slice(eq + 1))}`);
      raw = "";
    } else if (eq >= 0) {
      raw = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name}: needs a value ${o.value}`);
      raw = argv[++i];
    }
    if (given.has(name as keyof S)) throw new UsageError(`--${name}: given twice`);
    values[name] = o.parse(raw, `--${name}`);
    given.add(name as keyof S);
  }
  const p = spec.positionals ?? { names: "", min: 0, max: 0 };
  if (positionals.length < p.min || positionals.length > p.max) {
    const want = p.max === 0 ? "no positional arguments" : p.min === p.max ? `${p.min} argument(s) ${p.names}` : `${p.min}-${p.max} arguments ${p.names}`;
    throw new UsageError(`expected ${want}, got ${positionals.length ? positionals.map((s) => JSON.stringify(s)).join(" ") : "none"}`);
  }
  return { values: values as Values<S>, positionals, given, debug };
}

/**
 * Parses the command line and runs `main`, with the manners above. `main` may be async; its errors are
 * reported the same way. Exits the process when main fails; returns normally when it succeeds.
 */
export function runCli<S extends Record<string, Option<unknown>>>(spec: CliSpec<S>, main: (args: Parsed<S>) => Promise<void> | void): void {
  const prog = spec.usage.replace(/ --$/, "");
  const argv = process.argv.slice(2);
  const debug = argv.includes("--debug");
  const fail = (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    const usage = e instanceof UsageError || e instanceof Refusal || e instanceof ParameterError;
    const text = e instanceof UsageError || e instanceof ParameterError ? `${e.message} (--help lists the options)` : e.message;
    process.stderr.write(`${prog}: ${usage ? "" : "error: "}${text}\n`);
    if (debug && e.stack) process.stderr.write(`${e.stack}\n`);
    else if (!usage && !(e instanceof WriteError) && !(e instanceof RuleError)) process.stderr.write(`(run with --debug for the stack trace)\n`);
    process.exit(usage ? 2 : 1);
  };
  let parsed: Parsed<S> | "help";
  try {
    parsed = parseCommandLine(spec, argv);
  } catch (err) {
    return fail(err);
  }
  if (parsed === "help") {
    process.stdout.write(helpText(spec));
    process.exit(0);
  }
  try {
    Promise.resolve(main(parsed)).catch(fail);
  } catch (err) {
    fail(err);
  }
}

/**
 * Ctrl-C / SIGTERM for a long loop: the signal only sets a flag; `interrupted()` yields to the event loop
 * (so that signals are delivered) and reports whether the loop should save and stop.
 */
export function interruptible(): { interrupted(): Promise<boolean> } {
  let stopping = false;
  process.on("SIGINT", () => (stopping = true));
  process.on("SIGTERM", () => (stopping = true));
  return { interrupted: () => new Promise<boolean>((resolve) => setImmediate(() => resolve(stopping))) };
}
