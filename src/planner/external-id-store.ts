import type { Redis } from "ioredis";
import { redisCall } from "./redis-transient.js";

/** Long external ids, kept for 90 days under a hash (see external-id.ts). */
export class ExternalIdStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "bkb",
  ) {}

  async put(hash: string, externalId: string): Promise<void> {
    await redisCall("storing an external id", () => this.redis.set(`${this.prefix}:extid:${hash}`, externalId, "EX", 90 * 24 * 3600));
  }

  async get(hash: string): Promise<string | undefined> {
    return (await redisCall("reading an external id", () => this.redis.get(`${this.prefix}:extid:${hash}`)) ?? undefined);
  }
}
