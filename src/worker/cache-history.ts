import type { Redis } from "ioredis";
import { isObject, JsonRecordStore } from "../records/index.js";

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
  readonly #records: JsonRecordStore<RecordKey, BuildRecord>;

  constructor(redis: Redis, prefix: string, ttlSeconds = CACHE_HISTORY_TTL_SECONDS) {
    this.#records = new JsonRecordStore(redis, prefix, {
      keyOf: (at) => ["cache-report", String(at.repoId), encodeURIComponent(at.image), at.ref],
      isRecord: isBuildRecord,
      ttlSeconds,
    });
  }

  read(at: RecordKey): Promise<BuildRecord | undefined> {
    return this.#records.read(at);
  }

  /** Refuses (SecretInJobDataError) a record that holds a secret-shaped value. */
  write(at: RecordKey, record: BuildRecord): Promise<void> {
    return this.#records.write(at, record);
  }
}

function isBuildRecord(value: unknown): value is BuildRecord {
  return (
    isObject(value) &&
    value.v === 1 &&
    typeof value.sha === "string" &&
    typeof value.dockerfile === "string" &&
    typeof value.context === "string" &&
    typeof value.at === "string" &&
    isObject(value.args) &&
    Object.values(value.args).every((hash) => typeof hash === "string") &&
    Array.isArray(value.steps) &&
    value.steps.every(isRecordedStep)
  );
}

function isRecordedStep(value: unknown): value is RecordedStep {
  return (
    isObject(value) &&
    typeof value.d === "string" &&
    typeof value.k === "string" &&
    typeof value.c === "boolean" &&
    (value.ms === undefined || typeof value.ms === "number") &&
    (value.est === undefined || typeof value.est === "number")
  );
}

export interface RecordKey {
  repoId: number;
  image: string;
  /** `refs/heads/main`, `refs/tags/v1`, `pull/5`. */
  ref: string;
}
