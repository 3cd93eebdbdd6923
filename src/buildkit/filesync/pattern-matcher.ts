import { posix } from "node:path";
import { InvalidRequestError } from "../errors.js";

/**
 * Docker's `.dockerignore` pattern language, as BuildKit's file walker applies it to `exclude-patterns` and
 * `include-patterns` (docs/buildkit-wire.md#diffcopy-metadata):
 * - patterns are trimmed, cleaned like Go's `filepath.Clean` and lose a leading `/`; `!` marks an exception;
 * - `*` and `?` never cross `/`, `**` spans any number of path segments, `[…]` classes and `\` escapes work;
 * - a pattern matching a directory also matches everything below it;
 * - the last pattern that matches decides, evaluated with the results of the parent directory carried down
 *   (Docker's "matches using parent results"), so a later exception can re-include a child of an excluded dir.
 */
export class PatternMatcher {
  readonly patterns: readonly Pattern[];
  /** At least one `!` exception. */
  readonly hasExceptions: boolean;

  constructor(patterns: readonly string[]) {
    const parsed: Pattern[] = [];
    for (const raw of patterns) {
      const pattern = parsePattern(raw);
      if (pattern) parsed.push(pattern);
    }
    this.patterns = parsed;
    this.hasExceptions = parsed.some((p) => p.exception);
  }

  get isEmpty(): boolean {
    return this.patterns.length === 0;
  }

  /**
   * Whether `path` (slash-separated, relative to the root) is matched. `parent` is the `MatchState` returned for its
   * directory; without it, every ancestor of `path` is checked directly. Returns the state to pass to children.
   */
  match(path: string, parent?: MatchState): { matched: boolean; state: MatchState } {
    const parentMatched = parent?.perPattern;
    const perPattern = new Array<boolean>(this.patterns.length).fill(false);
    let matched = false;
    this.patterns.forEach((pattern, i) => {
      let hit = parentMatched?.[i] ?? false;
      if (!hit) {
        // An inclusion cannot change an already matched path, an exception cannot change an unmatched one.
        if (pattern.exception !== matched) return;
        hit = pattern.test(path);
        if (!hit && parentMatched === undefined) hit = ancestorsOf(path).some((dir) => pattern.test(dir));
      }
      perPattern[i] = hit;
      if (hit) matched = !pattern.exception;
    });
    return { matched, state: { perPattern } };
  }

  /** Convenience for callers without a walk: checks `path` and all its ancestors. */
  matches(path: string): boolean {
    return this.match(path).matched;
  }
}

/** Per-pattern results of one directory, handed to its children. */
export interface MatchState {
  readonly perPattern: readonly boolean[];
}

export interface Pattern {
  /** The cleaned pattern without its `!`. */
  readonly text: string;
  readonly exception: boolean;
  test(path: string): boolean;
}

/** Go's `filepath.Clean` for slash paths: no trailing slash, no `.` segments, `..` resolved, empty → `.`. */
export function cleanPath(path: string): string {
  if (path === "") return ".";
  const normalized = posix.normalize(path);
  if (normalized.length > 1 && normalized.endsWith("/")) return normalized.slice(0, -1);
  return normalized;
}

function parsePattern(raw: string): Pattern | undefined {
  // First the frontend's reading of a .dockerignore line: trimmed, `!` split off, cleaned, a leading `/` dropped.
  let text = raw.trim();
  if (text === "") return undefined;
  const negated = text.startsWith("!");
  if (negated) text = text.slice(1).trim();
  if (text !== "") {
    text = cleanPath(text);
    if (text.length > 1 && text.startsWith("/")) text = text.slice(1);
  }
  // Then patternmatcher's: the whole pattern is cleaned once more with its `!`, which a `..` can swallow (Docker
  // reads "!../x" as the exclusion "x"), and only then is the `!` looked for.
  text = cleanPath(negated ? `!${text}` : text);
  const exception = text.startsWith("!");
  if (exception) {
    text = text.slice(1);
    if (text === "") throw new InvalidRequestError('illegal exclusion pattern: "!"');
  }
  const test = compile(text);
  return { text, exception, test };
}

