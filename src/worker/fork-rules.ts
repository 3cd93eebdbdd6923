import type { Probot } from "probot";
import type { OctokitRequest } from "../github/index.js";
import type { BuildJob } from "../queue/index.js";
import { gitPinsOf } from "./build-info-pins.js";
import { readPullRequestHead } from "./pull-request-head.js";

/** Why a build is not built (or its result is thrown away), as its trail ends it. */
export type NotBuilt =
  | { outcome: "neutral"; reason: string }
  | { outcome: "cancelled"; reason: string; logMessage: string };

const short = (sha: string): string => sha.slice(0, 7);

/**
 * The fork rules before a build: a private repository's fork is not built (cloning it would need this repository's
 * credentials), and a fork's pull request ref must still point at the commit. Undefined when it may be built.
 */
export async function forkNotBuilt(job: BuildJob, github: Pick<Probot, "auth">): Promise<NotBuilt | undefined> {
  if (!job.fork) return undefined;
  if (job.repository.private) {
    return { outcome: "neutral", reason: "Not built: pull requests from forks of a private repository are not built, because cloning them would need this repository's credentials." };
  }
  const request = (await github.auth(job.repository.installationId)).request;
  const moved = await pullRequestMovedOn(request, job);
  return moved === undefined ? undefined : { outcome: "cancelled", reason: moved, logMessage: `Not built: ${moved}.` };
}

/** After a fork's build: the commits BuildKit pinned must be the job's, else the result is discarded. */
export function forkBuiltOtherCommit(job: BuildJob, exporterResponse: Record<string, string>): NotBuilt | undefined {
  if (!job.fork) return undefined;
  const other = gitPinsOf(exporterResponse).find((pin) => pin !== job.sha);
  if (other === undefined) return undefined;
  const moved = `the pull request moved on to ${short(other)}`;
  return { outcome: "cancelled", reason: moved, logMessage: `Built the wrong commit, discarded: ${moved}.` };
}

/** Why a fork's build must not run (the PR ref no longer points at the sha), or undefined when it may. */
async function pullRequestMovedOn(request: OctokitRequest, job: BuildJob): Promise<string | undefined> {
  const number = job.pullRequest?.number ?? Number(/^refs\/pull\/(\d+)\/head$/.exec(job.gitRef)?.[1]);
  if (!Number.isSafeInteger(number)) return `the pull request ref ${job.gitRef} cannot be checked`;
  const head = await readPullRequestHead(request, { owner: job.repository.owner, repo: job.repository.repo, number });
  if (head === undefined) return `the pull request ref refs/pull/${number}/head is gone`;
  return head === job.sha ? undefined : `the pull request moved on to ${short(head)}`;
}
