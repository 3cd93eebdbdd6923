import type { PullRequestRef } from "../queue/job-types.js";
import { RepoReadError } from "./repo-reader.js";
import type { GitHubClient, RepoCoordinates } from "./repo-reader.js";

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}

function readError(what: string, err: unknown): RepoReadError {
  const status = statusOf(err);
  return new RepoReadError(`${what} failed${status ? ` (HTTP ${status})` : ""}`, status, { cause: err });
}

/** Roles that may approve a fork build: GitHub's `permission` is admin/write/read/none (maintain reads as write). */
const WRITE_PERMISSIONS: ReadonlySet<string> = new Set(["admin", "maintain", "write"]);

/**
 * Whether `username` has write access to the repository, from
 * `GET /repos/{owner}/{repo}/collaborators/{username}/permission`. A user GitHub does not know (404) has none.
 */
export async function hasWriteAccess(octokit: GitHubClient, at: RepoCoordinates & { username: string }): Promise<boolean> {
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", { owner: at.owner, repo: at.repo, username: at.username });
    const data = res.data as { permission?: unknown; role_name?: unknown };
    return [data.permission, data.role_name].some((p) => typeof p === "string" && WRITE_PERMISSIONS.has(p));
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw readError("reading a commenter's permission", err);
  }
}

/** An open pull request as the planner needs it, with its head commit now; undefined when closed or gone. */
export async function readOpenPullRequest(octokit: GitHubClient, at: RepoCoordinates & { pullNumber: number }): Promise<PullRequestRef | undefined> {
  let data: Record<string, unknown>;
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner: at.owner, repo: at.repo, pull_number: at.pullNumber });
    data = res.data as unknown as Record<string, unknown>;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw readError("reading a pull request", err);
  }
  const head = data.head as { ref?: unknown; sha?: unknown; repo?: { id?: unknown; full_name?: unknown } | null } | undefined;
  const base = data.base as { ref?: unknown; sha?: unknown; repo?: { id?: unknown } } | undefined;
  if (data.state !== "open" || !head?.repo || typeof head.sha !== "string" || typeof base?.sha !== "string") return undefined;
  return {
    number: at.pullNumber,
    headRef: String(head.ref),
    headSha: head.sha,
    baseRef: String(base.ref),
    baseSha: base.sha,
    headRepoFullName: String(head.repo.full_name),
    fork: head.repo.id !== base.repo?.id,
    ...(typeof data.author_association === "string" ? { authorAssociation: data.author_association } : {}),
  };
}

/**
 * When the commit's first completed check run named `name` with conclusion `action_required` was written (its
 * `completed_at`, which the planner sets on creation); undefined when it has none.
 */
export async function actionRequiredSince(octokit: GitHubClient, at: RepoCoordinates & { sha: string; name: string }): Promise<Date | undefined> {
  let runs: Array<{ conclusion?: unknown; completed_at?: unknown }>;
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
      owner: at.owner,
      repo: at.repo,
      ref: at.sha,
      check_name: at.name,
      status: "completed",
      per_page: 100,
    });
    runs = (res.data as { check_runs?: typeof runs }).check_runs ?? [];
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw readError("listing a commit's check runs", err);
  }
  const times = runs
    .filter((r) => r.conclusion === "action_required" && typeof r.completed_at === "string")
    .map((r) => Date.parse(r.completed_at as string))
    .filter((t) => Number.isFinite(t));
  return times.length > 0 ? new Date(Math.min(...times)) : undefined;
}
