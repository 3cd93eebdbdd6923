import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Registry } from "prom-client";
import { EVENT_LOOP_LAG_METRICS, registerEventLoopLag } from "../../src/metrics/event-loop-lag.js";
import { metricsRegistry } from "../../src/metrics/index.js";
import { parseMetrics } from "../support/metrics-text.js";

/** The event-loop lag series: prom-client's names, sampled at a coarser period, read as the delay past each sample's due time. */
describe("event-loop lag metrics", () => {
  it("the app's registry has each of prom-client's event-loop lag series once, and its other Node metrics", async () => {
    const text = await metricsRegistry.metrics();
    for (const name of EVENT_LOOP_LAG_METRICS) {
      assert.equal(text.split("\n").filter((l) => l === `# TYPE ${name} gauge`).length, 1, name);
    }
    for (const name of ["nodejs_gc_duration_seconds", "nodejs_heap_size_used_bytes", "process_cpu_seconds_total"]) {
      assert.ok(text.includes(`# TYPE ${name} `), name);
    }
  });

  it("a stalled loop shows as lag past the due time", async () => {
    const registry = new Registry();
    registerEventLoopLag(registry, 20);
    await sleep(60); // the sampling timer is running
    const until = performance.now() + 300;
    while (performance.now() < until); // a sample falls due within 20 ms of this and waits for its end
    await sleep(60);
    const value = (samples: ReturnType<typeof parseMetrics>, name: string): number => {
      const s = samples.find((x) => x.name === name);
      assert.ok(s, name);
      return s.value;
    };
    const first = parseMetrics(await registry.metrics());
    assert.ok(value(first, "nodejs_eventloop_lag_max_seconds") >= 0.25, `max ${value(first, "nodejs_eventloop_lag_max_seconds")}`);
    assert.ok(value(first, "nodejs_eventloop_lag_min_seconds") >= 0);
    assert.ok(value(first, "nodejs_eventloop_lag_min_seconds") <= value(first, "nodejs_eventloop_lag_p50_seconds"));
    assert.ok(value(first, "nodejs_eventloop_lag_p99_seconds") <= value(first, "nodejs_eventloop_lag_max_seconds"));

  });
});
