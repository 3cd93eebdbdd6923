import { GitHubReporter } from "../github/reporter.js";
import type { OctokitRequest } from "../github/reporter.js";
import type { WriteBudget } from "../github/write-budget.js";

/**
 * The one reporter of a build: its planner-made check run (`buildkit-bot / <image>`) and the mirrored status. The
 * run's id may still be on its way from the planner (see CheckRunHandoff).
 */
export function reporterForBuild(
  request: OctokitRequest,
  budget: WriteBudget,
  build: { owner: string; repo: string; sha: string; image: string; checkRunId: number | Promise<number | undefined> },
  detailsUrl: string | undefined,
  progressIntervalMs?: number,
): GitHubReporter {
  return new GitHubReporter({
    request,
    budget,
    target: {
      owner: build.owner,
      repo: build.repo,
      sha: build.sha,
      image: build.image,
      ...(typeof build.checkRunId === "number" ? { checkRunId: build.checkRunId } : { checkRunIdLater: build.checkRunId }),
      ...(detailsUrl ? { detailsUrl } : {}),
    },
    ...(progressIntervalMs !== undefined ? { progressIntervalMs } : {}),
  });
}
