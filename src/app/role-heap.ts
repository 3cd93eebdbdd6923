import v8 from "node:v8";
import type { AppRole } from "./app-config.js";

/**
 * How far V8 lets the old generation grow past what the last full GC kept, as a percentage, for the web role.
 *
 * Every webhook in flight when the young generation is scavenged survives into the old generation (about 10 KB per
 * delivery at 1,000/s), and V8 then marks and compacts the whole heap (some 30 MB, mostly code, live) once that
 * garbage passes its limit. With the image's 128 MB old-generation cap V8 grows that limit by only 1.3x, so at
 * 1,000 deliveries a second a full GC came every 2-4 s, each holding the deliveries in flight for 10-60 ms: the
 * tail of the ingest latency (BENCHMARKS.md, item 1). 3x makes them rarer for the same garbage; V8 still caps the
 * limit at halfway to the 128 MB cap, about 80 MB.
 *
 * Only the web role: a worker's memory target (under 150 MB through a log flood, item 5) is met with the tight
 * default, and `all` runs a worker.
 */
export const WEB_HEAP_GROWING_PERCENT = 200;

/** The V8 flags a role sets on itself at start-up (none for worker and all). */
export function roleHeapFlags(role: AppRole): string[] {
  return role === "web" ? [`--heap-growing-percent=${WEB_HEAP_GROWING_PERCENT}`] : [];
}

/**
 * Sets the role's V8 flags in this process. The growing factor is read each time V8 computes a limit (after every
 * full GC), so setting it once the role is known takes effect from the next one; unlike the young generation's
 * size, which is fixed when the heap is created and so stays on the node command line (the Dockerfile's CMD).
 */
export function applyRoleHeapFlags(role: AppRole): void {
  for (const flag of roleHeapFlags(role)) v8.setFlagsFromString(flag);
}
