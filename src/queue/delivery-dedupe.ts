import type { Redis } from "ioredis";
import { appKey } from "./queue-names.js";

/**
 * Recognises a redelivered webhook (same `X-GitHub-Delivery`) for a few days — longer than BullMQ keeps the
 * event job itself, whose id (derived from the delivery id) dedupes only while the job exists.
 */
export class DeliveryDedupe {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds = 3 * 24 * 3600,
  ) {}

  private key(deliveryId: string): string {
    return appKey(this.prefix, "delivery", deliveryId);
  }

  /** True when this delivery is seen for the first time (and is now claimed). */
  async claim(deliveryId: string): Promise<boolean> {
    const res = await this.redis.set(this.key(deliveryId), "1", "EX", this.ttlSeconds, "NX");
    return res === "OK";
  }

  /** Gives a claim back when storing the event failed, so GitHub's redelivery is accepted. Best effort. */
  async release(deliveryId: string): Promise<void> {
    await this.redis.del(this.key(deliveryId)).catch(() => undefined);
  }
}
