import { realpath, stat as statPath } from "node:fs/promises";
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import type { BigIntStats } from "node:fs";
import { setImmediate as nextTurn } from "node:timers/promises";
import { join } from "node:path";
import { InvalidRequestError } from "../errors.js";
import type { Stat } from "../generated/fsutil/types/Stat.js";
import type { EntryKind } from "./file-mode.js";
import { kindOfPosixMode, toWireStat } from "./file-mode.js";
import { isMissing, resolveFollowPaths } from "./follow-paths.js";
import type { MatchState, Pattern } from "./pattern-matcher.js";
import { PatternMatcher } from "./pattern-matcher.js";

export interface WalkOptions {
  /** `.dockerignore`-style patterns of paths to leave out. */
  excludePatterns?: readonly string[];
  /** When non-empty, only matching paths (and the directories leading to them) are sent. */
  includePatterns?: readonly string[];
  /** Exact paths to send; symlinks on the way are resolved and their targets sent too. */
  followPaths?: readonly string[];
  /** A hard limit on top of everything else: only these exact paths and their parent directories. */
  allowOnly?: readonly string[];
  signal?: AbortSignal;
}

export interface WalkEntry {
  /** Slash-separated, relative to the root, never `.` or with a leading `/`. */
  path: string;
  absolutePath: string;
  kind: EntryKind;
  /** The fsutil Stat to send. */
  stat: Stat;
}

/**
 * Entries lstat'ed between two event-loop turns. The walk uses synchronous calls: a few microseconds each against
 * the page cache, where the promise API costs a thread-pool hop and an event-loop turn per call (with a build's
 * gRPC traffic in the loop, that made listing 200 files take 20 ms). Yielding every batch bounds the blocking.
 */
const STAT_BATCH = 256;
const PATTERN_CHARS = /[*[\]?^\\]/;

interface DirFrame {
  entry: WalkEntry;
  emitted: boolean;
  include?: MatchState;
  exclude?: MatchState;
}

/**
 * Walks `root` lazily in the order BuildKit's receiver validates (docs/buildkit-wire.md#filesync-packets): depth-first, siblings sorted
 * byte-wise, each directory immediately followed by its contents. Filtering follows fsutil's walker: an excluded
 * directory is pruned unless an exception could re-include something inside it; a directory that is not itself
 * sent but has a sent descendant is emitted just before that descendant.
 */
export async function* walkContext(root: string, options: WalkOptions = {}): AsyncGenerator<WalkEntry> {
  let rootReal: string;
  try {
    rootReal = await realpath(root);
    if (!(await statPath(rootReal)).isDirectory()) throw new InvalidRequestError(`${root} is not a directory`);
  } catch (error) {
    if (isMissing(error)) throw new InvalidRequestError(`directory ${root} does not exist`);
    throw error;
  }

  let includePatterns = [...(options.includePatterns ?? [])];
  if (options.followPaths && options.followPaths.length > 0) {
    includePatterns.push(...(await resolveFollowPaths(rootReal, options.followPaths)));
  }
  if (includePatterns.some((p) => p.trim() === ".")) includePatterns = [];
  const include = includePatterns.length > 0 ? new PatternMatcher(includePatterns) : undefined;
  const exclude = options.excludePatterns?.length ? new PatternMatcher(options.excludePatterns) : undefined;
  const allowOnly = options.allowOnly ? new Set(options.allowOnly) : undefined;

  const onlyPrefixIncludes = include?.patterns.every((p) => p.exception || !PATTERN_CHARS.test(withoutTrailingGlob(p))) ?? true;
  const onlyPrefixExceptions = exclude?.patterns.every((p) => !p.exception || !PATTERN_CHARS.test(withoutTrailingGlob(p))) ?? true;

  const mayContain = (patterns: readonly Pattern[], exception: boolean, dir: string): boolean =>
    patterns.some((p) => p.exception === exception && `${p.text}/`.startsWith(`${dir}/`));

  const ancestors: DirFrame[] = [];
  let statsSinceTurn = 0;

  async function* walkDir(absDir: string, relDir: string): AsyncGenerator<WalkEntry> {
    let names: string[];
    try {
      names = readdirSync(absDir);
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    const sorted = names.map((name) => ({ name, key: Buffer.from(name) })).sort((a, b) => Buffer.compare(a.key, b.key));
    for (let start = 0; start < sorted.length; start += STAT_BATCH) {
      if (statsSinceTurn >= STAT_BATCH) {
        await nextTurn();
        statsSinceTurn = 0;
      }
      options.signal?.throwIfAborted();
      const batch = sorted.slice(start, start + STAT_BATCH);
      statsSinceTurn += batch.length;
      const stats = batch.map(({ name }) => lstatIfPresent(join(absDir, name)));
      for (let i = 0; i < batch.length; i++) {
        const stats_ = stats[i];
        const name = (batch[i] as { name: string }).name;
        if (!stats_) continue;
        const kind = kindOfPosixMode(Number(stats_.mode));
        if (stats_.isSocket()) continue;
        const path = relDir === "" ? name : `${relDir}/${name}`;
        const isDir = kind === "dir";
        const parent = ancestors.at(-1);

        if (allowOnly && !allowOnly.has(path) && !(isDir && [...allowOnly].some((p) => p.startsWith(`${path}/`)))) continue;

        let skip = false;
        let includeState: MatchState | undefined;
        let excludeState: MatchState | undefined;
        if (include) {
          const result = include.match(path, parent?.include);
          includeState = result.state;
          if (!result.matched) {
            if (isDir && onlyPrefixIncludes && !mayContain(include.patterns, false, path)) continue;
            skip = true;
          }
        }
        if (exclude) {
          const result = exclude.match(path, parent?.exclude);
          excludeState = result.state;
          if (result.matched) {
            if (isDir && onlyPrefixExceptions && !(exclude.hasExceptions && mayContain(exclude.patterns, true, path))) continue;
            skip = true;
          }
        }

        const absolutePath = join(absDir, name);
        let linkname: string | undefined;
        if (kind === "symlink") {
          try {
            linkname = readlinkSync(absolutePath);
          } catch (error) {
            if (isMissing(error)) continue;
            throw error;
          }
        }
        const entry: WalkEntry = { path, absolutePath, kind, stat: toWireStat(path, stats_, linkname) };
        if (!skip) {
          for (const frame of ancestors) {
            if (frame.emitted) continue;
            frame.emitted = true;
            yield frame.entry;
          }
          yield entry;
        }
        if (isDir) {
          ancestors.push({ entry, emitted: !skip, include: includeState, exclude: excludeState });
          yield* walkDir(absolutePath, path);
          ancestors.pop();
        }
      }
    }
  }

  yield* walkDir(rootReal, "");
}

function withoutTrailingGlob(pattern: Pattern): string {
  let text = pattern.text;
  if (text.endsWith("/**")) text = text.slice(0, -3);
  if (text.endsWith("/*")) text = text.slice(0, -2);
  return text;
}

function lstatIfPresent(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}
