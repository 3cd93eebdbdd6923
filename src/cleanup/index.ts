// PR image clean-up: what pull requests' builds pushed (their pr-N tags and buildcache-pr-N caches), deleted from the registry when the pull request closes or idles past the TTL.
export { PrImageRecords } from "./pr-image-records.js";
export type { PrImageRecord, PrImageRef, PullRequestKey } from "./pr-image-records.js";
export { PrImageCleanup } from "./pr-image-cleanup.js";
export type { CleanupLog, DeleteRefusal, PrCleanupReport, PrImageCleanupDeps } from "./pr-image-cleanup.js";
export { prImagesOfBuild, recordingPrImages } from "./record-pr-images.js";
export { PR_CLEANUP_QUEUE, PrCleanupQueue, startPrCleanupWorker } from "./pr-cleanup-queue.js";
export type { PrCleanupWorkerOptions, PrClosedJob, PrClosedStore, SweepSummary } from "./pr-cleanup-queue.js";
