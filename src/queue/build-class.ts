import type { BuildJob } from "./job-types.js";

/**
 * A build's priority class: 0 for default-branch pushes and tags, 1 for other branches (and reruns outside a pull
 * request), 2 for pull requests. Lower goes first.
 */
export type BuildClass = 0 | 1 | 2;

export const BUILD_CLASSES: readonly BuildClass[] = [0, 1, 2];

export function buildClassOf(job: Pick<BuildJob, "reason" | "ref" | "pullRequest" | "repository">): BuildClass {
  if (job.reason === "pull_request" || job.pullRequest) return 2;
  if (job.ref?.startsWith("refs/tags/")) return 0;
  if (job.ref === `refs/heads/${job.repository.defaultBranch}`) return 0;
  return 1;
}

/**
 * BullMQ priorities (1 runs first). Every job gets one: BullMQ runs a job without a priority before all prioritised
 * ones, and in LIFO order after a promote. Builds are 1–3 by class; a turn (see fair-share.ts) comes after every build
 * already let through, so a build a turn promotes takes the slot the turn leaves.
 */
export function bullPriorityOf(cls: BuildClass): number {
  return cls + 1;
}

export const TURN_PRIORITY = 10;
