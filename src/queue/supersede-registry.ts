import type { Redis } from "ioredis";
import { supersedeKeyToken } from "./job-ids.js";
import { appKey } from "./queue-names.js";
import type { SupersededBy } from "./supersede-listener.js";

/**
 * Which builds are current for each supersede key (a branch or a PR). One Redis hash per key:
 * build id → `sha|order|mode`. Registering a build of a new sha atomically takes every build of another sha out of
 * the hash and leaves a "superseded" marker for each, which a worker checks before it starts (closing the gap
 * where a cancel message is published before the worker tracks the job).
 *
 * `order` is when GitHub's webhook reached us (ms). Events are planned concurrently (several planner slots, several
 * web processes each ordering its own installations fairly), so an older push can be planned after a newer one: a
 * superseding build whose key already holds a superseding build of another commit from a later webhook is itself
 * stale, and supersedes nothing. Entries written before `order` existed count as 0. `mode` 1: registered to
 * supersede (pushes, pull requests); a rerun of an old commit (mode 0) never makes a newer event stale.
 */
const REGISTER = `
local all = redis.call('HGETALL', KEYS[1])
local me = tonumber(ARGV[7])
local out = {}
if ARGV[4] == '1' then
  for i = 1, #all, 2 do
    local sha, ord, mode = string.match(all[i + 1], '^([^|]*)|?(%d*)|?(%d*)$')
    if sha ~= ARGV[2] and mode == '1' and (tonumber(ord) or 0) > me then
      return {'!stale', all[i], sha}
    end
  end
  for i = 1, #all, 2 do
    local sha = string.match(all[i + 1], '^([^|]*)')
    if sha ~= ARGV[2] then
      out[#out + 1] = all[i]
      out[#out + 1] = sha
      redis.call('HDEL', KEYS[1], all[i])
      redis.call('SET', ARGV[5] .. all[i], ARGV[6], 'EX', tonumber(ARGV[3]))
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[7] .. '|' .. ARGV[4])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return out
`;

export interface SupersededEntry {
  buildId: string;
  sha: string;
}

export interface Registration {
  /** Builds of other commits this one replaced. */
  superseded: SupersededEntry[];
  /** Set when a build from a later webhook already holds the key: this build is stale and was not registered. */
  staleBehind?: SupersededEntry;
}

export class SupersedeRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds = 14 * 24 * 3600,
  ) {}

  private hashKey(key: string): string {
    return appKey(this.prefix, "current", supersedeKeyToken(key));
  }

  private markerPrefix(): string {
    return `${appKey(this.prefix, "superseded")}:`;
  }

  /**
   * Records `buildId` (of `sha`) as current under `key`. With `supersedeOthers`, returns the builds of other
   * shas it replaces; without, only registers (reruns of an old commit must not cancel newer builds). `order`: when
   * the build's webhook arrived (ms); a superseding build older than one already current is `staleBehind` it.
   */
  async register(key: string, buildId: string, sha: string, supersedeOthers: boolean, order: number, note?: string): Promise<Registration> {
    const by: SupersededBy = { sha, buildId, ...(note !== undefined ? { note } : {}) };
    const flat = (await this.redis.eval(
      REGISTER,
      1,
      this.hashKey(key),
      buildId,
      sha,
      String(this.ttlSeconds),
      supersedeOthers ? "1" : "0",
      this.markerPrefix(),
      JSON.stringify(by),
      String(Math.max(0, Math.floor(order))),
    )) as string[];
    if (flat[0] === "!stale") return { superseded: [], staleBehind: { buildId: flat[1]!, sha: flat[2]! } };
    const superseded: SupersededEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) superseded.push({ buildId: flat[i]!, sha: flat[i + 1]! });
    return { superseded };
  }

  /** The build that superseded `buildId`, if one did. */
  async supersededBy(buildId: string): Promise<SupersededBy | undefined> {
    const raw = await this.redis.get(this.markerPrefix() + buildId);
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as SupersededBy;
    } catch {
      return undefined;
    }
  }

  /** The build ended for good: it no longer needs superseding. */
  async finish(key: string, buildId: string): Promise<void> {
    await this.redis.hdel(this.hashKey(key), buildId);
  }
}
