import { monitorEventLoopDelay } from "node:perf_hooks";
import { Gauge } from "prom-client";
import type { Registry } from "prom-client";

/**
 * How often the event loop's delay is sampled. prom-client samples every 10 ms: a timer that woke an idle process
 * 100 times a second, nearly all of an idle web role's CPU (180 ms per 30 s idle, 20 ms without it). A stall is seen
 * when a sample falls due during it, so a 100 ms period still catches any stall of 100 ms or more, and shorter ones
 * in proportion to their length.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** prom-client's event-loop lag series (its eventLoopLag default metric), which `registerEventLoopLag` provides. */
export const EVENT_LOOP_LAG_METRICS = [
  "nodejs_eventloop_lag_seconds",
  "nodejs_eventloop_lag_min_seconds",
  "nodejs_eventloop_lag_max_seconds",
  "nodejs_eventloop_lag_mean_seconds",
  "nodejs_eventloop_lag_stddev_seconds",
  "nodejs_eventloop_lag_p50_seconds",
  "nodejs_eventloop_lag_p90_seconds",
  "nodejs_eventloop_lag_p99_seconds",
] as const;

/**
 * The event-loop lag series prom-client's default metrics have, with the same names, helps and aggregators, sampled
 * every `sampleMs`. Unlike prom-client's, the summaries are the delay past the sample's due time: Node's histogram
 * records the whole interval between two samples (never less than the period), so prom-client's read 10 ms on an
 * idle loop, and would read `sampleMs`. `nodejs_eventloop_lag_seconds` is, as in prom-client, the wait for a
 * setImmediate started at the previous scrape.
 */
export function registerEventLoopLag(register: Registry, sampleMs = EVENT_LOOP_SAMPLE_MS): void {
  const histogram = monitorEventLoopDelay({ resolution: sampleMs });
  histogram.enable();
  const periodNs = sampleMs * 1e6;
  const lagSeconds = (ns: number): number => Math.max(0, ns - periodNs) / 1e9;
  const registers = [register];
  const gauge = (name: (typeof EVENT_LOOP_LAG_METRICS)[number], help: string, aggregator: "min" | "max" | "average") =>
    new Gauge({ name, help, registers, aggregator });

  // Registered first, as prom-client does, so that its collect sets the others before they are read: each scrape
  // reports the samples since the last one.
  new Gauge({
    name: "nodejs_eventloop_lag_seconds",
    help: "Lag of event loop in seconds.",
    registers,
    aggregator: "average",
    collect() {
      const start = process.hrtime.bigint();
      setImmediate(() => this.set(Number(process.hrtime.bigint() - start) / 1e9));
      if (histogram.count > 0) {
        min.set(lagSeconds(histogram.min));
        max.set(lagSeconds(histogram.max));
        mean.set(lagSeconds(histogram.mean));
        stddev.set(histogram.stddev / 1e9);
        p50.set(lagSeconds(histogram.percentile(50)));
        p90.set(lagSeconds(histogram.percentile(90)));
        p99.set(lagSeconds(histogram.percentile(99)));
      }
      histogram.reset();
    },
  });

  const min = gauge("nodejs_eventloop_lag_min_seconds", "The minimum recorded event loop delay.", "min");
  const max = gauge("nodejs_eventloop_lag_max_seconds", "The maximum recorded event loop delay.", "max");
  const mean = gauge("nodejs_eventloop_lag_mean_seconds", "The mean of the recorded event loop delays.", "average");
  const stddev = gauge("nodejs_eventloop_lag_stddev_seconds", "The standard deviation of the recorded event loop delays.", "average");
  const p50 = gauge("nodejs_eventloop_lag_p50_seconds", "The 50th percentile of the recorded event loop delays.", "average");
  const p90 = gauge("nodejs_eventloop_lag_p90_seconds", "The 90th percentile of the recorded event loop delays.", "average");
  const p99 = gauge("nodejs_eventloop_lag_p99_seconds", "The 99th percentile of the recorded event loop delays.", "average");
}
