import { sanitizeDockerTag } from "../config/index.js";
import type { CacheSetting } from "../config/index.js";
import type { CachePlan } from "../queue/index.js";
import { mergeQueueOf } from "./plan-target.js";
import type { PlanTarget } from "./plan-target.js";

function cacheTag(repository: string, name: string): string {
  return `${repository}:${sanitizeDockerTag(`buildcache-${name}`)}`;
}

function unique(refs: string[]): string[] {
  return [...new Set(refs)];
}

/**
 * Registry cache for one image and target. Imports go most specific first — the PR's own cache, then its base
 * branch, then the default branch — so a first build of a branch or PR starts warm. Exports go to the ref's own
 * cache tag; fork pull requests only import (they must not write anything to our registry), and tag builds
 * only import (nothing would ever read a per-tag cache). No pull request ever exports to a branch's, the default
 * branch's or a fixed cache ref: those are read by every build of the branch, and a PR may only read them.
 */
export function planCache(opts: {
  setting: CacheSetting;
  imageRepository: string;
  target: PlanTarget;
  defaultBranch: string;
  noCache?: boolean;
}): CachePlan {
  const { setting, target } = opts;
  if (setting.kind === "off") return { imports: [] };
  const fork = target.kind === "pull_request" && target.fork;
  let imports: string[];
  let exportRef: string | undefined;
  if (setting.kind === "fixed") {
    imports = [setting.ref];
    // The one shared ref is every branch's cache: a pull request may read it, never write it.
    const mergeQueue = target.kind === "branch" && mergeQueueOf(target.branch) !== undefined;
    exportRef = target.kind === "pull_request" || mergeQueue ? undefined : setting.ref;
  } else {
    const repo = setting.repository ?? opts.imageRepository;
    const defaultRef = cacheTag(repo, opts.defaultBranch);
    switch (target.kind) {
      case "branch": {
        const queue = mergeQueueOf(target.branch);
        if (queue) {
          // A merge queue branch lives minutes: it reads its base branch's cache and writes none of its own.
          imports = [cacheTag(repo, queue.base), defaultRef];
          exportRef = undefined;
          break;
        }
        const own = cacheTag(repo, target.branch);
        const base = target.pullRequest ? [cacheTag(repo, target.pullRequest.baseRef)] : [];
        imports = [own, ...base, defaultRef];
        exportRef = own;
        break;
      }
      case "tag":
        imports = [defaultRef];
        exportRef = undefined;
        break;
      case "pull_request": {
        const own = cacheTag(repo, `pr-${target.number}`);
        const base = cacheTag(repo, target.baseRef);
        imports = [own, base, defaultRef];
        // A branch named like `pr-7` shares its cache tag with PR #7: the PR then only reads it.
        exportRef = own === base || own === defaultRef ? undefined : own;
        break;
      }
    }
  }
  // "Rebuild (no cache)": nothing is imported, the fresh result still refreshes the cache.
  const plan: CachePlan = { imports: opts.noCache ? [] : unique(imports) };
  if (exportRef && !fork) plan.export = exportRef;
  return plan;
}
