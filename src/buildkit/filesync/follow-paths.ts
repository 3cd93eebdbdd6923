import { lstat, readdir, readlink } from "node:fs/promises";
import { join, posix } from "node:path";
import { PatternMatcher, cleanPath } from "./pattern-matcher.js";

const MAX_LINK_HOPS = 40;
const WILDCARD = /[*?[\\]/;

/**
 * The `followpaths` a daemon asks for, plus every symlink on the way and the paths those symlinks point to, so that
 * following them inside the sent tree works (fsutil's FollowLinks). Absolute link targets are taken relative to
 * `root`; nothing can resolve outside it. Returns sorted, root-relative slash paths (`.` = the whole tree).
 */
export async function resolveFollowPaths(root: string, paths: readonly string[]): Promise<string[]> {
  const resolved = new Set<string>();

  const append = async (path: string, hops: number): Promise<void> => {
    if (hops > MAX_LINK_HOPS) return;
    let rest = rooted(path);
    let current = ".";
    for (;;) {
      const slash = rest.indexOf("/");
      const head = slash < 0 ? rest : rest.slice(0, slash);
      rest = slash < 0 ? "" : rest.slice(slash + 1);
      current = current === "." ? head : `${current}/${head}`;
      const targets = await symlinkTargets(root, current, true);
      if ((rest === "" || targets) && resolved.has(current)) return;
      if (targets) {
        resolved.add(current);
        for (const target of targets) await append(posix.join(target, rest), hops + 1);
        return;
      }
      if (rest === "") {
        resolved.add(current);
        return;
      }
    }
  };

  for (const path of paths) await append(path, 0);
  return [...resolved].sort();
}

/** Cleans `path` as if it were rooted at the served dir, so `..` can never climb out; `.` for the root. */
function rooted(path: string): string {
  const clean = cleanPath("/" + path).slice(1);
  return clean === "" ? "." : clean;
}

async function symlinkTargets(root: string, path: string, allowWildcard: boolean): Promise<string[] | undefined> {
  const base = posix.basename(path);
  if (allowWildcard && WILDCARD.test(base)) {
    const dir = posix.dirname(path);
    let names: string[];
    try {
      names = await readdir(join(root, dir));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const matcher = new PatternMatcher([base]);
    const out: string[] = [];
    for (const name of names) {
      if (!matcher.matches(name)) continue;
      out.push(...((await symlinkTargets(root, posix.join(dir, name), false)) ?? []));
    }
    return out.length > 0 ? out : undefined;
  }
  const real = join(root, path);
  try {
    const stats = await lstat(real);
    if (!stats.isSymbolicLink()) return undefined;
    const link = cleanPath(await readlink(real));
    if (link.startsWith("/")) return [link];
    return ["/" + posix.join(posix.dirname(path), link)];
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

export function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
