import type { BuildResult } from "@buildkit-bot/buildkit";
import type { ProvenanceReport, SizeDiff } from "../github/index.js";
import type { BuildJob } from "../queue/index.js";
import type { MovingTagsOutcome } from "./moving-tags.js";
import type { PreparedBuild } from "./prepare-build.js";
import { provenanceReport } from "./provenance.js";
import { imageSizeDiff } from "./size-diff.js";

export interface AfterPush {
  /** The moving tags' outcome, when the plan deferred some. */
  moved?: MovingTagsOutcome;
  provenance?: ProvenanceReport;
  sizeDiff?: SizeDiff;
}

/**
 * What follows the solve before the build reports: the moving tags, then the merge-queue note (it records the
 * tags the image ended with), and beside them the provenance read-back and the size diff, which only read the
 * registry: both read the image by its digest under a tag the solve itself pushed, so neither waits for the moving
 * tags. The two reads never fail the build (each ends in a note); the moving tags may, as before, and then the
 * reads are stopped and waited for, so nothing of the build runs on after it ended.
 */
export async function afterPush(
  job: BuildJob,
  build: PreparedBuild,
  result: BuildResult,
  opts: { noteReusable?: ((digest: string | undefined, pushTags: readonly string[]) => Promise<void>) | undefined; signal: AbortSignal },
): Promise<AfterPush> {
  const { signal } = opts;
  const tagged = (async () => {
    const moved = build.movingTags ? await build.movingTags(result, signal) : undefined;
    await opts.noteReusable?.(result.digest, moved?.pushTags ?? build.pushTags);
    return moved;
  })();
  // A build that fails on its moving tags does not wait for the reads' answers (up to the size diff's timeout).
  const failed = new AbortController();
  tagged.catch(() => failed.abort());
  const reads = AbortSignal.any([signal, failed.signal]);
  const provenance = provenanceReport(job, build, result, reads);
  const sizeDiff = imageSizeDiff(job, build.pushTags, result.digest, { request: build.request, signal: reads });
  const [moved, read, size] = await Promise.allSettled([tagged, provenance, sizeDiff]);
  for (const settled of [moved, read, size]) if (settled.status === "rejected") throw settled.reason;
  return {
    ...(valueOf(moved) ? { moved: valueOf(moved) } : {}),
    ...(valueOf(read) ? { provenance: valueOf(read) } : {}),
    ...(valueOf(size) ? { sizeDiff: valueOf(size) } : {}),
  };
}

const valueOf = <T>(settled: PromiseSettledResult<T>): T | undefined => (settled.status === "fulfilled" ? settled.value : undefined);
