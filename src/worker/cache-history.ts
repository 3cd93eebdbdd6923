import type { Redis } from "ioredis";
import { assertNoSecrets } from "../queue/index.js";

/** One step of a recorded build. Short field names: a record is rewritten on every build of a ref. */
export interface RecordedStep {
  /** Vertex digest. */
  d: string;
  /** The step across commits (see TimelineStep.key). */
  k: string;
  /** Cached in that build. */
  c: boolean;
  /** How long it ran, when it ran. */
  ms?: number;
  /** A cached step: how long it took the last time it ran (carried from build to build). */
  est?: number;
}

/**
 * What the cache report needs of the last build of an image on one ref: its commit, Dockerfile, build args (as
 * hashes: a value is never kept) and steps. Nothing secret: step names are redacted before they get here, and
 * the record passes the queue's secret guard before it is written.
 */
export interface BuildRecord {
  v: 1;
  sha: string;
  /** Dockerfile path from the repository root. */
  dockerfile: string;
  /** Context directory in the repository ("" = root). */
  context: string;
  /** Build arg name → a hash of its value. */
  args: Record<string, string>;
  steps: RecordedStep[];
  /** ISO time the build finished. */
  at: string;
}

/** Fourteen days: a ref not built for longer has no base worth comparing with. */
export const CACHE_HISTORY_TTL_SECONDS = 14 * 24 * 3600;

/** The last build record of each image and ref, in Redis with a TTL, under the deployment's prefix. */
export class CacheHistory {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds = CACHE_HISTORY_TTL_SECONDS,
  ) {}

  async read(at: RecordKey): Promise<BuildRecord | undefined> {
    const raw = await this.redis.get(this.#key(at));
    if (raw === null) return undefined;
    try {
      const parsed = JSON.parse(raw) as Partial<BuildRecord>;
      return parsed.v === 1 && typeof parsed.sha === "string" && Array.isArray(parsed.steps) ? (parsed as BuildRecord) : undefined;
    } catch {
      return undefined;
    }
  }

  async write(at: RecordKey, record: BuildRecord): Promise<void> {
    assertNoSecrets(record);
    await this.redis.set(this.#key(at), JSON.stringify(record), "EX", this.ttlSeconds);
  }

  #key(at: RecordKey): string {
    return `${this.prefix}:cache-report:${at.repoId}:${encodeURIComponent(at.image)}:${at.ref}`;
  }
}

export interface RecordKey {
  repoId: number;
  image: string;
  /** `refs/heads/main`, `refs/tags/v1`, `pull/5`. */
  ref: string;
}
