/**
 * The one adapter for errors thrown by packages that know nothing of our `transient` flag: Octokit's RequestError
 * (named `HttpError`), ioredis' connection errors and Node's network errors. Recognised by shape, so no module of
 * ours has to import Octokit's or ioredis' classes to classify what they throw.
 */

interface HttpErrorShape {
  status: number;
  response?: { headers?: Record<string, unknown> };
}

/** Octokit's RequestError: `name` is `HttpError` and `status` the HTTP status. */
function asOctokitError(err: unknown): (Error & HttpErrorShape) | undefined {
  if (!(err instanceof Error) || err.name !== "HttpError") return undefined;
  return typeof (err as Partial<HttpErrorShape>).status === "number" ? (err as Error & HttpErrorShape) : undefined;
}

/** The HTTP status of a failed Octokit request (404, 422, 502…), or undefined for any other error. */
export function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null | undefined)?.status;
  return typeof status === "number" ? status : undefined;
}

/** Milliseconds GitHub asks us to wait, from `retry-after` or an exhausted `x-ratelimit-*`, if it said. */
export function githubRetryAfterMs(err: unknown, now = Date.now()): number | undefined {
  const headers = asOctokitError(err)?.response?.headers;
  if (!headers) return undefined;
  const retryAfter = Number(headers["retry-after"]);
  if (headers["retry-after"] !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0) return retryAfter * 1000;
  if (String(headers["x-ratelimit-remaining"]) === "0") {
    const reset = Number(headers["x-ratelimit-reset"]);
    if (Number.isFinite(reset)) return Math.max(0, reset * 1000 - now);
  }
  return undefined;
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

/**
 * Whether an error of another package is worth another attempt: GitHub 5xx, 429 and a rate-limit 403 (one that
 * says when to come back), Redis away (ioredis gave up or its stream closed), or the network dropped.
 */
export function foreignTransient(err: unknown): boolean {
  const http = asOctokitError(err);
  if (http) {
    if (http.status >= 500 || http.status === 429) return true;
    return http.status === 403 && githubRetryAfterMs(http) !== undefined;
  }
  if (!(err instanceof Error)) return false;
  if (err.name === "MaxRetriesPerRequestError") return true;
  if (/^(Connection is closed|Stream isn't writeable)/.test(err.message)) return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && NETWORK_CODES.has(code);
}
