import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { testStack } from "../support/stack/env.js";

/** A connection to the shared test Redis and a key prefix no other test uses; `cleanup()` deletes its keys and disconnects. */
export async function redisForTest(label: string): Promise<{ redis: Redis; prefix: string; connect(): Redis; cleanup(): Promise<void> }> {
  const url = testStack().redisUrl;
  const prefix = `bkb:test:${label}:${randomUUID()}`;
  const opened: Redis[] = [];
  const connect = () => {
    const r = new Redis(url, { maxRetriesPerRequest: 2 });
    opened.push(r);
    return r;
  };
  const redis = connect();
  return {
    redis,
    prefix,
    connect,
    async cleanup() {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== "0");
      await Promise.all(opened.map((r) => r.quit().catch(() => r.disconnect())));
    },
  };
}
