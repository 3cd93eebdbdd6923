import type { Redis } from "ioredis";
import { liveLeases } from "../leases/index.js";

/**
 * Where the builds running on each builder are kept in Redis: one lease set per builder (src/leases), under the
 * deployment's prefix, and the names of the builders the pools of this deployment know, so that a process without a
 * pool (the web role's metrics) can read them too.
 */
export function runningBuildsKey(prefix: string, builder: string): string {
  return `${prefix}:builders:running:${builder}`;
}

export function builderNamesKey(prefix: string): string {
  return `${prefix}:builders:names`;
}

/** Builds running on each builder now, across every worker process (builders with none are left out). Two round trips. */
export async function runningPerBuilder(redis: Redis, prefix: string): Promise<Record<string, number>> {
  const names = (await redis.smembers(builderNamesKey(prefix))).sort();
  if (names.length === 0) return {};
  const pipeline = redis.pipeline();
  const live = liveLeases();
  for (const name of names) pipeline.zcount(runningBuildsKey(prefix, name), ...live);
  const results = (await pipeline.exec()) ?? [];
  const out: Record<string, number> = {};
  names.forEach((name, i) => {
    const [err, n] = results[i] ?? [];
    if (err) throw err;
    if (Number(n) > 0) out[name] = Number(n);
  });
  return out;
}
