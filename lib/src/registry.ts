/**
 * Named, user-extensible components: learning rules (rules/registry.ts), perturbations (perturbation.ts)
 * and target sets (targets.ts). Each kind has one registry of definitions; a definition makes a fresh
 * component from plain-JSON options, which results record. Users register their own from a notebook
 * cell, or from a plugin file that the command-line tools load (`--plugin file.ts`, plugin.ts).
 *
 * The registries live on globalThis, so that a plugin that imports the compiled package ("fbcontrol")
 * and a command-line tool that imports the sources share them.
 */
import { ParameterError } from "./validate";

/** Options a component is created with: plain JSON values, recorded with every result it produces. */
export type OptionValues = Record<string, unknown>;

/** Where a definition comes from: recorded beside results, so that results of another version are refused. */
export type Source =
  | {
      /** Shipped with the lib. */
      kind: "built-in";
    }
  /** A plugin file loaded by `loadPlugin` (the path as given, and the SHA-256 of its bytes). */
  | {
      /** Registered by a plugin file while `loadPlugin` loaded it. */
      kind: "plugin";
      /** The plugin's path as recorded in results (see plugin.LoadedPlugin.file). */
      file: string;
      /** SHA-256 of the plugin file's bytes, hex. */
      sha256: string;
    }
  /** Defined in this process (a notebook cell, a test): nothing outside the process identifies it. */
  | {
      /** Registered in this process outside a plugin file. */
      kind: "session";
    };

/** A named component: how to make a fresh one from options, and what it is. */
export interface Definition<T> {
  /** Lower-case letters, digits and "_", starting with a letter (it appears in labels and file names). */
  name: string;
  /** One line, shown by the command-line tools' --help. */
  description: string;
  /** A fresh component with these options (the given ones merged over `defaults`). */
  create(options: OptionValues): T;
  /** The options and their defaults. When given, other option names are refused. */
  defaults?: OptionValues;
  /** Filled in on registration: built-in, a plugin file and its hash, or this session. */
  source?: Source;
}

const LOADING = Symbol.for("fbcontrol.registry.loading");
const NAME = /^[a-z][a-z0-9_]*$/;

/** The plugin file whose registrations are under way (set by plugin.loadPlugin). */
export function setLoadingSource(source: Source | null): void {
  (globalThis as unknown as Record<symbol, Source | null>)[LOADING] = source;
}
function loadingSource(): Source | null {
  return (globalThis as unknown as Record<symbol, Source | null | undefined>)[LOADING] ?? null;
}

/** The options as JSON would store them; refuses values that do not survive the round trip. */
export function plainOptions(field: string, options: OptionValues): OptionValues {
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw new ParameterError(field, "must be an object of option values");
  const json = JSON.stringify(options);
  if (JSON.stringify(JSON.parse(json)) !== json) throw new ParameterError(field, "must be plain JSON values (numbers, strings, booleans, lists, objects)");
  return JSON.parse(json) as OptionValues;
}

/** One kind's registry ("rule", "perturbation", "target set"). */
export class Registry<T, D extends Definition<T> = Definition<T>> {
  private readonly defs: Map<string, D & { source: Source }>;

  /**
   * @param kind the kind of component, as error messages and `--help` name it ("rule", "perturbation", "target set")
   * @param check validates what `create` returned (one-line errors naming the component)
   */
  constructor(readonly kind: string, private readonly check: (made: unknown, what: string) => void = () => {}) {
    const key = Symbol.for(`fbcontrol.registry.${kind}`);
    const g = globalThis as unknown as Record<symbol, Map<string, D & { source: Source }> | undefined>;
    this.defs = g[key] ??= new Map();
  }

