import { renameSync, writeFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

/**
 * Bench-only preload (`NODE_OPTIONS=--import <this file>`, run by Node's own type stripping: it imports nothing
 * but node: modules) that watches the event loop of the process it is loaded into. On SIGUSR2 it writes what it
 * saw since the previous SIGUSR2 (or since start) to BKB_LOOP_PROBE_FILE as one JSON object, then starts a new
 * window. The file is replaced atomically; `seq` counts the windows.
 *
 * monitorEventLoopDelay records the time between the firings of a timer set to RESOLUTION_MS, the interval
 * itself included (an idle loop records ≈ 10.2 ms at 10 ms): lag = recorded − RESOLUTION_MS.
 */

export interface LoopProbeWindow {
  seq: number;
  /** Wall-clock ms of the window's start and end. */
  from: number;
  to: number;
  resolutionMs: number;
  /** Timer firings recorded in the window. */
  samples: number;
  lagMaxMs: number;
  lagP99Ms: number;
  lagP50Ms: number;
  lagMeanMs: number;
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
}

const RESOLUTION_MS = 10;
const file = process.env.BKB_LOOP_PROBE_FILE;

if (file) {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let seq = 0;
  let from = Date.now();
  const lag = (ns: number): number => (Number.isFinite(ns) && ns > 0 ? Math.max(0, ns / 1e6 - RESOLUTION_MS) : 0);
  process.on("SIGUSR2", () => {
    const memory = process.memoryUsage();
    const window: LoopProbeWindow = {
      seq: ++seq,
      from,
      to: Date.now(),
      resolutionMs: RESOLUTION_MS,
      samples: histogram.count,
      lagMaxMs: lag(histogram.max),
      lagP99Ms: lag(histogram.percentile(99)),
      lagP50Ms: lag(histogram.percentile(50)),
      lagMeanMs: lag(histogram.mean),
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      externalBytes: memory.external,
      arrayBuffersBytes: memory.arrayBuffers,
    };
    histogram.reset();
    from = window.to;
    writeFileSync(`${file}.tmp`, JSON.stringify(window));
    renameSync(`${file}.tmp`, file);
  });
}
