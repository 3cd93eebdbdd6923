import type { Redis } from "ioredis";
import { createHash } from "node:crypto";
import { appKey } from "./queue-names.js";

/** Attempt numbers per (repository, sha, image): every enqueue of the same build — a rerun — gets the next one. */
export class BuildAttempts {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds = 90 * 24 * 3600,
  ) {}

  private key(repoId: number, sha: string, image: string): string {
    const imageHash = createHash("sha256").update(image).digest("hex").slice(0, 16);
    return appKey(this.prefix, "attempt", String(repoId), sha, imageHash);
  }

  /** The last attempt number given out (0: none): the builds queued so far are attempts 1 to this. */
  async current(repoId: number, sha: string, image: string): Promise<number> {
    return Number((await this.redis.get(this.key(repoId, sha, image))) ?? 0);
  }

  async next(repoId: number, sha: string, image: string): Promise<number> {
    const key = this.key(repoId, sha, image);
    const [[incrErr, n], [expErr]] = (await this.redis.multi().incr(key).expire(key, this.ttlSeconds).exec()) as [
      [Error | null, number],
      [Error | null, unknown],
    ];
    if (incrErr) throw incrErr;
    if (expErr) throw expErr;
    return n;
  }
}
