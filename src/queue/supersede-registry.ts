import type { Redis } from "ioredis";
import { supersedeKeyToken } from "./job-ids.js";
import { appKey } from "./queue-names.js";
import type { SupersededBy } from "./supersede-listener.js";

/**
 * Which builds are current for each supersede key (a branch or a PR). One Redis hash per key:
 * build id → sha. Registering a build of a new sha atomically takes every build of another sha out of the
 * hash and leaves a "superseded" marker for each, which a worker checks before it starts (closing the gap
 * where a cancel message is published before the worker tracks the job).
 */
const REGISTER = `
local all = redis.call('HGETALL', KEYS[1])
local out = {}
if ARGV[4] == '1' then
  for i = 1, #all, 2 do
    if all[i + 1] ~= ARGV[2] then
      out[#out + 1] = all[i]
      out[#out + 1] = all[i + 1]
      redis.call('HDEL', KEYS[1], all[i])
      redis.call('SET', ARGV[5] .. all[i], ARGV[6], 'EX', tonumber(ARGV[3]))
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return out
`;

export interface SupersededEntry {
  buildId: string;
  sha: string;
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
   * shas it replaces; without, only registers (reruns of an old commit must not cancel newer builds).
   */
  async register(key: string, buildId: string, sha: string, supersedeOthers: boolean): Promise<SupersededEntry[]> {
    const by: SupersededBy = { sha, buildId };
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
    )) as string[];
    const entries: SupersededEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ buildId: flat[i]!, sha: flat[i + 1]! });
    return entries;
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
