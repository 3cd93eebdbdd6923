import { AppError } from "../errors/index.js";
/**
 * Hard limits on a repository's `.github/buildkit-bot.yml`. One deployment serves every installation and the file is
 * untrusted, so its size and every count or length that drives work (parsing, builds, glob matching) is bounded
 * before that work starts. The defaults are a few times what a large real config needs (a monorepo with a dozen
 * images, a handful of tags and path globs each) and keep the worst case of every step in the low milliseconds:
 * 64 KiB parses in well under 100 ms, 50 images are 50 check runs and builds against the app-wide GitHub write
 * budget, and glob matching is O(pattern × path) with patterns of at most 256 characters.
 *
 * This table is the single source: the parser enforces it, `schema/buildkit-bot.schema.json` carries the same
 * numbers for editors (a test keeps them equal), and an operator may change them per deployment with
 * `BUILDKIT_BOT_CONFIG_LIMITS`.
 */
export const CONFIG_LIMIT_SPECS = {
  fileBytes: { default: 65_536, what: "file size in bytes", schema: [] },
  nestingDepth: { default: 20, what: "YAML nesting depth (collections inside collections)", schema: [] },
  aliases: { default: 100, what: "YAML aliases resolved, `<<` merges included", schema: [] },
  images: {
    default: 50,
    what: "entries in `images`",
    schema: [{ pointer: "/properties/images", keyword: "maxItems" }],
  },
  tagsPerImage: {
    default: 20,
    what: "entries in an image's `tags`",
    schema: [{ pointer: "/$defs/image/properties/tags", keyword: "maxItems" }],
  },
  tagLength: {
    default: 256,
    what: "characters in a tag template",
    schema: [{ pointer: "/$defs/image/properties/tags/items", keyword: "maxLength" }],
  },
  pathsPerImage: {
    default: 50,
    what: "entries in an image's `paths`",
    schema: [{ pointer: "/$defs/image/properties/paths", keyword: "maxItems" }],
  },
  pushGlobsPerImage: {
    default: 50,
    what: "entries in an image's `push.branches` or `push.tags`",
    schema: [
      { pointer: "/$defs/image/properties/push/properties/branches", keyword: "maxItems" },
      { pointer: "/$defs/image/properties/push/properties/tags", keyword: "maxItems" },
    ],
  },
  patternLength: {
    default: 256,
    what: "characters in a glob (`paths`, `push.branches`, `push.tags`)",
    schema: [
      { pointer: "/$defs/image/properties/paths/items", keyword: "maxLength" },
      { pointer: "/$defs/image/properties/push/properties/branches/items", keyword: "maxLength" },
      { pointer: "/$defs/image/properties/push/properties/tags/items", keyword: "maxLength" },
    ],
  },
  braceExpansions: {
    default: 100,
    what: "globs one list (`paths`, `push.branches`, `push.tags`) expands to after `{a,b}` / `{1..9}` braces",
    schema: [],
  },
  buildArgsPerImage: {
    default: 50,
    what: "entries in an image's `build_args`",
    schema: [{ pointer: "/$defs/image/properties/build_args", keyword: "maxProperties" }],
  },
  labelsPerImage: {
    default: 50,
    what: "entries in an image's `labels`",
    schema: [{ pointer: "/$defs/image/properties/labels", keyword: "maxProperties" }],
  },
  // The backstop behind the limits above: the file is checked (and its path filters and tags applied) in a worker
  // thread, stopped when it runs past either of these. The largest file the defaults allow needs about 0.5 s and
  // 40 MB there at worst; a real config a few milliseconds and a few MB.
  checkTimeMs: {
    default: 2000,
    what: "milliseconds the worker thread may spend on one step of checking the file (parse and validate; path filters and tags)",
    schema: [],
  },
  checkMemoryMb: {
    default: 128,
    what: "megabytes of heap (old generation) the worker thread checking the file may use",
    schema: [],
    // Below a few MB, V8 cannot even set up the thread's heap and aborts the whole process; under 16 the thread
    // does not start (the app then refuses to start, saying so).
    min: 16,
  },
} as const satisfies Record<string, LimitSpec>;

export interface LimitSpec {
  default: number;
  /** What is counted, for the README and error messages. */
  what: string;
  /** Where the shipped JSON Schema states the same limit. */
  schema: ReadonlyArray<{ pointer: string; keyword: "maxItems" | "maxLength" | "maxProperties" }>;
  /** The smallest value an operator may set; default 1. */
  min?: number;
}

export type ConfigLimitName = keyof typeof CONFIG_LIMIT_SPECS;
export type ConfigLimits = Readonly<Record<ConfigLimitName, number>>;

export const CONFIG_LIMIT_NAMES = Object.keys(CONFIG_LIMIT_SPECS) as ConfigLimitName[];

