import { TransientError } from "../errors/index.js";

/**
 * Runs a Redis call of the planner; a failure (connection lost, Redis restarting, retries exhausted) becomes a
 * TransientError so the queue tries the event job again instead of dropping it.
 */
export async function redisCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new TransientError(`Redis failed while ${what}`, { cause: err });
  }
}
