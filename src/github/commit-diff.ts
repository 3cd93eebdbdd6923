import { httpStatusOf } from "../errors/index.js";
import { readError } from "./repo-reader.js";
import type { GitHubClient, RepoCoordinates } from "./repo-reader.js";

/** The compare API lists at most this many files, without paging them. */
const COMPARE_FILE_LIMIT = 300;

/**
 * Files that may differ between two commits, through the compare API (`base...head` lists changes since their
 * merge base): when `head` is ahead of `base`, exactly the changed files; when the two diverged, the changes of
 * both sides since the merge base. `complete` is false when GitHub's listing limit was reached. Undefined when
 * GitHub does not know one of the commits.
 */
export async function listFilesBetweenCommits(
  octokit: GitHubClient,
  at: RepoCoordinates & { base: string; head: string },
): Promise<{ files: string[]; complete: boolean } | undefined> {
  const one = await compare(octokit, at, at.base, at.head);
  if (!one) return undefined;
  if (one.status === "ahead" || one.status === "identical") return { files: one.files, complete: one.complete };
  const other = await compare(octokit, at, at.head, at.base);
  if (!other) return undefined;
  return { files: [...new Set([...one.files, ...other.files])].sort(), complete: one.complete && other.complete };
}

async function compare(
  octokit: GitHubClient,
  at: RepoCoordinates,
  base: string,
  head: string,
): Promise<{ status: string; files: string[]; complete: boolean } | undefined> {
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/compare/{basehead}", { owner: at.owner, repo: at.repo, basehead: `${base}...${head}` });
    const listed = res.data.files ?? [];
    // A rename changes both names: the old path left the sources, the new one came in.
    const files = listed.flatMap((f) => (f.previous_filename ? [f.previous_filename, f.filename] : [f.filename]));
    return { status: res.data.status, files, complete: listed.length < COMPARE_FILE_LIMIT };
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 404 || status === 422) return undefined;
    throw readError(`comparing ${base.slice(0, 7)}...${head.slice(0, 7)}`, err);
  }
}
