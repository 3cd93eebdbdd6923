import { AppError } from "../errors/index.js";

// Errors of the queue's own. Whether a failed job is tried again is decided by `isTransientError` (src/errors).

/**
 * The queue's Redis cannot take the event right now. Carries `status = 503`: @octokit/webhooks' middleware
 * answers a failed handler with the first error's `status`, so GitHub sees a quick 503 instead of a 500.
 */
export class QueueUnavailableError extends AppError {
  readonly code = "QUEUE_UNAVAILABLE";
  override readonly transient = true;
  readonly status = 503;
  constructor(message = "queue unavailable, retry later", options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Job data would carry something that looks like a credential. */
export class SecretInJobDataError extends AppError {
  readonly code = "SECRET_IN_JOB_DATA";
  constructor(readonly path: string) {
    super(`job data must not hold secrets: the value at "${path}" looks like a credential`);
  }
}
