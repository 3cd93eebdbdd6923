import { RepoReadError } from "../github/index.js";
import type { OctokitRequest } from "../github/index.js";

/**
 * The commit `refs/pull/<number>/head` of the base repository points at now, or undefined when the ref is gone.
 * Fork pull requests are fetched through this ref, which moves when the fork's branch does: the worker compares
 * it with the sha it was asked to build before building.
 */
export async function readPullRequestHead(request: OctokitRequest, at: { owner: string; repo: string; number: number }): Promise<string | undefined> {
  try {
    const { data } = await request("GET /repos/{owner}/{repo}/git/ref/{ref}", { owner: at.owner, repo: at.repo, ref: `pull/${at.number}/head` });
    return data.object.sha;
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (status === 404) return undefined;
    throw new RepoReadError(
      `reading refs/pull/${at.number}/head failed${typeof status === "number" ? ` (HTTP ${status})` : ""}`,
      typeof status === "number" ? status : undefined,
      { cause: err },
    );
  }
}
