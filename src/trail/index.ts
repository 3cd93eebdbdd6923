// A build's public record: its log page's store, its check run and commit status, its in-flight entry, written and ended in one place.
export type { BuildSucceeded, BuildTrail, BuildTrails, CancelOptions, FailedWhere } from "./build-trail.js";
export { GitHubTrails, checkRunTrail } from "./github-trails.js";
export { forwardingTrail } from "./forwarding-trail.js";
export type { GitHubTrailsDeps } from "./github-trails.js";
export { attemptCause } from "./attempt-cause.js";
export type { AttemptCause } from "./attempt-cause.js";
export { failureOf, scrubError } from "./failure-report.js";
export { InFlightBuilds, reconcileAbandonedBuilds } from "./in-flight-builds.js";
export type { InFlightBuild, JobStateLookup } from "./in-flight-builds.js";
export { LogStore } from "./log-store.js";
export type { LogEntry, LogSnapshot, LogStoreOptions } from "./log-store.js";
export type { LogRecord, StepStatus } from "./log-records.js";
export { isWellFormedLogToken, logPageUrl } from "./log-token.js";
export { LogWriter } from "./log-writer.js";
export { ProgressBridge } from "./progress-bridge.js";
