import type { OctokitRequest } from "./octokit-request.js";
import { AppError, httpStatusOf } from "../errors/index.js";

/** Any Octokit (Probot's included): only its typed `request` is used, so plugins don't matter. */
export interface GitHubClient {
  request: OctokitRequest;
}

export interface RepoCoordinates {
  owner: string;
  repo: string;
}

/**
 * A GitHub read failed for a reason other than "not there" (5xx, rate limit, permissions, network). Transient: the
 * cause is on GitHub's side or in the installation's settings, not in the commit, so the job is tried again.
 */
export class RepoReadError extends AppError {
  readonly code = "GITHUB_READ_FAILED";
  override readonly transient = true;
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A failed GitHub read as a RepoReadError: `<what> failed (HTTP <status>)`, the request's error as its cause. */
export function readError(what: string, err: unknown): RepoReadError {
  const status = httpStatusOf(err);
  // Octokit's messages carry the URL and GitHub's text, never the token; keep only the status to be safe.
  return new RepoReadError(`${what} failed${status ? ` (HTTP ${status})` : ""}`, status, { cause: err });
}

/**
 * A file as the contents API describes it: its text, or only its size when GitHub leaves the content out (files
 * over 1 MB: `"encoding": "none"`, empty content).
 */
export type RepoFileEntry = { kind: "text"; text: string } | { kind: "too-large"; bytes: number };

/** A file at a commit, branch or tag, without downloading one over 1 MB; undefined when it (or the ref) does not exist. */
export async function readRepoFileEntry(
  octokit: GitHubClient,
  at: RepoCoordinates & { path: string; ref: string },
): Promise<RepoFileEntry | undefined> {
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: at.owner,
      repo: at.repo,
      path: at.path,
      ref: at.ref,
    });
    const { data } = res;
    if (Array.isArray(data) || data.type !== "file") return undefined;
    if (data.encoding === "none" && typeof data.size === "number") return { kind: "too-large", bytes: data.size };
    if (data.encoding !== "base64" || typeof data.content !== "string") {
      throw new RepoReadError(`reading ${at.path}: unexpected encoding "${String(data.encoding)}"`, res.status);
    }
    return { kind: "text", text: Buffer.from(data.content, "base64").toString("utf8") };
  } catch (err) {
    if (err instanceof RepoReadError) throw err;
    if (httpStatusOf(err) === 404) return undefined;
    throw readError(`reading ${at.path} at ${at.ref}`, err);
  }
}

/** Text of a file at a commit, branch or tag (one over 1 MB through the raw media type); undefined when absent. */
export async function readRepoFile(
  octokit: GitHubClient,
  at: RepoCoordinates & { path: string; ref: string },
): Promise<string | undefined> {
  const entry = await readRepoFileEntry(octokit, at);
  if (entry?.kind !== "too-large") return entry?.text;
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: at.owner,
      repo: at.repo,
      path: at.path,
      ref: at.ref,
      headers: { accept: "application/vnd.github.raw" },
    });
    // Octokit gives a body of this media type as an ArrayBuffer (a string when the server labels it text).
    const data: unknown = res.data;
    return typeof data === "string" ? data : Buffer.from(data as ArrayBuffer).toString("utf8");
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw readError(`reading ${at.path} at ${at.ref}`, err);
  }
}

/** The compare API lists at most this many files, without paging them; a diff that reaches it may be incomplete. */
const COMPARE_FILE_LIMIT = 300;
/** GitHub lists at most this many files of a pull request. */
const PULL_FILE_LIMIT = 3000;
const ZERO_SHA = /^0+$/;

/**
 * Files changed between two commits of a push, or undefined when that can't be known: a new branch (`before` is
 * all zeros), a force-push, a base GitHub no longer has, or a diff too large for the API to list completely.
 */
export async function listPushChangedFiles(
  octokit: GitHubClient,
  at: RepoCoordinates & { before: string | undefined; after: string },
): Promise<string[] | undefined> {
  if (!at.before || ZERO_SHA.test(at.before)) return undefined;
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/compare/{basehead}", {
      owner: at.owner,
      repo: at.repo,
      basehead: `${at.before}...${at.after}`,
    });
    // "diverged"/"behind": a force-push. Files only the old head had changed are not in this diff, yet the last
    // build of the branch contained them, so every image is rebuilt.
    if (res.data.status !== "ahead" && res.data.status !== "identical") return undefined;
    const files = res.data.files ?? [];
    if (files.length >= COMPARE_FILE_LIMIT) return undefined;
    return changedPaths(files);
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 404 || status === 422) return undefined;
    throw readError(`comparing ${at.before.slice(0, 7)}...${at.after.slice(0, 7)}`, err);
  }
}

/** Files a pull request changes (every page), or undefined when GitHub's listing limit is reached. */
export async function listPullRequestFiles(
  octokit: GitHubClient,
  at: RepoCoordinates & { pullNumber: number },
): Promise<string[] | undefined> {
  const perPage = 100;
  const files: Array<{ filename: string; previous_filename?: string }> = [];
  for (let page = 1; ; page++) {
    let res;
    try {
      res = await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}/files", {
        owner: at.owner,
        repo: at.repo,
        pull_number: at.pullNumber,
        per_page: perPage,
        page,
      });
    } catch (err) {
      throw readError(`listing the files of pull request #${at.pullNumber}`, err);
    }
    files.push(...res.data);
    const link = typeof res.headers.link === "string" ? res.headers.link : "";
    if (res.data.length < perPage || !/rel="next"/.test(link)) break;
  }
  if (files.length >= PULL_FILE_LIMIT) return undefined;
  return changedPaths(files);
}

/** A renamed file counts under both names: a filter on the old location must notice it moved away. */
function changedPaths(files: ReadonlyArray<{ filename: string; previous_filename?: string }>): string[] {
  const out = new Set<string>();
  for (const f of files) {
    out.add(f.filename);
    if (f.previous_filename) out.add(f.previous_filename);
  }
  return [...out];
}

/** Sha the branch points at now, or undefined when the branch no longer exists. */
export async function readBranchHead(
  octokit: GitHubClient,
  at: RepoCoordinates & { branch: string },
): Promise<string | undefined> {
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
      owner: at.owner,
      repo: at.repo,
      ref: `heads/${at.branch}`,
    });
    return res.data.object.sha;
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw readError(`reading the head of branch ${at.branch}`, err);
  }
}

/** The git tree of a commit (`GET /repos/{owner}/{repo}/git/commits/{sha}` → `tree.sha`): two commits with one tree have the same files. */
export async function readCommitTree(octokit: GitHubClient, at: RepoCoordinates & { sha: string }): Promise<string> {
  let tree: unknown;
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/git/commits/{commit_sha}", { owner: at.owner, repo: at.repo, commit_sha: at.sha });
    tree = res.data.tree?.sha;
  } catch (err) {
    throw readError(`reading commit ${at.sha.slice(0, 7)}`, err);
  }
  if (typeof tree !== "string" || !/^[0-9a-f]{40,64}$/.test(tree)) throw new RepoReadError(`reading commit ${at.sha.slice(0, 7)}: no tree in GitHub's answer`, undefined);
  return tree;
}
