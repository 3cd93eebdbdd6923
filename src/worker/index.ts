// Everything the worker owns of one build: token, solve on BuildKit, result; and the reconciling of check runs left open.
export { createBuildProcessor } from "./build-processor.js";
export { CacheHistory } from "./cache-history.js";
export { MergeQueueReuse } from "./merge-queue-reuse.js";
export { ReusableImages } from "./reusable-images.js";
export { plannerLookupOf, reconcileOrphanedCheckRuns, settleSlot, slotBuildsOf } from "./orphaned-check-runs.js";
export type { OrphanedRunDeps } from "./orphaned-check-runs.js";
