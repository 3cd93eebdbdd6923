import type { Redis } from "ioredis";
import { redisCall } from "./redis-transient.js";

const MEMO_TTL_SECONDS = 24 * 3600;

/**
 * What a planning run already did, so a retried event job neither duplicates check runs nor builds: the check
 * run id per image, then a mark once the build is queued.
 */
export class PlanProgress {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "bkb",
  ) {}

  private key(planId: string, image: string): string {
    return `${this.prefix}:plan-run:${planId}:${image}`;
  }

  async checkRunId(planId: string, image: string): Promise<number | undefined> {
    const raw = await this.read(planId, image, "checkRunId");
    return raw ? Number(raw) : undefined;
  }

  async enqueued(planId: string, image: string): Promise<boolean> {
    return (await this.read(planId, image, "enqueued")) === "1";
  }

  async recordCheckRun(planId: string, image: string, checkRunId: number): Promise<void> {
    await this.write(planId, image, "checkRunId", String(checkRunId));
  }

  async recordEnqueued(planId: string, image: string): Promise<void> {
    await this.write(planId, image, "enqueued", "1");
  }

  private read(planId: string, image: string, field: string): Promise<string | null> {
    return redisCall("reading planning progress", () => this.redis.hget(this.key(planId, image), field));
  }

  private async write(planId: string, image: string, field: string, value: string): Promise<void> {
    const key = this.key(planId, image);
    await redisCall("recording planning progress", () =>
      this.redis.multi().hset(key, field, value).expire(key, MEMO_TTL_SECONDS).exec(),
    );
  }
}
