import { collectDefaultMetrics, Registry } from "prom-client";

/**
 * The process's one metrics registry: Node's own process metrics (CPU, memory, event-loop lag, GC) and every
 * `buildkit_bot_*` metric. Module-level on purpose, as prom-client metrics are: a hot path records with one call and
 * no object to pass around, and an app started twice in one process (tests) keeps counting into the same series.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });
