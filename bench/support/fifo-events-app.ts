import { EventFairness } from "../../src/queue/event-fairness.js";

/**
 * The app's entry as unbudgeted-app.ts, with the events queue first-in first-out across installations: every event
 * job gets the same priority, and BullMQ runs equal priorities in the order they were added. The "before" side of the
 * event-fairness benchmark.
 */
EventFairness.prototype.priorityOf = function priorityOf(): number {
  return 1;
};

await import("./unbudgeted-app.js");
