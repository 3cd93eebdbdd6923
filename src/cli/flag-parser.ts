import { UsageError } from "./usage-error.js";

export interface FlagSpec {
  /** Long name without dashes. */
  name: string;
  /** One-letter alias without the dash. */
  short?: string;
  /** `boolean` flags take no value; `string` flags take exactly one, `list` flags may repeat. */
  type: "boolean" | "string" | "list";
}

export interface ParsedFlags {
  values: Map<string, string[]>;
  booleans: Set<string>;
  positionals: string[];
}

/**
 * A small GNU-style parser: `--name value`, `--name=value`, `-n value`, boolean `--name`, `--` ends flags.
 * Unknown flags, missing values and a repeated single-value flag are UsageErrors naming the flag.
 */
export function parseFlags(args: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const parsed: ParsedFlags = { values: new Map(), booleans: new Set(), positionals: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      parsed.positionals.push(...args.slice(i + 1));
      break;
    }
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    let shown = arg;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
      shown = `--${name}`;
      spec = byName.get(name);
    } else if (arg.startsWith("-") && arg.length > 1) {
      shown = arg.slice(0, 2);
      spec = byShort.get(arg.slice(1, 2));
      if (arg.length > 2) inline = arg.slice(2).replace(/^=/, "");
    } else {
      parsed.positionals.push(arg);
      continue;
    }
    if (!spec) throw new UsageError(`unknown flag ${shown}`, shown);
    const flag = `--${spec.name}`;
    if (spec.type === "boolean") {
      if (inline !== undefined && !["true", "false"].includes(inline)) {
        throw new UsageError(`${flag} takes no value (got "${inline}")`, flag);
      }
      if (inline === "false") parsed.booleans.delete(spec.name);
      else parsed.booleans.add(spec.name);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) throw new UsageError(`${flag} needs a value`, flag);
      value = next;
      i++;
    }
    const existing = parsed.values.get(spec.name);
    if (existing && spec.type === "string") throw new UsageError(`${flag} may be given only once`, flag);
    if (existing) existing.push(value);
    else parsed.values.set(spec.name, [value]);
  }
  return parsed;
}

/** The single value of a `string` flag. */
export function flagValue(flags: ParsedFlags, name: string): string | undefined {
  return flags.values.get(name)?.[0];
}

/** Every value of a `list` flag, in order. */
export function flagValues(flags: ParsedFlags, name: string): string[] {
  return flags.values.get(name) ?? [];
}

// Shared with the library's option rules.
export { splitCsv, splitKeyValue } from "../buildkit/build-options.js";
