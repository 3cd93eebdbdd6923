import type { ProgressEvent } from "@buildkit-bot/buildkit";
import type { SupersedeListener } from "../queue/index.js";
import { forwardingTrail } from "../trail/index.js";
import type { BuildTrail, BuildTrails } from "../trail/index.js";
import { buildPushSeconds, buildQueueWaitSeconds, buildSolveSeconds, buildsFinished, recordSteps } from "./app-metrics.js";

/**
 * Steps whose time is the export and push rather than the solve: buildkitd's exporter (which pushes) and cache
 * export, and the Engine's push step after a classic build (`pushing <name>`).
 */
const PUSH_STEP = /^(exporting to (image|oci image format|docker image format)|exporting cache|pushing )/;

/**
 * The build trails, measured: every way an attempt ends counts once under its conclusion, a success adds its steps
 * and its solve and push times, and a build's first attempt its time in the queue. The trail itself is unchanged;
 * each record is one counter or histogram call.
 */
export function measuredTrails(trails: BuildTrails): BuildTrails {
  return {
    async begin(job, options) {
      const began = Date.now();
      const trail = await trails.begin(job, options);
      // The first attempt's start is set by this begin; a later attempt keeps the first one's.
      const queuedAt = Date.parse(job.queuedAt);
      if (trail.startedAt >= began && Number.isFinite(queuedAt)) buildQueueWaitSeconds.observe(Math.max(0, trail.startedAt - queuedAt) / 1000);
      return measuredTrail(trail);
    },
  };
}

/** The queue's supersede listener, counting each build it ends as superseded. */
export function measuredSupersedes<L extends SupersedeListener>(listener: L): SupersedeListener {
  return {
    async superseded(build, by) {
      await listener.superseded(build, by);
      buildsFinished.labels("superseded").inc();
    },
  };
}

function measuredTrail(trail: BuildTrail): BuildTrail {
  let solveStarted: number | undefined;
  let pushMs = 0;
  const pushSteps = new Map<string, number>();
  let counted = false;
  const conclude = (conclusion: string): void => {
    if (counted) return;
    counted = true;
    buildsFinished.labels(conclusion).inc();
  };
  const track = (event: ProgressEvent): void => {
    if (event.type === "step-started" && PUSH_STEP.test(event.name)) pushSteps.set(event.id, event.at.getTime());
    else if (event.type === "step-completed" || event.type === "step-cached" || event.type === "step-failed") {
      const from = pushSteps.get(event.id);
      if (from === undefined) return;
      pushSteps.delete(event.id);
      pushMs += Math.max(0, event.at.getTime() - from);
    }
  };
  return forwardingTrail(trail, {
    started: () => {
      solveStarted ??= Date.now();
      return trail.started();
    },
    progress: (event: ProgressEvent) => {
      track(event);
      trail.progress(event);
    },
    succeeded: async (...args: Parameters<BuildTrail["succeeded"]>) => {
      const [result] = args;
      await trail.succeeded(...args);
      conclude("success");
      recordSteps(result.stepsTotal ?? 0, result.cachedSteps ?? 0);
      if (solveStarted !== undefined) {
        const elapsed = Date.now() - solveStarted;
        buildPushSeconds.observe(pushMs / 1000);
        buildSolveSeconds.observe(Math.max(0, elapsed - pushMs) / 1000);
      }
    },
    failed: async (...args: Parameters<BuildTrail["failed"]>) => {
      await trail.failed(...args);
      conclude("failure");
    },
    retrying: async (...args: Parameters<BuildTrail["retrying"]>) => {
      await trail.retrying(...args);
      conclude("retrying");
    },
    cancelled: async (...args: Parameters<BuildTrail["cancelled"]>) => {
      await trail.cancelled(...args);
      conclude("cancelled");
    },
    superseded: async (...args: Parameters<BuildTrail["superseded"]>) => {
      await trail.superseded(...args);
      conclude("superseded");
    },
    neutral: async (...args: Parameters<BuildTrail["neutral"]>) => {
      await trail.neutral(...args);
      conclude("neutral");
    },
    stopped: async (...args: Parameters<BuildTrail["stopped"]>) => {
      await trail.stopped(...args);
      conclude("stopped");
    },
  });
}
