/**
 * GitHub's answers that ask the whole app to slow down: a secondary-rate-limit 403 and a 429. Both are answered
 * by pausing every write of every process (WriteBudget.pause) for the time GitHub asks, or a minute when it does not
 * say (GitHub's advice for secondary limits). A primary-limit 403 (`x-ratelimit-remaining: 0`) is not one of them:
 * that limit belongs to one installation, and pausing the whole app for it would let one account stall the others.
 */
export const DEFAULT_SECONDARY_PAUSE_MS = 60_000;

interface HttpLikeError {
  status?: unknown;
  message?: unknown;
  response?: { headers?: Record<string, unknown>; data?: unknown };
}

/** How long to pause all writes for this error, or undefined when it is not an app-wide slow-down. */
export function appWidePauseMs(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const { status, response } = err as HttpLikeError;
  const headers = response?.headers ?? {};
  const retryAfter = Number(headers["retry-after"]);
  const asked = headers["retry-after"] !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined;
  if (status === 429) return asked ?? DEFAULT_SECONDARY_PAUSE_MS;
  if (status !== 403) return undefined;
  if (asked !== undefined) return asked;
  return /secondary rate limit/i.test(errorText(err)) ? DEFAULT_SECONDARY_PAUSE_MS : undefined;
}

function errorText(err: unknown): string {
  const { message, response } = err as HttpLikeError;
  const data = response?.data;
  const fromBody = typeof data === "object" && data !== null ? String((data as { message?: unknown }).message ?? "") : "";
  return `${typeof message === "string" ? message : ""} ${fromBody}`;
}