export const DEFAULT_CONFIG_LIMITS: ConfigLimits = Object.freeze(
  Object.fromEntries(CONFIG_LIMIT_NAMES.map((k) => [k, CONFIG_LIMIT_SPECS[k].default])) as Record<
    ConfigLimitName,
    number
  >,
);

export const CONFIG_LIMITS_VARIABLE = "BUILDKIT_BOT_CONFIG_LIMITS";

/** `BUILDKIT_BOT_CONFIG_LIMITS` is malformed; `variable` names it, like the app's other configuration errors. */
export class ConfigLimitsError extends AppError {
  readonly code = "CONFIG_LIMITS_INVALID";
  readonly variable = CONFIG_LIMITS_VARIABLE;
  constructor(message: string) {
    super(`${CONFIG_LIMITS_VARIABLE}: ${message}`);
  }
}

/** Keeps JSON.parse and the arithmetic on limits exact; far above anything a config file could need. */
const MAX_LIMIT_VALUE = 1_000_000_000;

/**
 * Parses an operator override, either JSON (`{"images": 100}`) or `key=value` pairs separated by commas or
 * whitespace (`images=100,fileBytes=262144`). Unset or blank → the defaults. Keys not given keep their default.
 */
export function parseConfigLimits(value: string | undefined): ConfigLimits {
  const text = value?.trim() ?? "";
  if (text === "") return DEFAULT_CONFIG_LIMITS;
  const entries: Array<[string, unknown]> = [];
  if (text.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigLimitsError(`is not valid JSON (${(err as Error).message})`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ConfigLimitsError("must be a JSON object of limit names to numbers");
    }
    entries.push(...Object.entries(parsed));
  } else {
    for (const pair of text.split(/[\s,]+/).filter((p) => p !== "")) {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new ConfigLimitsError(`"${pair}" is not key=value`);
      entries.push([pair.slice(0, eq), pair.slice(eq + 1)]);
    }
  }
  const out: Record<ConfigLimitName, number> = { ...DEFAULT_CONFIG_LIMITS };
  for (const [key, raw] of entries) {
    if (!(CONFIG_LIMIT_NAMES as string[]).includes(key)) {
      throw new ConfigLimitsError(`unknown limit "${key}" (known: ${CONFIG_LIMIT_NAMES.join(", ")})`);
    }
    const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
    const spec: LimitSpec = CONFIG_LIMIT_SPECS[key as ConfigLimitName];
    const min = spec.min ?? 1;
    if (!Number.isSafeInteger(n) || n < min || n > MAX_LIMIT_VALUE) {
      throw new ConfigLimitsError(`${key} must be a whole number from ${min} to ${MAX_LIMIT_VALUE} (got ${JSON.stringify(raw)})`);
    }
    out[key as ConfigLimitName] = n;
  }
  return Object.freeze(out);
}

/** The limits for this deployment from its environment. */
export function configLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): ConfigLimits {
  return parseConfigLimits(env[CONFIG_LIMITS_VARIABLE]);
}

/**
 * A copy of the shipped schema with the limit keywords set to `limits`, so that a deployment with raised limits
 * does not have the schema reject what the code allows.
 */
export function schemaWithLimits(schema: Record<string, unknown>, limits: ConfigLimits): Record<string, unknown> {
  const copy = structuredClone(schema);
  for (const name of CONFIG_LIMIT_NAMES) {
    for (const { pointer, keyword } of CONFIG_LIMIT_SPECS[name].schema) {
      const node = schemaNode(copy, pointer);
      if (node) node[keyword] = limits[name];
    }
  }
  return copy;
}

/**
 * A copy of the shipped schema without the limit keywords of the table: what a repository's config is validated
 * against. configLimitViolations has checked the same counts and lengths against the account's limits before the
 * schema runs (at least as strictly: it counts UTF-16 units where the schema counts code points), so those keywords
 * could never fail there, and one validator, compiled ahead of time, serves every set of limits.
 */
export function schemaWithoutLimits(schema: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(schema);
  for (const name of CONFIG_LIMIT_NAMES) {
    for (const { pointer, keyword } of CONFIG_LIMIT_SPECS[name].schema) delete schemaNode(copy, pointer)?.[keyword];
  }
  return copy;
}

/** The object at a JSON pointer inside a schema, or undefined. */
export function schemaNode(schema: Record<string, unknown>, pointer: string): Record<string, unknown> | undefined {
  let node: unknown = schema;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === "object" && node !== null ? (node as Record<string, unknown>) : undefined;
}

export function limitsKey(limits: ConfigLimits): string {
  return CONFIG_LIMIT_NAMES.map((k) => limits[k]).join(",");
}