function ancestorsOf(path: string): string[] {
  const parts = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

// Literal in a pattern, special in a regexp. `^` is left out on purpose: Docker's matcher passes it through to its
// regexp, where it negates a class (`[^a]`, as filepath.Match also reads it) and is an anchor elsewhere.
const REGEXP_SPECIALS = new Set([...".+()|{}$"]);
// What `\c` may become in a `u`-mode regexp (identity escapes are limited there); anything else is written bare.
const ESCAPABLE = new Set([..."^$\\.*+?()[]{}|/"]);

function escapeLiteral(ch: string, inClass: boolean): string {
  return ESCAPABLE.has(ch) || (inClass && ch === "-") ? "\\" + ch : ch;
}

function syntaxError(pattern: string): InvalidRequestError {
  return new InvalidRequestError(`invalid pattern ${JSON.stringify(pattern)}: syntax error in pattern`);
}

// Compiles one cleaned pattern. Literal patterns, a trailing "**" and a leading "**" skip the regexp, as in
// Docker's matcher (this also keeps its quirk that a leading "**foo" matches any path ending in "foo").
function compile(pattern: string): (path: string) => boolean {
  let source = "^";
  let kind: "exact" | "prefix" | "suffix" | "regexp" = "exact";
  // Inside `[…]`: a `]` outside one is a literal, and `*`, `?` inside one are (filepath.Match's reading).
  let classStart = -1;
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    const inClass = classStart >= 0;
    if (ch === "*" && !inClass) {
      if (chars[i + 1] === "*") {
        const first = i === 0;
        i++;
        if (chars[i + 1] === "/") i++;
        if (i + 1 >= chars.length) {
          // Trailing `**` accepts everything below, like .gitignore.
          if (kind === "exact") kind = "prefix";
          else {
            source += ".*";
            kind = "regexp";
          }
        } else {
          source += "(.*/)?";
          kind = "regexp";
        }
        if (first) kind = "suffix";
      } else {
        source += "[^/]*";
        kind = "regexp";
      }
    } else if (ch === "?" && !inClass) {
      source += "[^/]";
      kind = "regexp";
    } else if (ch === "\\") {
      const next = chars[i + 1];
      // filepath.Match rejects a pattern ending in a lone backslash, and so does Docker's matcher.
      if (next === undefined) throw syntaxError(pattern);
      source += escapeLiteral(next, inClass);
      i++;
      kind = "regexp";
    } else if (ch === "[" && !inClass) {
      source += "[";
      classStart = i;
      if (chars[i + 1] === "^") {
        source += "^";
        i++;
      }
      kind = "regexp";
    } else if (ch === "]") {
      // An empty class (`[]`, `[^]`) is a syntax error for filepath.Match; a `]` outside a class is a literal.
      if (inClass && i === classStart + 1 + (chars[classStart + 1] === "^" ? 1 : 0)) throw syntaxError(pattern);
      source += inClass ? "]" : "\\]";
      classStart = -1;
      kind = "regexp";
    } else if (inClass) {
      source += escapeLiteral(ch, false);
    } else if (REGEXP_SPECIALS.has(ch)) {
      source += "\\" + ch;
    } else {
      source += ch;
    }
  }
  switch (kind) {
    case "exact":
      return (path) => path === pattern;
    case "prefix": {
      const prefix = pattern.slice(0, -2);
      return (path) => path.startsWith(prefix);
    }
    case "suffix": {
      const suffix = pattern.slice(2);
      if (suffix === "") return () => true;
      return (path) => path.endsWith(suffix) || (suffix.startsWith("/") && path === suffix.slice(1));
    }
    case "regexp": {
      let regexp: RegExp;
      try {
        regexp = new RegExp(source + "$", "u");
      } catch {
        throw syntaxError(pattern);
      }
      return (path) => regexp.test(path);
    }
  }
}
