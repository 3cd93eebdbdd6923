import type { Redis } from "ioredis";
import { appKey, assertNoSecrets } from "../queue/index.js";

export interface JsonRecordKind<K, T> {
  /**
   * The record's key parts under the app's keys (`<prefix>:bkb:…`): the kind first, then what tells one record from
   * another. A part that may hold a `:` (an image name) is encoded by the caller.
   */
  keyOf(at: K): string[];
  /** Whether a value read back is a record this code wrote: anything else (damaged, older, foreign) counts as absent. */
  isRecord(value: unknown): value is T;
  ttlSeconds: number;
}

/**
 * One kind of small record kept as JSON in Redis with a TTL, under the app's keys. A write replaces the record and
 * renews its TTL; a record must hold nothing secret (the queue's secret guard refuses one that looks like it does).
 */
export class JsonRecordStore<K, T> {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly kind: JsonRecordKind<K, T>,
  ) {}

  keyOf(at: K): string {
    return appKey(this.prefix, ...this.kind.keyOf(at));
  }

  /** The record, or undefined when there is none or what is there is not one of this kind. */
  async read(at: K): Promise<T | undefined> {
    const raw = await this.redis.get(this.keyOf(at));
    if (raw === null) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return undefined;
    }
    return this.kind.isRecord(value) ? value : undefined;
  }

  async write(at: K, record: T): Promise<void> {
    assertNoSecrets(record);
    await this.redis.set(this.keyOf(at), JSON.stringify(record), "EX", this.kind.ttlSeconds);
  }
}

/** For a kind's `isRecord`: a plain object whose fields can be looked at. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
