import { AppError, TransientError } from "./app-error.js";
import { foreignTransient, githubRetryAfterMs } from "./foreign-errors.js";

/**
 * Whether another attempt may succeed: the one place the app decides it. Our errors (`AppError`) and the BuildKit
 * client's (`BuildKitError`) carry their own `transient` flag, which is read as it is; errors of other packages
 * (Octokit, ioredis, the network) go through the adapter in foreign-errors.ts. Everything else is final.
 *
 * The client's errors are recognised by that flag rather than by class, so this module (imported by the intake and
 * its body threads) does not load the BuildKit client.
 */
export function isTransientError(err: unknown): boolean {
  if (err instanceof AppError) return err.transient;
  if (err instanceof Error && "transient" in err && typeof err.transient === "boolean") return err.transient;
  return foreignTransient(err);
}

/** How long the far side asked us to wait before the next attempt, if it said. */
export function retryAfterMs(err: unknown, now = Date.now()): number | undefined {
  if (err instanceof TransientError) return err.retryAfterMs;
  return githubRetryAfterMs(err, now);
}
