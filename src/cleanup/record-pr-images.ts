import { sanitizeDockerTag } from "../config/index.js";
import type { BuildJob, BuildOutcome, BuildProcessor } from "../queue/index.js";
import { tagOfRef } from "./ref-tag.js";
import type { CleanupLog } from "./pr-image-cleanup.js";
import type { PrImageRecords } from "./pr-image-records.js";

/**
 * What of a build's pushes the clean-up may later delete: its `pr-N` image tags (with the digest pushed) and its
 * `buildcache-pr-N` cache ref, for a same-repository pull request's build (a fork's builds push nothing). Nothing
 * when the pull request's head or base branch is itself named `pr-N`: the branch's own tag and cache then have
 * these names, and a branch's tags are never the clean-up's.
 */
export function prImagesOfBuild(job: BuildJob, outcome: BuildOutcome): Array<{ ref: string; kind: "image" | "cache"; digest?: string }> {
  const pr = job.pullRequest;
  if (!pr || job.fork || pr.fork) return [];
  const tag = `pr-${pr.number}`;
  const cache = `buildcache-${tag}`;
  const branches = [pr.headRef, pr.baseRef, job.repository.defaultBranch];
  if (branches.some((b) => sanitizeDockerTag(b) === tag || sanitizeDockerTag(`buildcache-${b}`) === cache)) return [];
  const refs: Array<{ ref: string; kind: "image" | "cache"; digest?: string }> = [];
  for (const ref of outcome.pushedTags) {
    if (tagOfRef(ref) === tag) refs.push({ ref, kind: "image", ...(outcome.digest ? { digest: outcome.digest } : {}) });
  }
  for (const ref of outcome.cacheExported ?? []) if (tagOfRef(ref) === cache) refs.push({ ref, kind: "cache" });
  return refs;
}

/**
 * The build processor, noting what each pull request's build wrote once it succeeded. A failed note is logged and
 * costs the build nothing: the tags then stay until removed by hand.
 */
export function recordingPrImages(processor: BuildProcessor, records: PrImageRecords, log: CleanupLog, now: () => number = Date.now): BuildProcessor {
  return async (job, signal, slot) => {
    const outcome = await processor(job, signal, slot);
    const refs = prImagesOfBuild(job, outcome);
    if (refs.length > 0 && job.pullRequest) {
      const key = { installationId: job.repository.installationId, repoId: job.repository.repoId, pr: job.pullRequest.number, owner: job.repository.owner };
      await records.note(key, refs, now()).catch((err: unknown) =>
        log.warn({ buildId: job.buildId, err: err instanceof Error ? err.message : String(err) }, "could not note the pull request's pushed tags for their clean-up"),
      );
    }
    return outcome;
  };
}
