/**
 * The app's errors (everything outside the BuildKit client, whose own hierarchy is `BuildKitError`). Each carries a
 * stable `code` for programs and logs, a message a person can act on, and `transient`: whether the same work may
 * succeed if simply tried again later. The queue decides retries from that flag alone (see `isTransientError`).
 */
export abstract class AppError extends Error {
  /** Stable and machine-readable, e.g. `REPO_CONFIG_INVALID`. */
  abstract readonly code: string;
  /** A later attempt of the same work may succeed (the far side was away or overloaded); never a user mistake. */
  readonly transient: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** Worth another attempt later, whatever the cause (Redis away, GitHub 5xx, a check run still being created). */
export class TransientError extends AppError {
  readonly code = "TRANSIENT";
  override readonly transient = true;
  /** The far side asked us to wait at least this long (Retry-After, rate-limit reset). */
  readonly retryAfterMs?: number;

  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}
