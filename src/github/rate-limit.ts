import { httpStatusOf, mentionsSecondaryRateLimit, retryAfterHeaderMs } from "../errors/index.js";

/**
 * GitHub's answers that ask the whole app to slow down: a secondary-rate-limit 403 and a 429. Both are answered
 * by pausing every write of every process (WriteBudget.pause) for the time GitHub asks, or a minute when it does not
 * say (GitHub's advice for secondary limits). A primary-limit 403 (`x-ratelimit-remaining: 0`) is not one of them:
 * that limit belongs to one installation, and pausing the whole app for it would let one account stall the others.
 */
export const DEFAULT_SECONDARY_PAUSE_MS = 60_000;

/** How long to pause all writes for this error, or undefined when it is not an app-wide slow-down. */
export function appWidePauseMs(err: unknown): number | undefined {
  const status = httpStatusOf(err);
  const asked = retryAfterHeaderMs(err);
  if (status === 429) return asked ?? DEFAULT_SECONDARY_PAUSE_MS;
  if (status !== 403) return undefined;
  if (asked !== undefined) return asked;
  return mentionsSecondaryRateLimit(err) ? DEFAULT_SECONDARY_PAUSE_MS : undefined;
}
