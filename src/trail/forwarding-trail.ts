import type { BuildTrail } from "./build-trail.js";

type TrailMethods = Omit<BuildTrail, "detailsUrl" | "startedAt" | "lost">;

/**
 * A trail that hands everything to `trail`, except the methods in `own`: for wrappers that add to one or two
 * outcomes (metrics, the cache report, a note on the success) and pass the rest through unchanged.
 */
export function forwardingTrail(trail: BuildTrail, own: Partial<TrailMethods>): BuildTrail {
  return {
    get detailsUrl() {
      return trail.detailsUrl;
    },
    get startedAt() {
      return trail.startedAt;
    },
    get lost() {
      return trail.lost;
    },
    line: (text) => trail.line(text),
    started: () => trail.started(),
    progress: (event) => trail.progress(event),
    succeeded: (result, summary) => trail.succeeded(result, summary),
    failed: (err, where) => trail.failed(err, where),
    retrying: (why, cause) => trail.retrying(why, cause),
    cancelled: (reason, options) => trail.cancelled(reason, options),
    superseded: (by) => trail.superseded(by),
    neutral: (reason) => trail.neutral(reason),
    stopped: (why) => trail.stopped(why),
    ...own,
  };
}