  /**
   * Registers a definition under its name. Built-in names cannot be taken; a user definition registered
   * again under the same name replaces the earlier one (re-running a notebook cell), and results record
   * which one ran (its source).
   */
  register(def: D): void {
    const k = this.kind;
    if (typeof def !== "object" || def === null) throw new ParameterError(k, `a ${k} definition must be an object { name, description, create }`);
    if (typeof def.name !== "string" || !NAME.test(def.name)) {
      throw new ParameterError(`${k}.name`, `must be lower-case letters, digits and _ starting with a letter, got ${JSON.stringify(def.name)}`);
    }
    if (typeof def.create !== "function") throw new ParameterError(`${k} ${def.name}`, "needs create(options), a function that returns a fresh one");
    if (typeof def.description !== "string" || !def.description) throw new ParameterError(`${k} ${def.name}`, "needs a one-line description");
    if (def.defaults !== undefined) plainOptions(`${k} ${def.name} defaults`, def.defaults);
    const source: Source = def.source ?? loadingSource() ?? { kind: "session" };
    const old = this.defs.get(def.name);
    if (old && old.source.kind === "built-in" && source.kind !== "built-in") {
      throw new ParameterError(`${k} ${def.name}`, `is built in and cannot be replaced; register yours under another name`);
    }
    this.defs.set(def.name, { ...def, source });
  }

  /** Every registered name, built-in ones first. */
  names(): string[] {
    const all = [...this.defs.values()];
    return [...all.filter((d) => d.source.kind === "built-in"), ...all.filter((d) => d.source.kind !== "built-in")].map((d) => d.name);
  }

  /** A registered definition; a one-line error listing the registered names otherwise. */
  get(name: string): D & {
    /** Where the definition came from (filled in on registration). */
    source: Source;
  } {
    const def = typeof name === "string" ? this.defs.get(name) : undefined;
    if (!def) {
      const names = this.names().map((n) => JSON.stringify(n)).join(", ");
      throw new ParameterError(this.kind, `must be one of ${names} (or one registered in this session or loaded with --plugin), got ${JSON.stringify(name)}`);
    }
    return def;
  }

  /** The options a component is made with: its defaults overridden by `given`; unknown names refused. */
  options(name: string, given: OptionValues = {}): OptionValues {
    const def = this.get(name);
    const field = `${this.kind} ${name} options`;
    plainOptions(field, given);
    if (def.defaults !== undefined) {
      for (const key of Object.keys(given)) {
        if (!(key in def.defaults)) throw new ParameterError(`${field}.${key}`, `is not an option (options: ${Object.keys(def.defaults).join(", ") || "none"})`);
      }
    }
    return plainOptions(field, { ...(def.defaults ?? {}), ...given });
  }

  /** A fresh component, checked. */
  create(name: string, given: OptionValues = {}): T {
    const made = this.get(name).create(this.options(name, given));
    this.check(made, `${this.kind} ${name}`);
    return made;
  }

  /** What results record about a definition: its source (built-in, plugin file and hash, or session). */
  source(name: string): Source {
    return this.get(name).source;
  }

  /** One line per definition, for --help. */
  describe(): string {
    return this.names().map((n) => {
      const d = this.get(n);
      const from = d.source.kind === "plugin" ? ` [${d.source.file}]` : d.source.kind === "session" ? " [this session]" : "";
      const opts = d.defaults && Object.keys(d.defaults).length ? ` (options: ${Object.entries(d.defaults).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")})` : "";
      return `  ${n}${from}: ${d.description}${opts}`;
    }).join("\n");
  }
}

/** A component given by name with its options, as configs and grids store it. */
export interface Named {
  /** The registered name. */
  name: string;
  /** Its options; missing ones take the definition's defaults. */
  options?: OptionValues;
}

/**
 * Parses the command-line form "name" or "name:key=value,key=value" (values: numbers, true/false, or
 * text) into { name, options }.
 */
export function parseNamed(field: string, text: string): Named {
  const m = /^([a-z][a-z0-9_]*)(?::(.*))?$/.exec(text.trim());
  if (!m) throw new ParameterError(field, `must be name or name:key=value,key=value, got ${JSON.stringify(text)}`);
  const options: OptionValues = {};
  for (const part of (m[2] ?? "").split(",").filter((p) => p.length)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new ParameterError(field, `option ${JSON.stringify(part)} must be key=value`);
    const key = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    options[key] = raw === "true" ? true : raw === "false" ? false : raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return { name: m[1], options };
}
