import type { Redis } from "ioredis";

/**
 * A lease set: a Redis ZSET of holder ids, each scored by when its lease expires (ms since the epoch). Only
 * unexpired leases count, so a holder that dies (SIGKILL, a lost machine) gives its slot back once its lease runs
 * out, with no sweeper needed for the count to be right; `acquire` also removes the expired ones it finds.
 *
 * `LEASE_LUA` holds the same operations as Lua functions, for scripts that work on leases together with other keys
 * in one round trip (the fair share's scripts prepend it); `LeaseSet` is the one-key form.
 */
export const LEASE_LUA = `
-- Unexpired leases of the set.
local function lease_live(key, now)
  return redis.call('ZCOUNT', key, '(' .. now, '+inf')
end
-- Whether id holds an unexpired lease.
local function lease_held(key, id, now)
  return (tonumber(redis.call('ZSCORE', key, id) or '0') or 0) > now
end
-- Holds (or renews) id's lease until exp.
local function lease_put(key, id, exp)
  redis.call('ZADD', key, exp, id)
end
local function lease_drop(key, id)
  return redis.call('ZREM', key, id)
end
-- Expired leases first go; then id holds a lease when it already did or the set has fewer than max (0: no limit).
local function lease_take(key, id, now, exp, max)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if max > 0 and not redis.call('ZSCORE', key, id) and redis.call('ZCARD', key) >= max then return 0 end
  redis.call('ZADD', key, exp, id)
  return 1
end
-- Renews id's lease only while it holds one; 0 when it had expired or was released (the slot may be someone else's).
local function lease_renew(key, id, now, exp)
  if not lease_held(key, id, now) then return 0 end
  redis.call('ZADD', key, exp, id)
  return 1
end
-- Up to limit ids whose leases have expired.
local function lease_expired(key, now, limit)
  return redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, limit)
end
`;

const TAKE = `${LEASE_LUA}
return lease_take(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
`;

const RENEW = `${LEASE_LUA}
return lease_renew(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
`;

/** The ZCOUNT range of the unexpired leases at `now`, for callers that count several sets in one pipeline. */
export function liveLeases(now = Date.now()): [min: string, max: string] {
  return [`(${now}`, "+inf"];
}

export interface LeaseHolder {
  id: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** One lease set under `key`, each lease lasting `ttlMs` unless renewed. */
export class LeaseSet {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly ttlMs: number,
  ) {
    if (!(ttlMs > 0)) throw new RangeError(`a lease's ttlMs must be positive, got ${ttlMs}`);
  }

  /** Takes a lease for `id` (renews it when `id` holds one); false when the set already holds `max` (0: no limit). */
  async acquire(id: string, max = 0): Promise<boolean> {
    const now = Date.now();
    return (await this.redis.eval(TAKE, 1, this.key, id, now, now + this.ttlMs, Math.max(0, Math.floor(max)))) === 1;
  }

  /** Extends `id`'s lease by the TTL from now; false when it no longer holds one (expired and reclaimed, or released). */
  async renew(id: string): Promise<boolean> {
    const now = Date.now();
    return (await this.redis.eval(RENEW, 1, this.key, id, now, now + this.ttlMs)) === 1;
  }

  async release(id: string): Promise<void> {
    await this.redis.zrem(this.key, id);
  }

  /** Unexpired leases. */
  async count(): Promise<number> {
    return this.redis.zcount(this.key, ...liveLeases());
  }

  /** The unexpired leases, soonest to expire first. */
  async holders(): Promise<LeaseHolder[]> {
    const flat = await this.redis.zrangebyscore(this.key, ...liveLeases(), "WITHSCORES");
    const out: LeaseHolder[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, expiresAt: Number(flat[i + 1]) });
    return out;
  }

  /**
   * Takes a lease for `id` and renews it every third of the TTL until the returned function releases it (once;
   * later calls do nothing). Undefined when the set is full. A renewal that fails (Redis away) is tried again at the
   * next tick; a lease that expired meanwhile (this process was stalled past the TTL) is taken again whatever `max`,
   * since its holder is still at work. A holder that stops renewing (it died) loses the lease after the TTL.
   */
  async hold(id: string, max = 0): Promise<(() => Promise<void>) | undefined> {
    if (!(await this.acquire(id, max))) return undefined;
    let released = false;
    const timer = setInterval(() => {
      void this.renew(id)
        .then((held) => (held || released ? undefined : this.acquire(id)))
        .catch(() => undefined);
    }, Math.max(1, Math.floor(this.ttlMs / 3)));
    timer.unref();
    return async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      await this.release(id).catch(() => undefined);
    };
  }
}
