import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";

/**
 * Two kinds of Redis connection.
 *
 * Producers sit in the webhook request path: they must fail fast when Redis is away so the handler answers
 * 503 well before GitHub's 10 s timeout — no offline queue, a short connect timeout, one retry per command.
 *
 * Workers (BullMQ `Worker`, and our cancel subscriber) block on Redis and must ride out restarts:
 * BullMQ requires `maxRetriesPerRequest: null` for them.
 */

export function createProducerConnection(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(200 * times, 2_000),
    ...options,
  });
  // Without a listener ioredis prints every reconnect failure; callers see failures through their commands.
  redis.on("error", () => {});
  return redis;
}

export function createWorkerConnection(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(500 * times, 5_000),
    ...options,
  });
  redis.on("error", () => {});
  return redis;
}

/** Resolves once the connection is ready; rejects after `timeoutMs` (the connection keeps retrying). */
export async function whenReady(redis: Redis, timeoutMs = 10_000): Promise<Redis> {
  if (redis.status === "ready") return redis;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${redis.status})`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once("ready", onReady);
  });
  return redis;
}
