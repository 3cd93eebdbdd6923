import { Counter } from "prom-client";
import { metricsRegistry } from "./registry.js";

const webhookRedeliveries = new Counter({
  name: "buildkit_bot_webhook_redeliveries_total",
  help: "Failed webhook deliveries the missed-webhook recovery asked GitHub to redeliver, by event.",
  labelNames: ["event"] as const,
  registers: [metricsRegistry],
});

/** One redelivery asked for (src/recovery's onRedelivered). `event` is one the app handles: a bounded label. */
export function recordRedelivery(event: string): void {
  webhookRedeliveries.labels(event).inc();
}
