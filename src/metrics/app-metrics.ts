import { Counter, Gauge, Histogram } from "prom-client";
import { metricsRegistry } from "./registry.js";

/**
 * The metrics recorded as things happen (counters and histograms: one call on the hot path). Those read from a
 * snapshot at scrape time are in scrape-collectors.ts. Labels have bounded values only: event names from a fixed
 * list, outcomes, builder names from the operator's file, installation ids; never a sha, tag, repository or URL.
 */
const registers = [metricsRegistry];

/** Seconds, from a millisecond webhook answer to a long build. */
const FAST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BUILD_BUCKETS = [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600];

export const webhookDeliveries = new Counter({
  name: "buildkit_bot_webhook_deliveries_total",
  help: "Webhook deliveries answered, by event and outcome (accepted 2xx, refused 4xx, unavailable 503, failed other 5xx).",
  labelNames: ["event", "outcome"] as const,
  registers,
});

export const webhookIngestSeconds = new Histogram({
  name: "buildkit_bot_webhook_ingest_seconds",
  help: "Time from a webhook request's arrival to its answer (read, verified, parsed, stored as an event job).",
  labelNames: ["outcome"] as const,
  buckets: FAST_BUCKETS,
  registers,
});

export const buildQueueWaitSeconds = new Histogram({
  name: "buildkit_bot_build_queue_wait_seconds",
  help: "Time a build waited from being queued to its first attempt's start.",
  buckets: BUILD_BUCKETS,
  registers,
});

export const buildSolveSeconds = new Histogram({
  name: "buildkit_bot_build_solve_seconds",
  help: "Time a successful attempt spent solving (from the solve's start to its end, less the export and push).",
  buckets: BUILD_BUCKETS,
  registers,
});

export const buildPushSeconds = new Histogram({
  name: "buildkit_bot_build_push_seconds",
  help: "Time a successful attempt spent exporting and pushing the image and its cache.",
  buckets: BUILD_BUCKETS,
  registers,
});

export const buildsFinished = new Counter({
  name: "buildkit_bot_builds_total",
  help: "Build attempts that ended, by conclusion (success, failure, cancelled, neutral, superseded, stopped, retrying).",
  labelNames: ["conclusion"] as const,
  registers,
});

export const buildSteps = new Counter({
  name: "buildkit_bot_build_steps_total",
  help: "Steps of successful builds, as the daemon counts them.",
  registers,
});

export const buildCachedSteps = new Counter({
  name: "buildkit_bot_build_cached_steps_total",
  help: "Steps of successful builds that came from the cache.",
  registers,
});

export const buildCacheHitRatio = new Gauge({
  name: "buildkit_bot_build_cache_hit_ratio",
  help: "Cached steps over all steps of the successful builds this process ran (rate() of the two counters gives it over a window).",
  registers,
  collect() {
    const total = stepTotals.total;
    this.set(total > 0 ? stepTotals.cached / total : 0);
  },
});
const stepTotals = { total: 0, cached: 0 };

export const githubRequests = new Counter({
  name: "buildkit_bot_github_requests_total",
  help: "Requests to GitHub's API after the webhook, by method and answer (2xx, 3xx, 4xx, 5xx, error when none came).",
  labelNames: ["method", "status"] as const,
  registers,
});

export const githubWrites = new Counter({
  name: "buildkit_bot_github_writes_total",
  help: "Writes to GitHub (POST, PATCH, PUT, DELETE: check runs, statuses; not installation-token mints), by answer.",
  labelNames: ["status"] as const,
  registers,
});

export const githubRefusals = new Counter({
  name: "buildkit_bot_github_rate_limited_total",
  help: "Requests GitHub refused for a rate limit: secondary (a 403 or 429 that pauses every write of the app) or primary (one installation's hourly limit).",
  labelNames: ["limit"] as const,
  registers,
});

export const builderFailovers = new Counter({
  name: "buildkit_bot_builder_failovers_total",
  help: "Builds moved off a builder: it refused the connection when the build started (refused), or died under the build (lost).",
  labelNames: ["builder", "kind"] as const,
  registers,
});

/** One successful build's steps. */
export function recordSteps(total: number, cached: number): void {
  if (!(total >= 0) || !(cached >= 0)) return;
  stepTotals.total += total;
  stepTotals.cached += cached;
  buildSteps.inc(total);
  buildCachedSteps.inc(cached);
}

const appInfo = new Gauge({
  name: "buildkit_bot_info",
  help: "Always 1; its role label says which roles this process runs (web, worker or all).",
  labelNames: ["role"] as const,
  registers,
});

const CONCLUSIONS = ["success", "failure", "cancelled", "neutral", "superseded", "stopped", "retrying"];

/**
 * Names the process's role. Build conclusions (where builds run) and rate-limit refusals start at 0, so rate() and
 * increase() see a series before the first one happens.
 */
export function recordRole(role: string): void {
  appInfo.reset();
  appInfo.labels(role).set(1);
  if (role !== "web") for (const conclusion of CONCLUSIONS) buildsFinished.labels(conclusion).inc(0);
  for (const limit of ["secondary", "primary"]) githubRefusals.labels(limit).inc(0);
}

/** A builder refused a build's connection (the build went to the next one) or died under a build. */
export function recordFailover(builder: string, kind: "refused" | "lost"): void {
  builderFailovers.labels(builder, kind).inc();
}
