import { Minimatch } from "minimatch";

/**
 * `paths:` filters. Patterns are applied in order and the last one matching a file decides (`!` deselects), like
 * GitHub Actions' `paths`. When every pattern is a negation, files start selected, so `["!docs/**"]` means
 * "anything but docs".
 */
const GLOB_OPTIONS = { dot: true, nonegate: true, nocomment: true } as const;

/** What is wrong with a glob, or undefined when it is fine. */
export function globProblem(pattern: string): string | undefined {
  const body = pattern.startsWith("!") ? pattern.slice(1) : pattern;
  if (body === "") return "is an empty pattern";
  if (body.includes("\\")) return "contains a backslash (use / between directories)";
  if (body.startsWith("/")) return "is absolute (patterns are relative to the repository root)";
  if (body.split("/").some((segment) => segment === "..")) return 'contains ".." (patterns cannot leave the repository)';
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
  return undefined;
}

/** Same as {@link globProblem} for a branch or tag name glob. */
export function refGlobProblem(pattern: string): string | undefined {
  if (pattern.startsWith("!")) return 'cannot be negated with "!" (list only what should be pushed)';
  const problem = globProblem(pattern);
  if (problem) return problem;
  return undefined;
}

interface CompiledFilter {
  negate: boolean;
  matcher: Minimatch;
}

function compile(patterns: readonly string[]): CompiledFilter[] {
  return patterns.map((p) => {
    const negate = p.startsWith("!");
    const body = (negate ? p.slice(1) : p).replace(/^\.\//, "");
    return { negate, matcher: new Minimatch(body, GLOB_OPTIONS) };
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
    let selected = startSelected;
    for (const f of filters) {
      if (f.matcher.match(file)) selected = !f.negate;
    }
    return selected;
  });
}

/** Matches a branch or tag name against globs (`release/*`, `v*`). */
export function refMatches(globs: readonly string[], name: string): boolean {
  return globs.some((g) => new Minimatch(g, GLOB_OPTIONS).match(name));
}
