import { actionRequiredSince, hasWriteAccess, readOpenPullRequest, ACCOUNT_CHECK_RUN_NAME } from "../github/index.js";
import type { GitHubClient, PlannerCheckRuns } from "../github/index.js";
import type { EventJob, QueueLog } from "../queue/index.js";
import type { ForkPolicy } from "../tenancy/index.js";
import type { ForkApprovals } from "./fork-approvals.js";
import type { PlanTarget } from "./plan-target.js";

/** Authors GitHub calls part of the repository: their fork pull requests build at once under `approve`. */
const TRUSTED_ASSOCIATIONS: ReadonlySet<string> = new Set(["OWNER", "MEMBER", "COLLABORATOR"]);

/**
 * A `/build` comment's job made into the pull_request job of the PR's head commit now, with the approval kept on
 * it for the gate; undefined when there is nothing to approve (the PR is closed, gone, or not from a fork), or when
 * the head is not a commit the commenter can have seen: the comment approves only a commit whose `action_required`
 * run existed before the comment was written. A commit pushed after the comment waits for its own approval, so a
 * fork cannot slip a new commit in between a maintainer's `/build` and our reading of the pull request.
 */
export async function pullRequestJobOfComment(job: EventJob, octokit: GitHubClient, log: QueueLog): Promise<EventJob | undefined> {
  const number = job.approval?.pullNumber;
  if (number === undefined) return undefined;
  const repo = job.repository;
  const pr = await readOpenPullRequest(octokit, { owner: repo.owner, repo: repo.repo, pullNumber: number });
  const where = { deliveryId: job.deliveryId, repo: `${repo.owner}/${repo.repo}`, pullNumber: number };
  if (!pr || !pr.fork) {
    log.info(where, "/build on a pull request that is closed or not from a fork: nothing to approve");
    return undefined;
  }
  const asked = await actionRequiredSince(octokit, { owner: repo.owner, repo: repo.repo, sha: pr.headSha, name: ACCOUNT_CHECK_RUN_NAME });
  const commentedAt = job.approval?.at === undefined ? Number.NaN : Date.parse(job.approval.at);
  // GitHub gives the comment's time in whole seconds: the run's time is compared at that precision.
  if (!asked || !(Math.floor(asked.getTime() / 1000) * 1000 <= commentedAt)) {
    log.info({ ...where, sha: pr.headSha, requestedBy: job.approval?.by }, "/build does not approve the head commit: it was not waiting for approval when the comment was written");
    return undefined;
  }
  return { ...job, event: "pull_request", reason: "pull_request", sha: pr.headSha, pullRequest: pr };
}

export interface ForkGateContext {
  octokit: GitHubClient;
  approvals: ForkApprovals;
  checkRuns: PlannerCheckRuns;
  /** The external id of the gate's one check run (the PR target, all images), so its button rebuilds them all. */
  externalId(): Promise<string>;
  log: QueueLog;
  where: Record<string, unknown>;
}

/**
 * Whether a fork pull request's commit may be built under the account's fork policy. `build`: always. `never`:
 * one neutral check run saying so. `approve`: when the author is an owner, member or collaborator, when someone
 * with write access approved this very commit (now, by comment or button, or earlier), else one
 * `action_required` check run asking for approval. A request by someone without write access is refused
 * silently (logged): a reply to every stranger's `/build` would be spam.
 */
export async function forkBuildAllowed(job: EventJob, target: Extract<PlanTarget, { kind: "pull_request" }>, policy: ForkPolicy, ctx: ForkGateContext): Promise<boolean> {
  if (job.approval && policy !== "approve") {
    // Only `approve` asks for approvals: a `/build` or a stale button elsewhere neither builds nor reports again.
    ctx.log.info({ ...ctx.where, requestedBy: job.approval.by, policy }, "fork build approval ignored: the account's fork policy does not ask for one");
    return false;
  }
  if (policy === "build") return true;
  const repo = job.repository;
  const detailsUrl = `${repo.cloneUrl.replace(/\.git$/, "")}/pull/${target.number}`;
  const place = { repository: repo, headSha: job.sha, pullNumber: target.number, detailsUrl };
  if (policy === "never") {
    await ctx.checkRuns.createForkGateCheckRun({ ...place, policy, externalId: await ctx.externalId() });
    ctx.log.info(ctx.where, "fork pull request not built: the account's fork policy is never");
    return false;
  }
  const at = { installationId: repo.installationId, repoId: repo.repoId, pullNumber: target.number, sha: job.sha };
  const association = job.event === "pull_request" ? job.pullRequest?.authorAssociation : undefined;
  if (association && TRUSTED_ASSOCIATIONS.has(association)) {
    // Recorded so a later Re-run of this commit (whose payload names no author) builds too.
    await ctx.approvals.approve(at, `author:${association}`);
    return true;
  }
  const request = job.approval;
  if (request) {
    if (await hasWriteAccess(ctx.octokit, { owner: repo.owner, repo: repo.repo, username: request.by })) {
      await ctx.approvals.approve(at, request.by);
      ctx.log.info({ ...ctx.where, approvedBy: request.by, via: request.via }, "fork build approved");
      return true;
    }
    ctx.log.info({ ...ctx.where, requestedBy: request.by, via: request.via }, "fork build approval refused: no write access");
    return false;
  }
  if (await ctx.approvals.approvedBy(at)) return true;
  await ctx.checkRuns.createForkGateCheckRun({ ...place, policy, externalId: await ctx.externalId() });
  ctx.log.info(ctx.where, "fork pull request waits for a maintainer's approval");
  return false;
}
