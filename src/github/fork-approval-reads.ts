import { httpStatusOf } from "../errors/index.js";
import type { PullRequestRef } from "../queue/index.js";
import { readError } from "./repo-reader.js";
import type { GitHubClient, RepoCoordinates } from "./repo-reader.js";

/** Roles that may approve a fork build: GitHub's `permission` is admin/write/read/none (maintain reads as write). */
const WRITE_PERMISSIONS: ReadonlySet<string> = new Set(["admin", "maintain", "write"]);

/**
 * Whether `username` has write access to the repository, from
 * `GET /repos/{owner}/{repo}/collaborators/{username}/permission`. A user GitHub does not know (404) has none.
 */
export async function hasWriteAccess(octokit: GitHubClient, at: RepoCoordinates & { username: string }): Promise<boolean> {
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", { owner: at.owner, repo: at.repo, username: at.username });
    return [res.data.permission, res.data.role_name].some((p) => typeof p === "string" && WRITE_PERMISSIONS.has(p));
  } catch (err) {
    if (httpStatusOf(err) === 404) return false;
    throw readError("reading a commenter's permission", err);
  }
}

/** An open pull request as the planner needs it, with its head commit now; undefined when closed or gone. */
export async function readOpenPullRequest(octokit: GitHubClient, at: RepoCoordinates & { pullNumber: number }): Promise<PullRequestRef | undefined> {
  let pr;
  try {
    ({ data: pr } = await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner: at.owner, repo: at.repo, pull_number: at.pullNumber }));
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw readError("reading a pull request", err);
  }
  const { head, base } = pr;
  if (pr.state !== "open" || !head.repo || typeof head.sha !== "string" || typeof base.sha !== "string") return undefined;
  return {
    number: at.pullNumber,
    headRef: head.ref,
    headSha: head.sha,
    baseRef: base.ref,
    baseSha: base.sha,
    headRepoFullName: head.repo.full_name,
    fork: head.repo.id !== base.repo.id,
    ...(typeof pr.author_association === "string" ? { authorAssociation: pr.author_association } : {}),
  };
}

/**
 * When the commit's first completed check run named `name` with conclusion `action_required` was written (its
 * `completed_at`, which the planner sets on creation); undefined when it has none.
 */
export async function actionRequiredSince(octokit: GitHubClient, at: RepoCoordinates & { sha: string; name: string }): Promise<Date | undefined> {
  let runs: Array<{ conclusion: string | null; completed_at: string | null }>;
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
      owner: at.owner,
      repo: at.repo,
      ref: at.sha,
      check_name: at.name,
      status: "completed",
      per_page: 100,
    });
    runs = res.data.check_runs;
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw readError("listing a commit's check runs", err);
  }
  const times = runs
    .flatMap((r) => (r.conclusion === "action_required" && typeof r.completed_at === "string" ? [Date.parse(r.completed_at)] : []))
    .filter((t) => Number.isFinite(t));
  return times.length > 0 ? new Date(Math.min(...times)) : undefined;
}
