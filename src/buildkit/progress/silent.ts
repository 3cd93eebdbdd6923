import type { ProgressHandler } from "./events.js";

/** Ignores every event (the tracker still keeps counters and the failed step's log tail). */
export const silentProgress: ProgressHandler = () => {};
