import type { OctokitRequest } from "../github/reporter.js";
import type { WriteBudget } from "../github/write-budget.js";
import type { LogStore } from "../web/log-store.js";
import { reporterForBuild } from "./build-reporter.js";
import type { InFlightBuild } from "./in-flight-builds.js";

/**
 * Concludes the check run of a build nobody will finish (see `reconcileAbandonedBuilds`) as failed, unless it is
 * already completed, and closes its log.
 */
export async function concludeAbandonedBuild(
  request: OctokitRequest,
  budget: WriteBudget,
  logs: LogStore,
  entry: InFlightBuild,
  message: string,
): Promise<void> {
  const { data } = await request("GET /repos/{owner}/{repo}/check-runs/{check_run_id}", {
    owner: entry.owner,
    repo: entry.repo,
    check_run_id: entry.checkRunId,
  });
  if ((data as { status?: unknown }).status !== "completed") {
    await reporterForBuild(request, budget, entry, entry.detailsUrl).checkRunFailed({ message, log: [] });
  }
  await logs.finish(entry.buildId, "failure", message);
}
