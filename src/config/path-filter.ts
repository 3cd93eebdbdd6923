import { DEFAULT_CONFIG_LIMITS } from "./config-limits.js";
import { compileGlob, expandBraces, globMatch } from "./glob-match.js";
import type { CompiledGlob } from "./glob-match.js";

/**
 * `paths:` filters. Patterns are applied in order and the last one matching a file decides (`!` deselects), like
 * GitHub Actions' `paths`. When every pattern is a negation, files start selected, so `["!docs/**"]` means
 * "anything but docs". Matching is {@link globMatch}: linear in pattern × path, whatever the repository writes.
 */

/**
 * File and ref names longer than this are not matched at all (matching costs pattern × name length, and both come
 * from the repository). No real path is this long; such a file counts as selected (an extra build is the safe
 * side) and such a ref matches no push glob (not pushing is).
 */
export const MAX_MATCHED_NAME_LENGTH = 1024;

/**
 * Brace expansions allowed when compiling at plan time. Patterns reaching the planner were validated against the
 * deployment's `braceExpansions` limit; this only stops a pattern that never was from expanding without bound.
 */
const PLAN_TIME_MAX_EXPANSIONS = 10_000;

const EXTGLOB = /[?*+@!]\(/;

/**
 * What is wrong with a glob, or undefined when it is fine. `maxExpansions` bounds what its `{…}` braces expand to.
 */
export function globProblem(pattern: string, maxExpansions: number = DEFAULT_CONFIG_LIMITS.braceExpansions): string | undefined {
  const body = pattern.startsWith("!") ? pattern.slice(1) : pattern;
  if (body === "") return "is an empty pattern";
  if (body.includes("\\")) return "contains a backslash (use / between directories)";
  if (body.startsWith("/")) return "is absolute (patterns are relative to the repository root)";
  if (body.split("/").some((segment) => segment === "..")) return 'contains ".." (patterns cannot leave the repository)';
  const ext = EXTGLOB.exec(body);
  if (ext) {
    return `uses extended glob syntax ("${ext[0]}…)"), which is not supported: write one pattern per alternative or use {a,b}`;
  }
  if (body.includes("[:")) return 'uses a POSIX character class ("[:…:]"), which is not supported: use a range such as [a-z]';
  const pairs: Array<[string, string]> = [
    ["[", "]"],
    ["{", "}"],
    ["(", ")"],
  ];
  for (const [open, close] of pairs) {
    let depth = 0;
    for (const ch of body) {
      if (ch === open) depth++;
      else if (ch === close) depth--;
      if (depth < 0) break;
    }
    if (depth !== 0) return `has unbalanced "${open}${close}"`;
  }
  if (expandBraces(body, maxExpansions) === undefined) {
    return `expands to more than ${maxExpansions} globs through its {…} braces, over the limit of ${maxExpansions} (braceExpansions)`;
  }
  return undefined;
}

/** How many globs the pattern stands for after brace expansion (at most `max + 1`: "more than max"). */
export function globExpansionCount(pattern: string, max: number): number {
  const body = pattern.startsWith("!") ? pattern.slice(1) : pattern;
  return expandBraces(body, max)?.length ?? max + 1;
}

/** Same as {@link globProblem} for a branch or tag name glob. */
export function refGlobProblem(pattern: string, maxExpansions?: number): string | undefined {
  if (pattern.startsWith("!")) return 'cannot be negated with "!" (list only what should be pushed)';
  const problem = globProblem(pattern, maxExpansions);
  if (problem) return problem;
  return undefined;
}

interface CompiledFilter {
  negate: boolean;
  glob: CompiledGlob | undefined;
}

function compile(patterns: readonly string[]): CompiledFilter[] {
  return patterns.map((p) => {
    const negate = p.startsWith("!");
    const body = (negate ? p.slice(1) : p).replace(/^\.\//, "");
    return { negate, glob: compileGlob(body, PLAN_TIME_MAX_EXPANSIONS) };
  });
}

/** True when the file is selected by the filters. An empty filter list selects everything. */
export function pathSelected(patterns: readonly string[], file: string): boolean {
  return selectFiles(patterns, [file]).length === 1;
}

/** The changed files the filters select, in input order. */
export function selectFiles(patterns: readonly string[], files: readonly string[]): string[] {
  if (patterns.length === 0) return [...files];
  const filters = compile(patterns);
  const startSelected = filters.every((f) => f.negate);
  return files.filter((file) => {
    if (file.length > MAX_MATCHED_NAME_LENGTH) return true;
    let selected = startSelected;
    for (const f of filters) {
      if (f.glob && globMatch(f.glob, file)) selected = !f.negate;
    }
    return selected;
  });
}

/** Matches a branch or tag name against globs (`release/*`, `v*`). */
export function refMatches(globs: readonly string[], name: string): boolean {
  if (name.length > MAX_MATCHED_NAME_LENGTH) return false;
  return globs.some((g) => {
    const glob = compileGlob(g, PLAN_TIME_MAX_EXPANSIONS);
    return glob !== undefined && globMatch(glob, name);
  });
}
