import type { BackoffStrategy, JobsOptions } from "bullmq";
import { isTransientError, retryAfterMs } from "../errors/index.js";

/**
 * Retries live in BullMQ only. Octokits used inside jobs have plugin-retry switched off
 * (see src/app/job-octokit.ts), so a GitHub 5xx fails the attempt and comes back here instead of being
 * retried twice over.
 */
export interface RetryPolicy {
  /** Total attempts, the first one included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 5, baseDelayMs: 5_000, maxDelayMs: 5 * 60_000 };

/** The backoff type name jobs carry; the worker resolves it to `transientBackoff`. */
export const TRANSIENT_BACKOFF = "transient-jitter";

export function retryJobOptions(policy: RetryPolicy): Pick<JobsOptions, "attempts" | "backoff"> {
  return { attempts: policy.attempts, backoff: { type: TRANSIENT_BACKOFF } };
}

/**
 * Exponential backoff with jitter: attempt n waits a random time in [d/2, d] with d = base·2^(n-1),
 * capped, and never less than what the far side asked for (Retry-After, rate-limit reset).
 * Returns -1 (BullMQ: do not retry) for errors that are not transient — a second guard behind the
 * worker's UnrecoverableError wrapping.
 */
export function transientBackoff(policy: RetryPolicy, random: () => number = Math.random): BackoffStrategy {
  return (attemptsMade, _type, err) => {
    if (err !== undefined && !isTransientError(err)) return -1;
    const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
    const jittered = Math.round(ceiling / 2 + random() * (ceiling / 2));
    const asked = err === undefined ? undefined : retryAfterMs(err);
    return asked === undefined ? jittered : Math.max(jittered, Math.min(asked, policy.maxDelayMs * 4));
  };
}
