import { AppError } from "./app-error.js";

/**
 * Not a failure: the work cannot start until capacity outside the queue's own frees (every builder that may take
 * the build is at its max_concurrent_builds). The queue puts the build back without spending an attempt, and lets
 * it through again once capacity frees.
 */
export class MustWaitError extends AppError {
  readonly code = "MUST_WAIT";
}
