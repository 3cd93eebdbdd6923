import type { QueueLog } from "../queue/index.js";
import type { BuildJob } from "../queue/index.js";
import { forwardingTrail } from "../trail/index.js";
import type { BuildTrail } from "../trail/index.js";
import { reportCache } from "./cache-report.js";
import type { CacheReportDeps } from "./cache-report.js";
import { StepTimeline } from "./step-timeline.js";

/** The report waits this long at most for Redis and GitHub: a check run is never held up for it. */
const REPORT_TIMEOUT_MS = 15_000;

/**
 * The build's trail, with a cache report added to its success: the solve's progress is followed step by step on
 * the way to the trail, and when the build succeeds the report is made (see reportCache) and its record kept. A
 * report that cannot be made is logged and left out; the build's outcome never depends on it.
 */
export function reportingCache(trail: BuildTrail, job: BuildJob, deps: CacheReportDeps & { log: QueueLog }): BuildTrail {
  const timeline = new StepTimeline();
  const report = (opts: { failed?: boolean } = {}) =>
    withTimeout(reportCache(job, timeline.steps(), deps, opts)).catch((err: unknown) => {
      deps.log.warn({ buildId: job.buildId, err: err instanceof Error ? err.message : String(err) }, "cache report left out");
      return undefined;
    });
  return forwardingTrail(trail, {
    progress: (event) => {
      timeline.onEvent(event);
      trail.progress(event);
    },
    succeeded: async (result, summary) => {
      const cacheReport = await report();
      return trail.succeeded({ ...result, ...(cacheReport ? { cacheReport } : {}) }, summary);
    },
    failed: async (err, where) => {
      const cacheReport = await report({ failed: true });
      return trail.failed(err, { ...where, ...(cacheReport ? { cacheReport } : {}) });
    },
  });
}

function withTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${REPORT_TIMEOUT_MS / 1000}s`)), REPORT_TIMEOUT_MS);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
