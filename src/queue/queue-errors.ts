import { ConnectionError, PushRefusedError, RegistryError } from "../buildkit/errors.js";

/**
 * Errors that steer the queue. A processor throws `TransientError` (or any error `isTransientError`
 * recognises) for what a later attempt may fix; everything else fails the job for good.
 */

/** Worth another attempt later: daemon unreachable, registry or GitHub 5xx, rate limits. */
export class TransientError extends Error {
  /** The far side asked us to wait at least this long (Retry-After, rate-limit reset). */
  readonly retryAfterMs?: number;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TransientError";
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The queue's Redis cannot take the event right now. Carries `status = 503`: @octokit/webhooks' middleware
 * answers a failed handler with the first error's `status`, so GitHub sees a quick 503 instead of a 500.
 */
export class QueueUnavailableError extends Error {
  readonly status = 503;
  constructor(message = "queue unavailable, retry later", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "QueueUnavailableError";
  }
}

/** Job data would carry something that looks like a credential. */
export class SecretInJobDataError extends Error {
  constructor(readonly path: string) {
    super(`job data must not hold secrets: the value at "${path}" looks like a credential`);
    this.name = "SecretInJobDataError";
  }
}

interface HttpLikeError {
  status?: unknown;
  response?: { headers?: Record<string, unknown> };
}

/** Milliseconds GitHub asks us to wait, from `retry-after` or `x-ratelimit-reset`, if it said. */
export function retryAfterMs(err: unknown, now = Date.now()): number | undefined {
  if (err instanceof TransientError) return err.retryAfterMs;
  const headers = (err as HttpLikeError | undefined)?.response?.headers;
  if (!headers) return undefined;
  const retryAfter = Number(headers["retry-after"]);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) return retryAfter * 1000;
  if (String(headers["x-ratelimit-remaining"]) === "0") {
    const reset = Number(headers["x-ratelimit-reset"]);
    if (Number.isFinite(reset)) return Math.max(0, reset * 1000 - now);
  }
  return undefined;
}

/**
 * Whether another attempt may succeed. Covers our own TransientError, the BuildKit client's errors that
 * say so, and Octokit `RequestError`s (5xx, 429, 403 rate limits) — recognised by shape, so this module
 * does not depend on Octokit.
 */
export function isTransientError(err: unknown): boolean {
  if (err instanceof TransientError || err instanceof QueueUnavailableError) return true;
  if (err instanceof ConnectionError) return true;
  if (err instanceof PushRefusedError) return err.transient;
  if (err instanceof RegistryError) return err.transient;
  if (err instanceof Error && err.name === "HttpError") {
    const status = (err as HttpLikeError).status;
    if (typeof status !== "number") return false;
    if (status >= 500 || status === 429) return true;
    if (status === 403) return retryAfterMs(err) !== undefined;
  }
  if (err instanceof Error) {
    // Redis away (ioredis) or the network dropped: the next attempt may find it back.
    if (err.name === "MaxRetriesPerRequestError") return true;
    if (/^(Connection is closed|Stream isn't writeable)/.test(err.message)) return true;
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  }
  return false;
}

const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);
