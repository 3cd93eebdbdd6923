import type { EventJob } from "../queue/index.js";

/**
 * What a build is for, independent of the event that asked for it. A `branch` target with `pullRequest` is the
 * merged plan of a commit that is both a branch head and the head of a same-repository pull request.
 */
export type PlanTarget =
  | { kind: "branch"; branch: string; pullRequest?: { number: number; baseRef: string } }
  | { kind: "tag"; tag: string }
  | { kind: "pull_request"; number: number; baseRef: string; fork: boolean };

const ZERO_SHA = /^0+$/;

/**
 * GitHub's merge queue tests a group on `gh-readonly-queue/<base>/pr-<n>-<sha>`: the base branch it will be merged
 * into and the last pull request in it. Such a branch is planned as a merge group (commit tags only, no cache of its
 * own, pushed as the pull requests' images are); undefined for any other branch.
 */
export function mergeQueueOf(branch: string): { base: string; pr: number } | undefined {
  const m = /^gh-readonly-queue\/(.+)\/pr-(\d+)-[0-9a-f]{40,64}$/.exec(branch);
  return m ? { base: m[1]!, pr: Number(m[2]) } : undefined;
}

/** The target of a push or pull_request event; undefined for refs we don't build (notes, deleted branches…). */
export function targetOfEvent(job: EventJob): PlanTarget | undefined {
  if (ZERO_SHA.test(job.sha)) return undefined;
  if (job.pullRequest && (job.event === "pull_request" || !job.ref)) {
    const pr = job.pullRequest;
    return { kind: "pull_request", number: pr.number, baseRef: pr.baseRef, fork: pr.fork };
  }
  if (job.ref?.startsWith("refs/heads/")) {
    const branch = job.ref.slice("refs/heads/".length);
    const pr = job.pullRequest && !job.pullRequest.fork ? job.pullRequest : undefined;
    return pr ? { kind: "branch", branch, pullRequest: { number: pr.number, baseRef: pr.baseRef } } : { kind: "branch", branch };
  }
  if (job.ref?.startsWith("refs/tags/")) return { kind: "tag", tag: job.ref.slice("refs/tags/".length) };
  return undefined;
}

/** For a same-repository pull request: the merged target (branch plan plus the PR). */
export function mergedTargetOfPullRequest(job: EventJob): PlanTarget | undefined {
  const pr = job.pullRequest;
  if (!pr || pr.fork) return undefined;
  return { kind: "branch", branch: pr.headRef, pullRequest: { number: pr.number, baseRef: pr.baseRef } };
}

/** Where the config is read: a fork's pull request uses its base branch, so the fork cannot change the policy. */
export function configRef(target: PlanTarget, sha: string): string {
  return target.kind === "pull_request" && target.fork ? target.baseRef : sha;
}

export function describeTarget(target: PlanTarget): string {
  switch (target.kind) {
    case "branch": {
      const queue = mergeQueueOf(target.branch);
      if (queue) return `merge queue of ${queue.base} (PR #${queue.pr})`;
      return target.pullRequest ? `branch ${target.branch} (PR #${target.pullRequest.number})` : `branch ${target.branch}`;
    }
    case "tag":
      return `tag ${target.tag}`;
    case "pull_request":
      return `${target.fork ? "fork " : ""}pull request #${target.number}`;
  }
}
