/**
 * The one adapter for errors thrown by packages that know nothing of our `transient` flag: Octokit's RequestError
 * (named `HttpError`), ioredis' connection errors and Node's network errors. Recognised by shape, so no module of
 * ours has to import Octokit's or ioredis' classes to classify what they throw. Everything the app reads off a
 * failed GitHub request (status, Retry-After, rate-limit headers, a secondary rate limit) is read here.
 */

interface HttpErrorShape {
  status?: unknown;
  message?: unknown;
  response?: { headers?: Record<string, unknown>; data?: unknown };
}

function shapeOf(err: unknown): HttpErrorShape {
  return typeof err === "object" && err !== null ? (err as HttpErrorShape) : {};
}

/** The HTTP status of a failed Octokit request (404, 422, 502…), or undefined for any other error. */
export function httpStatusOf(err: unknown): number | undefined {
  const { status } = shapeOf(err);
  return typeof status === "number" ? status : undefined;
}

/** Milliseconds GitHub's `retry-after` header asks for, if it sent one. */
export function retryAfterHeaderMs(err: unknown): number | undefined {
  const value = shapeOf(err).response?.headers?.["retry-after"];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** Milliseconds GitHub asks us to wait, from `retry-after` or an exhausted `x-ratelimit-*`, if it said. */
export function githubRetryAfterMs(err: unknown, now = Date.now()): number | undefined {
  const asked = retryAfterHeaderMs(err);
  if (asked !== undefined) return asked;
  const headers = shapeOf(err).response?.headers;
  if (headers && String(headers["x-ratelimit-remaining"]) === "0") {
    const reset = Number(headers["x-ratelimit-reset"]);
    if (Number.isFinite(reset)) return Math.max(0, reset * 1000 - now);
  }
  return undefined;
}

/** Whether GitHub's message (of the error or of its JSON body) names a secondary rate limit. */
export function mentionsSecondaryRateLimit(err: unknown): boolean {
  const { message, response } = shapeOf(err);
  const data = response?.data;
  const fromBody = typeof data === "object" && data !== null && "message" in data ? String(data.message) : "";
  return /secondary rate limit/i.test(`${typeof message === "string" ? message : ""} ${fromBody}`);
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
 * Whether an error of another package is worth another attempt: GitHub 5xx, 429 and a rate-limit 403 (primary:
 * the limit is exhausted and GitHub says when it resets; secondary: GitHub says so or asks us to wait), Redis away
 * (ioredis gave up or its stream closed), or the network dropped.
 */
export function foreignTransient(err: unknown): boolean {
  if (err instanceof Error && err.name === "HttpError") {
    const status = httpStatusOf(err);
    if (status === undefined) return false;
    if (status >= 500 || status === 429) return true;
    return status === 403 && (githubRetryAfterMs(err) !== undefined || mentionsSecondaryRateLimit(err));
  }
  if (!(err instanceof Error)) return false;
  if (err.name === "MaxRetriesPerRequestError") return true;
  if (/^(Connection is closed|Stream isn't writeable)/.test(err.message)) return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && NETWORK_CODES.has(code);
}
