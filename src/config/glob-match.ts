import { braceExpand } from "minimatch";

/**
 * A glob matcher whose cost is O(pattern length × path length) for any input. minimatch compiles each segment
 * to a regular expression, and V8 backtracks `^[^/]*?a[^/]*?a[^/]*?b$` polynomially (a 5-star segment against a
 * 100-character file name takes seconds); both the pattern and the file names come from the repository.
 *
 * Same meaning as minimatch with `{ dot: true, noext: true, nonegate: true, nocomment: true }` (the options this
 * app always used): `*` and `?` within a segment (matching a leading dot too), `**` as a whole segment for zero
 * or more segments, `[a-z]` / `[!a]` / `[^a]` classes, `{a,b}` / `{1..3}` braces (expanded by minimatch's own
 * bounded expander). Characters are UTF-16 code units, as minimatch matches them.
 */

const STAR = -1;
const ANY = -2;

interface CharClass {
  negate: boolean;
  /** Inclusive code-unit ranges. */
  ranges: Array<[number, number]>;
}

/** A segment token: a code unit, STAR, ANY (`?`) or a class. */
type Token = number | CharClass;

type Segment = { kind: "globstar" } | { kind: "literal"; text: string } | { kind: "wild"; tokens: Token[] };

export interface CompiledGlob {
  readonly alternatives: ReadonlyArray<readonly Segment[]>;
}

/** A glob after brace expansion; `undefined` when the braces expand to more than `maxExpansions` globs. */
export function compileGlob(pattern: string, maxExpansions: number): CompiledGlob | undefined {
  const expanded = expandBraces(pattern, maxExpansions);
  if (expanded === undefined) return undefined;
  return { alternatives: expanded.map(compileAlternative) };
}

/** The globs `{…}` braces turn the pattern into, or undefined when there are more than `max`. */
export function expandBraces(pattern: string, max: number): string[] | undefined {
  if (!pattern.includes("{")) return [pattern];
  const out = braceExpand(pattern, { braceExpandMax: max + 1 });
  return out.length > max ? undefined : [...new Set(out)];
}

export function globMatch(glob: CompiledGlob, path: string): boolean {
  const parts = path.split("/");
  return glob.alternatives.some((segments) => matchSegments(segments, parts));
}

function compileAlternative(pattern: string): Segment[] {
  // minimatch collapses repeated slashes in a pattern; a trailing slash stays (it then needs a trailing slash).
  const raw = pattern.split("/");
  const parts = raw.filter((p, i) => p !== "" || i === 0 || i === raw.length - 1);
  const segments: Segment[] = [];
  for (const part of parts) {
    if (part === "**") {
      if (segments.at(-1)?.kind !== "globstar") segments.push({ kind: "globstar" });
      continue;
    }
    const tokens = tokenize(part);
    if (tokens.every((t) => typeof t === "number" && t >= 0)) segments.push({ kind: "literal", text: part });
    else segments.push({ kind: "wild", tokens });
  }
  // A trailing `/**` needs at least one more segment, possibly empty: minimatch's `a/**` matches `a/` and `a/b`
  // but not `a`. A pattern of just `**` matches everything.
  if (segments.length > 1 && segments.at(-1)?.kind === "globstar") {
    segments.splice(segments.length - 1, 0, { kind: "wild", tokens: [STAR] });
  }
  return segments;
}

function tokenize(segment: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c === 0x2a /* * */) {
      if (tokens.at(-1) !== STAR) tokens.push(STAR);
    } else if (c === 0x3f /* ? */) {
      tokens.push(ANY);
    } else if (c === 0x5b /* [ */) {
      const parsed = parseClass(segment, i);
      if (parsed) {
        tokens.push(parsed.cls);
        i = parsed.end;
      } else {
        tokens.push(c);
      }
    } else {
      tokens.push(c);
    }
  }
  return tokens;
}

/** `[…]` starting at `start`; undefined when it is not closed (then `[` is a literal, as in minimatch). */
function parseClass(s: string, start: number): { cls: CharClass; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (s[i] === "!" || s[i] === "^") {
    negate = true;
    i++;
  }
  const ranges: Array<[number, number]> = [];
  let first = true;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5d /* ] */ && !first) return { cls: { negate, ranges }, end: i };
    first = false;
    if (s[i + 1] === "-" && i + 2 < s.length && s[i + 2] !== "]") {
      const hi = s.charCodeAt(i + 2);
      if (c <= hi) ranges.push([c, hi]);
      i += 2;
    } else {
      ranges.push([c, c]);
    }
  }
  return undefined;
}

function classMatches(cls: CharClass, c: number): boolean {
  let inside = false;
  for (const [lo, hi] of cls.ranges) {
    if (c >= lo && c <= hi) {
      inside = true;
      break;
    }
  }
  return inside !== cls.negate;
}

function tokenMatches(token: Token, c: number): boolean {
  if (token === ANY) return true;
  if (typeof token === "number") return token === c;
  return classMatches(token, c);
}

/**
 * Wildcard matching with one remembered star: on a mismatch, only the most recent `*` takes one more character.
 * Earlier stars never need to be revisited (what they could absorb the later star absorbs as well), so the work
 * is at most tokens × characters.
 */
function matchTokens(tokens: readonly Token[], s: string): boolean {
  let t = 0;
  let i = 0;
  let starT = -1;
  let starI = 0;
  while (i < s.length) {
    const token = tokens[t];
    if (token === STAR) {
      starT = t++;
      starI = i;
    } else if (token !== undefined && tokenMatches(token, s.charCodeAt(i))) {
      t++;
      i++;
    } else if (starT >= 0) {
      t = starT + 1;
      i = ++starI;
    } else {
      return false;
    }
  }
  while (tokens[t] === STAR) t++;
  return t === tokens.length;
}

function segmentMatches(segment: Segment, part: string): boolean {
  if (segment.kind === "literal") return segment.text === part;
  if (segment.kind === "globstar") return false;
  // With `dot: true` minimatch still never lets a wildcard stand for `.` or `..`.
  if (part === "." || part === "..") return false;
  return matchTokens(segment.tokens, part);
}

/** The same one-remembered-star scheme one level up: `**` is the star, each other segment one path segment. */
function matchSegments(segments: readonly Segment[], parts: readonly string[]): boolean {
  let s = 0;
  let p = 0;
  let starS = -1;
  let starP = 0;
  while (p < parts.length) {
    const segment = segments[s];
    if (segment?.kind === "globstar") {
      starS = s++;
      starP = p;
    } else if (segment !== undefined && segmentMatches(segment, parts[p]!)) {
      s++;
      p++;
    } else if (starS >= 0 && parts[starP] !== "." && parts[starP] !== "..") {
      s = starS + 1;
      p = ++starP;
    } else {
      return false;
    }
  }
  while (segments[s]?.kind === "globstar") s++;
  return s === segments.length;
}
