import { collectDefaultMetrics, Registry } from "prom-client";
import { EVENT_LOOP_LAG_METRICS, registerEventLoopLag } from "./event-loop-lag.js";

/** monitorEventLoopDelay's longest period (int32 ms, about 25 days): a sampling timer that never fires. */
const NEVER_MS = 2 ** 31 - 1;

/**
 * The process's one metrics registry: Node's own process metrics (CPU, memory, event-loop lag, GC) and every
 * `buildkit_bot_*` metric. Module-level on purpose, as prom-client metrics are: a hot path records with one call and
 * no object to pass around, and an app started twice in one process (tests) keeps counting into the same series.
 */
export const metricsRegistry = new Registry();
// prom-client's own event-loop lag histogram samples every 10 ms at least (its values include the period), and its
// default metrics cannot leave it out: it gets a period that never comes, and its series are replaced by ours.
collectDefaultMetrics({ register: metricsRegistry, eventLoopMonitoringPrecision: NEVER_MS });
for (const name of EVENT_LOOP_LAG_METRICS) metricsRegistry.removeSingleMetric(name);
registerEventLoopLag(metricsRegistry);
