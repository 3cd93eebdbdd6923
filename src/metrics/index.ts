// What an operator watches the app by: Prometheus metrics (recorded where things happen, or read from the parts' snapshots at scrape time), liveness and readiness.
export { recordFailover, recordRole } from "./app-metrics.js";
export { githubRequestMetrics } from "./github-metrics.js";
export { buildersCheck, readiness, redisCheck } from "./health.js";
export type { ReadinessCheck, ReadinessReport } from "./health.js";
export { createOperatorRoutes } from "./operator-routes.js";
export type { OperatorRoute } from "./operator-routes.js";
export { startOperatorServer } from "./operator-server.js";
export type { OperatorServer } from "./operator-server.js";
export { metricsRegistry } from "./registry.js";
export { recordRedelivery } from "./redelivery-metrics.js";
export { watchSources } from "./scrape-collectors.js";
export type { ScrapeSources } from "./scrape-collectors.js";
export { measuredSupersedes, measuredTrails } from "./trail-metrics.js";
export { measuredWebhooks } from "./webhook-metrics.js";
