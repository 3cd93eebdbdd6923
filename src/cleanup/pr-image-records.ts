import type { Redis } from "ioredis";
import { appKey } from "../queue/index.js";

/** One pull request of one repository of one installation. */
export interface PullRequestKey {
  installationId: number;
  repoId: number;
  pr: number;
}

/** A tag a pull request's builds wrote: its `pr-N` image tag or its `buildcache-pr-N` cache ref. */
export interface PrImageRef {
  /** `host/path:tag`. */
  ref: string;
  kind: "image" | "cache";
  /** The digests its builds pushed under it, newest last (images only: a cache's digest is not reported). */
  digests: string[];
}

/** What is kept of one pull request: whose it is, and what its builds wrote. */
export interface PrImageRecord extends PullRequestKey {
  /** The installation's account login, as the build job named it (the tenancy policy is looked up by it and the id). */
  owner: string;
  refs: PrImageRef[];
  /** When its builds last wrote (ms since the epoch). */
  lastPushAt: number;
}

/** Digests kept per tag: a later build replaces the tag, so only the last few can still be what it points at. */
const DIGESTS_KEPT = 10;
const OWNER_FIELD = "@owner";

/**
 * What the pull requests' builds wrote to the registry, in Redis: one hash per pull request (its refs, each with
 * the digests pushed under it) and one sorted set of pull requests by their last push, which the sweep reads. Only
 * references and digests: nothing secret.
 */
export class PrImageRecords {
  private readonly index: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.index = appKey(prefix, "pr-images");
  }

  private keyOf(pr: PullRequestKey): string {
    return `${this.index}:${memberOf(pr)}`;
  }

  /** Adds what one build wrote (`digest` goes to the image refs). */
  async note(pr: PullRequestKey & { owner: string }, refs: ReadonlyArray<{ ref: string; kind: "image" | "cache"; digest?: string }>, at: number): Promise<void> {
    if (refs.length === 0) return;
    const key = this.keyOf(pr);
    const stored = await this.redis.hmget(key, ...refs.map((r) => r.ref));
    const fields: Record<string, string> = { [OWNER_FIELD]: pr.owner };
    refs.forEach((r, i) => {
      const before = parseRef(r.ref, stored[i] ?? null);
      const digests = before?.digests.filter((d) => d !== r.digest) ?? [];
      if (r.digest) digests.push(r.digest);
      fields[r.ref] = JSON.stringify({ kind: r.kind, digests: digests.slice(-DIGESTS_KEPT) });
    });
    await this.redis.multi().hset(key, fields).zadd(this.index, at, memberOf(pr)).exec();
  }

  async of(pr: PullRequestKey): Promise<PrImageRecord | undefined> {
    const [all, score] = await Promise.all([this.redis.hgetall(this.keyOf(pr)), this.redis.zscore(this.index, memberOf(pr))]);
    const owner = all[OWNER_FIELD];
    if (owner === undefined) return undefined;
    const refs = Object.entries(all)
      .filter(([field]) => field !== OWNER_FIELD)
      .map(([field, value]) => parseRef(field, value))
      .filter((r): r is PrImageRef => r !== undefined);
    return { ...pr, owner, refs, lastPushAt: score === null ? 0 : Number(score) };
  }

  /** Pull requests whose builds last wrote before `before` (ms), oldest first. */
  async lastPushedBefore(before: number, limit: number): Promise<PullRequestKey[]> {
    const members = await this.redis.zrangebyscore(this.index, "-inf", `(${before}`, "LIMIT", 0, limit);
    return members.map(keyOfMember).filter((k): k is PullRequestKey => k !== undefined);
  }

  /** Forgets refs that are dealt with; the pull request goes when none is left. */
  async forget(pr: PullRequestKey, refs: readonly string[]): Promise<void> {
    const key = this.keyOf(pr);
    if (refs.length > 0) await this.redis.hdel(key, ...refs);
    // Only the owner field left: nothing more to clean for this pull request.
    if ((await this.redis.hlen(key)) <= 1) await this.redis.multi().del(key).zrem(this.index, memberOf(pr)).exec();
  }
}

function memberOf(pr: PullRequestKey): string {
  return `${pr.installationId}:${pr.repoId}:${pr.pr}`;
}

function keyOfMember(member: string): PullRequestKey | undefined {
  const [installationId, repoId, pr] = member.split(":").map(Number);
  if (!Number.isSafeInteger(installationId) || !Number.isSafeInteger(repoId) || !Number.isSafeInteger(pr)) return undefined;
  return { installationId: installationId!, repoId: repoId!, pr: pr! };
}

function parseRef(ref: string, value: string | null): PrImageRef | undefined {
  if (value === null) return undefined;
  try {
    const parsed = JSON.parse(value) as { kind?: unknown; digests?: unknown };
    const kind = parsed.kind === "cache" ? "cache" : "image";
    const digests = Array.isArray(parsed.digests) ? parsed.digests.filter((d): d is string => typeof d === "string") : [];
    return { ref, kind, digests };
  } catch {
    return undefined;
  }
}
