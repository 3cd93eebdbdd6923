import type { OctokitRequest } from "../github/reporter.js";
import type { WriteBudget } from "../github/write-budget.js";
import type { CheckRunHandoff } from "../queue/check-run-handoff.js";
import { TransientError } from "../queue/queue-errors.js";
import type { LogStore } from "../web/log-store.js";
import { reporterForBuild } from "./build-reporter.js";
import type { InFlightBuild } from "./in-flight-builds.js";

/** How long a build's check run may stay "being created" before the reconciler stops waiting for it. */
const HANDOFF_PATIENCE_MS = 60 * 60_000;

/**
 * Concludes the check run of a build nobody will finish (see `reconcileAbandonedBuilds`) as failed, unless it is
 * already completed, and closes its log. A build whose run the planner withdrew (it could not be created; the
 * event is planned again) gets no GitHub write at all: its commit status belongs to the build that replaces it.
 */
export async function concludeAbandonedBuild(
  request: OctokitRequest,
  budget: WriteBudget,
  logs: LogStore,
  handoff: CheckRunHandoff,
  entry: InFlightBuild,
  message: string,
): Promise<void> {
  const checkRunId = entry.checkRunId ?? (await checkRunOf(handoff, entry));
  if (checkRunId !== undefined) {
    const { data } = await request("GET /repos/{owner}/{repo}/check-runs/{check_run_id}", {
      owner: entry.owner,
      repo: entry.repo,
      check_run_id: checkRunId,
    });
    if ((data as { status?: unknown }).status !== "completed") {
      await reporterForBuild(request, budget, { ...entry, checkRunId }, entry.detailsUrl).checkRunFailed({ message, log: [] });
    }
  }
  await logs.finish(entry.buildId, "failure", message);
}

async function checkRunOf(handoff: CheckRunHandoff, entry: InFlightBuild): Promise<number | undefined> {
  const state = await handoff.read(entry.buildId);
  if (state.kind === "created") return state.checkRunId;
  if (state.kind === "withdrawn") return undefined;
  if (Date.now() - Date.parse(entry.startedAt) > HANDOFF_PATIENCE_MS) return undefined;
  throw new TransientError("its check run is still being created by the planner");
}
