import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { UsageError } from "./usage-error.js";

/**
 * The flags of one command in `node:util` `parseArgs` form: `{ tag: { type: "string", short: "t", multiple: true } }`.
 * `boolean` flags take no value, `string` flags exactly one, `multiple` string flags may repeat.
 */
export type FlagSpecs = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedFlags {
  values: Map<string, string[]>;
  booleans: Set<string>;
  positionals: string[];
}

/**
 * GNU-style flags through `parseArgs` (`--name value`, `--name=value`, `-n value`, `-nvalue`, boolean `--name`,
 * `--` ends flags). parseArgs runs non-strict and this walks its tokens, so each mistake is a UsageError naming
 * the flag: unknown flags, a missing value (a value may not start with `-` unless given inline; `-` alone is one),
 * a value on a boolean (other than `=true`/`=false`), a single-value flag given twice.
 */
export function parseFlags(args: readonly string[], specs: FlagSpecs): ParsedFlags {
  const { tokens } = parseArgs({ args: [...args], options: specs, strict: false, allowPositionals: true, tokens: true });
  const parsed: ParsedFlags = { values: new Map(), booleans: new Set(), positionals: [] };
  for (const token of tokens) {
    if (token.kind === "positional") {
      parsed.positionals.push(token.value);
      continue;
    }
    if (token.kind === "option-terminator") continue;
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    if (!spec) throw new UsageError(`unknown flag ${token.rawName}`, token.rawName);
    const flag = `--${token.name}`;
    const value = token.value;
    if (spec.type === "boolean") {
      if (value !== undefined && value !== "true" && value !== "false") throw new UsageError(`${flag} takes no value (got "${value}")`, flag);
      if (value === "false") parsed.booleans.delete(token.name);
      else parsed.booleans.add(token.name);
      continue;
    }
    if (value === undefined || (!token.inlineValue && value.startsWith("-") && value !== "-")) {
      throw new UsageError(`${flag} needs a value`, flag);
    }
    const existing = parsed.values.get(token.name);
    if (existing && !spec.multiple) throw new UsageError(`${flag} may be given only once`, flag);
    if (existing) existing.push(value);
    else parsed.values.set(token.name, [value]);
  }
  return parsed;
}

/** The single value of a `string` flag. */
export function flagValue(flags: ParsedFlags, name: string): string | undefined {
  return flags.values.get(name)?.[0];
}

/** Every value of a `multiple` flag, in order. */
export function flagValues(flags: ParsedFlags, name: string): string[] {
  return flags.values.get(name) ?? [];
}
