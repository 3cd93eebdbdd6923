import type { Redis } from "ioredis";
import { runningPerBuilder } from "../builders/index.js";
import { LEASE_LUA } from "../leases/index.js";
import { BUILD_CLASSES } from "./build-class.js";
import type { BuildClass } from "./build-class.js";
import { appKey } from "./queue-names.js";

/**
 * Fair share of the build slots across installations, on top of BullMQ (open-source BullMQ has no per-group limits).
 *
 * Design: every build job is added to BullMQ *parked* (delayed 30 days), and its id goes to its installation's
 * waiting list here, by priority class. With it comes one *turn*: a tiny BullMQ job that any worker slot takes when it
 * is free. A turn runs TAKE, one Lua script: it walks the ring of installations that have work (default-branch/tag
 * ring first, then other branches, then pull requests), rotating it, and pops the oldest build of the first
 * installation under its cap, holding a lease for it. An installation that had nothing waiting joins the ring at its
 * front, so its first build is the next one through, however long another's backlog. The worker then promotes that
 * build, which (priority above every turn) takes the slot the turn left. When the build starts, ACQUIRE turns the
 * lease into a running one (a retried or stall-recovered build that holds none takes a slot if its installation has
 * one, else it is parked again at the front of its list); when it ends, RELEASE frees the slot and, if the
 * installation was at its cap with work waiting, adds a turn.
 *
 * Why turns rather than ordering the jobs themselves: the choice is made at the moment a slot is free, so a backlog
 * queued earlier never stands in front of another installation's first build, whatever the caps and the number of
 * worker processes; BullMQ still runs every build (retries, backoff, stall recovery, many processes on many machines),
 * and a queued build is still a BullMQ job under its build id (supersede, withdraw and the reconciler find it as
 * before). Ordering by BullMQ priority alone (virtual-time tags) would run out of BullMQ's 2^21 priorities and could
 * not skip an installation at its cap.
 *
 * Slots are leases with a TTL (src/leases: ZSETs scored by expiry), renewed by the process running the build; only unexpired
 * leases count, so a dead worker's slot comes back after the TTL even before a sweeper removes it. The sweeper (each
 * worker process, every TTL/3) removes expired leases, sends back to its list a build whose promote never happened
 * (a reserved lease expired while the job is still parked), and adds a turn when work could run but no turn waits.
 *
 * Redis round trips per build: enqueue 2 (ENQUEUE, then one MULTI adding the parked build and its turn), on top of the
 * attempt counter and the supersede registry; take 4 (TAKE, promote, ACQUIRE, RELEASE, plus BullMQ's own fetches of
 * the turn and the build); lease renewal and the sweep are two calls per process per TTL/3 for all its builds.
 * A turn that finds nothing to let through (every installation with work at its cap) ends; the installation's next
 * release adds one. The Lua of TAKE walks the ring past installations at their cap: one round trip, whose work grows
 * with the installations waiting at their cap. `roundTrips` counts the calls made here (test/queue/fair-share.int.test.ts
 * checks the counts above).
 *
 * Priorities: default-branch pushes and tags, then other branches, then pull requests, across installations (a ring
 * per class); round-robin within a class. A flood of one class is held back by its installation's cap only.
 *
 * Waiting for a builder: a build let through that finds every builder it may use full (the processor throws
 * MustWaitError) gives its slot back and is parked again, BLOCKed: out of the rings, so turns skip it and other
 * installations' builds that fit another builder go through (each has a turn of its own). The next build that ends
 * anywhere (RELEASE), or the sweep, puts every blocked build back at the front of its list, its installation at the
 * front of its ring (the turn it had is kept), with one turn each; one that still finds no room is blocked again.
 * So a builder that frees costs a let-through per blocked build (TAKE, promote, the pool's check, BLOCK, park): O(n)
 * in the builds waiting for a builder, which only exist while every builder they may use is full.
 */

/** A build parked until a turn lets it through. */
export const PARK_DELAY_MS = 30 * 24 * 3600 * 1000;

export const DEFAULT_LEASE_TTL_MS = 30_000;

const ENQUEUE = `
local base, inst, cls, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('HSET', base .. 'cap', inst, ARGV[5])
local q = base .. 'q:' .. inst .. ':' .. cls
-- An installation that had nothing waiting joins at the front: its first build is the next one let through.
if redis.call('RPUSH', q, id) == 1 then redis.call('LPUSH', base .. 'ring:' .. cls, inst) end
redis.call('HSET', base .. 'where', id, inst .. ':' .. cls)
return 1
`;

// Shared helpers (prepended to the scripts that need them). A slot is a lease in the installation's lease set
// ('lease:<inst>', src/leases), indexed in 'leases' for the sweep, with who holds it in 'lease-info'.
const HELPERS = `${LEASE_LUA}
local function under_cap(base, inst, now)
  local cap = tonumber(redis.call('HGET', base .. 'cap', inst) or '0') or 0
  if cap <= 0 then return true end
  return lease_live(base .. 'lease:' .. inst, now) < cap
end
local function has_waiting(base, inst)
  for cls = 0, 2 do
    if redis.call('LLEN', base .. 'q:' .. inst .. ':' .. cls) > 0 then return true end
  end
  return false
end
local function unlist(base, id)
  if redis.call('HDEL', base .. 'blocked-at', id) == 1 then redis.call('LREM', base .. 'blocked', 0, id) end
  local w = redis.call('HGET', base .. 'where', id)
  if not w then return end
  local inst, cls = string.match(w, '^(.*):(%d)$')
  local q = base .. 'q:' .. inst .. ':' .. cls
  redis.call('LREM', q, 0, id)
  if redis.call('LLEN', q) == 0 then redis.call('LREM', base .. 'ring:' .. cls, 0, inst) end
  redis.call('HDEL', base .. 'where', id)
end
local function hold(base, inst, id, state, holder, now, ttl)
  local exp = now + ttl
  lease_put(base .. 'lease:' .. inst, id, exp)
  lease_put(base .. 'leases', id, exp)
  redis.call('HSET', base .. 'lease-info', id, inst .. '|' .. state .. '|' .. holder .. '|' .. now)
end
local function drop(base, id)
  local info = redis.call('HGET', base .. 'lease-info', id)
  lease_drop(base .. 'leases', id)
  redis.call('HDEL', base .. 'lease-info', id)
  if not info then return nil, nil end
  local inst, state = string.match(info, '^([^|]*)|([^|]*)|')
  lease_drop(base .. 'lease:' .. inst, id)
  return inst, state
end
-- Blocked builds back at the front of their lists, oldest first, their installations at the front of their rings.
local function unblock(base)
  local ids = redis.call('LRANGE', base .. 'blocked', 0, -1)
  for i = #ids, 1, -1 do
    local id = ids[i]
    local w = redis.call('HGET', base .. 'blocked-at', id)
    if w and not redis.call('HGET', base .. 'where', id) then
      local inst, cls = string.match(w, '^(.*):(%d)$')
      local ring = base .. 'ring:' .. cls
      redis.call('LPUSH', base .. 'q:' .. inst .. ':' .. cls, id)
      redis.call('LREM', ring, 0, inst)
      redis.call('LPUSH', ring, inst)
      redis.call('HSET', base .. 'where', id, w)
    end
  end
  if #ids > 0 then redis.call('DEL', base .. 'blocked', base .. 'blocked-at') end
  return #ids
end
`;

const TAKE = `${HELPERS}
local base, now, ttl, holder = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
for cls = 0, 2 do
  local ring = base .. 'ring:' .. cls
  local n = redis.call('LLEN', ring)
  for i = 1, n do
    local inst = redis.call('LMOVE', ring, ring, 'LEFT', 'RIGHT')
    if under_cap(base, inst, now) then
      local q = base .. 'q:' .. inst .. ':' .. cls
      local id = redis.call('LPOP', q)
      if redis.call('LLEN', q) == 0 then redis.call('LREM', ring, -1, inst) end
      if id then
        redis.call('HDEL', base .. 'where', id)
        hold(base, inst, id, 'reserved', holder, now, ttl)
        return {id, inst}
      end
    end
  end
end
return false
`;

const ACQUIRE = `${HELPERS}
local base, now, ttl, holder, inst, cls, id = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if lease_held(base .. 'lease:' .. inst, id, now) or under_cap(base, inst, now) then
  unlist(base, id)
  hold(base, inst, id, 'running', holder, now, ttl)
  return 1
end
if not redis.call('HGET', base .. 'where', id) then
  local q = base .. 'q:' .. inst .. ':' .. cls
  if redis.call('LPUSH', q, id) == 1 then redis.call('LPUSH', base .. 'ring:' .. cls, inst) end
  redis.call('HSET', base .. 'where', id, inst .. ':' .. cls)
end
return 0
`;

const RELEASE = `${HELPERS}
local base, id, inst, mine, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local full = not under_cap(base, inst, now)
local info = redis.call('HGET', base .. 'lease-info', id)
if info then
  local holder = string.match(info, '^[^|]*|[^|]*|([^|]*)|')
  if mine == '' or holder == mine then drop(base, id) end
end
-- Turns to add: one per blocked build (a builder may have freed with this build: they get another look), and one
-- when the installation was at its cap with builds waiting (only then can their turns have found nothing to do).
return unblock(base) + ((full and has_waiting(base, inst)) and 1 or 0)
`;

const BLOCK = `${HELPERS}
local base, id, inst, cls, mine, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local full = not under_cap(base, inst, now)
local info = redis.call('HGET', base .. 'lease-info', id)
if info and string.match(info, '^[^|]*|[^|]*|([^|]*)|') == mine then drop(base, id) end
if not redis.call('HGET', base .. 'where', id) and redis.call('HSETNX', base .. 'blocked-at', id, inst .. ':' .. cls) == 1 then
  redis.call('RPUSH', base .. 'blocked', id)
end
-- Its slot is free again: as in RELEASE, a turn when its installation was at its cap with builds waiting.
return (full and has_waiting(base, inst)) and 1 or 0
`;

const FORGET = `${HELPERS}
local base, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
unlist(base, id)
local info = redis.call('HGET', base .. 'lease-info', id)
if info and string.match(info, '^[^|]*|reserved|') then
  local inst = string.match(info, '^([^|]*)|')
  local full = not under_cap(base, inst, now)
  drop(base, id)
  return (full and has_waiting(base, inst)) and 1 or 0
end
return 0
`;

const RENEW = `${HELPERS}
local base, now, ttl, holder = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local lost = 0
for i = 5, #ARGV, 2 do
  local id, inst = ARGV[i], ARGV[i + 1]
  if not lease_held(base .. 'lease:' .. inst, id, now) then lost = lost + 1 end
  local info = redis.call('HGET', base .. 'lease-info', id)
  local since = info and string.match(info, '|(%d+)$') or tostring(now)
  hold(base, inst, id, 'running', holder, now, ttl)
  redis.call('HSET', base .. 'lease-info', id, inst .. '|running|' .. holder .. '|' .. since)
end
return lost
`;

const SWEEP = `${HELPERS}
local base, now, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local expired = lease_expired(base .. 'leases', now, limit)
local out = {0, 0, 0}
for _, id in ipairs(expired) do
  local inst, state = drop(base, id)
  if state == 'reserved' then
    out[#out + 1] = id
    out[#out + 1] = inst
  end
end
for cls = 0, 2 do
  local ring = base .. 'ring:' .. cls
  for _, inst in ipairs(redis.call('LRANGE', ring, 0, -1)) do
    if under_cap(base, inst, now) then out[1] = 1 end
  end
end
out[2] = #expired
out[3] = unblock(base)
return out
`;

const REQUEUE = `
local base, inst, cls, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('HGET', base .. 'where', id) then return 0 end
local q = base .. 'q:' .. inst .. ':' .. cls
if redis.call('LPUSH', q, id) == 1 then redis.call('LPUSH', base .. 'ring:' .. cls, inst) end
redis.call('HSET', base .. 'where', id, inst .. ':' .. cls)
return 1
`;

export interface TakenBuild {
  buildId: string;
  installationId: number;
}

export interface SweepResult {
  /** An installation with waiting builds has a free slot. */
  runnable: boolean;
  /** Leases that had expired (a dead worker's, or a reservation whose build never started). */
  expired: number;
  /** Reservations that expired: their builds may still be parked and need to go back to their list. */
  reservations: TakenBuild[];
  /** Builds that waited for a builder, back on their lists: each needs a turn. */
  unblocked: number;
}

export interface RunningBuild {
  buildId: string;
  state: "reserved" | "running";
  /** The worker process holding the lease. */
  holder: string;
  since: string;
  expiresAt: string;
}

export interface InstallationShare {
  installationId: number;
  /** Undefined: no cap. */
  cap: number | undefined;
  /** Build ids waiting, oldest first, by class (0 default branch and tags, 1 other branches, 2 pull requests). */
  waiting: Record<BuildClass, string[]>;
  /** Build ids let through that found every builder they may use full, oldest first: they wait for a builder to free. */
  waitingForBuilder: string[];
  running: RunningBuild[];
}

export interface FairShareSnapshot {
  at: string;
  installations: InstallationShare[];
  /** Running builds by worker process (the lease holder). */
  byHolder: Record<string, number>;
  /** Running builds by builder, across every worker process (the builder pool's leases; builders with none left out). */
  byBuilder: Record<string, number>;
}

/** The Redis side of the fair share: waiting lists, the ring of installations with work, and the slot leases. */
export class FairShare {
  /** Redis calls made by this object (each one round trip). */
  roundTrips = 0;
  private readonly base: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly leaseTtlMs = DEFAULT_LEASE_TTL_MS,
  ) {
    this.base = `${appKey(prefix, "fair")}:`;
  }

  private async eval(script: string, ...args: Array<string | number>): Promise<unknown> {
    this.roundTrips++;
    return this.redis.eval(script, 0, this.base, ...args);
  }

  /** Puts a build at the end of its installation's list. `cap` 0: no cap. */
  async enqueue(installationId: number, cls: BuildClass, buildId: string, cap: number): Promise<void> {
    await this.eval(ENQUEUE, installationId, cls, buildId, Math.max(0, Math.floor(cap)));
  }

  /** A turn: the next installation's oldest build, with a reserved slot; undefined when nothing may start. */
  async take(holder: string): Promise<TakenBuild | undefined> {
    const r = (await this.eval(TAKE, Date.now(), this.leaseTtlMs, holder)) as [string, string] | null;
    return r ? { buildId: r[0], installationId: Number(r[1]) } : undefined;
  }

  /** The build is starting: true when it holds a slot now, false when it went back to the front of its list. */
  async acquire(holder: string, installationId: number, cls: BuildClass, buildId: string): Promise<boolean> {
    return (await this.eval(ACQUIRE, Date.now(), this.leaseTtlMs, holder, installationId, cls, buildId)) === 1;
  }

  /**
   * The build's attempt ended: frees its slot (when `holder` holds it; "" frees it whoever does). Returns how many
   * turns to add: one when the installation was at its cap with builds waiting (their turns may have found
   * nothing), and one per build that waited for a builder, back on its list now.
   */
  async release(buildId: string, installationId: number, holder = ""): Promise<number> {
    return Number(await this.eval(RELEASE, buildId, installationId, holder, Date.now()));
  }

  /**
   * The build let through must wait for a builder: its slot is freed and it is kept aside (out of the rings) until a
   * build ends or the sweep runs. True, as for `release`, when its installation was at its cap with builds waiting.
   */
  async block(holder: string, installationId: number, cls: BuildClass, buildId: string): Promise<boolean> {
    return (await this.eval(BLOCK, buildId, installationId, cls, holder, Date.now())) === 1;
  }

  /** A queued build was removed: out of its list, and its reserved slot freed. True when a turn should be added. */
  async forget(buildId: string): Promise<boolean> {
    return (await this.eval(FORGET, buildId, Date.now())) === 1;
  }

  /** Renews the leases of the builds this process runs; returns how many had already expired. */
  async renew(holder: string, builds: ReadonlyArray<{ buildId: string; installationId: number }>): Promise<number> {
    if (builds.length === 0) return 0;
    const args = builds.flatMap((b) => [b.buildId, b.installationId]);
    return Number(await this.eval(RENEW, Date.now(), this.leaseTtlMs, holder, ...args));
  }

  async sweep(limit = 500): Promise<SweepResult> {
    const r = (await this.eval(SWEEP, Date.now(), limit)) as Array<string | number>;
    const reservations: TakenBuild[] = [];
    for (let i = 3; i + 1 < r.length; i += 2) reservations.push({ buildId: String(r[i]), installationId: Number(r[i + 1]) });
    return { runnable: Number(r[0]) === 1, expired: Number(r[1]), unblocked: Number(r[2]), reservations };
  }

  /** Puts a build whose reservation expired while it was still parked back at the front of its list. */
  async requeue(installationId: number, cls: BuildClass, buildId: string): Promise<void> {
    await this.eval(REQUEUE, installationId, cls, buildId);
  }

  /** What is waiting and running, per installation, and running per worker process and per builder (for operators; not O(1)). */
  async snapshot(): Promise<FairShareSnapshot> {
    const now = Date.now();
    const rings = await Promise.all(BUILD_CLASSES.map((cls) => this.redis.lrange(`${this.base}ring:${cls}`, 0, -1)));
    const [caps, infos, blocked, blockedAt] = await Promise.all([
      this.redis.hgetall(`${this.base}cap`),
      this.redis.hgetall(`${this.base}lease-info`),
      this.redis.lrange(`${this.base}blocked`, 0, -1),
      this.redis.hgetall(`${this.base}blocked-at`),
    ]);
    const expiries = new Map<string, number>();
    const leaseIds = Object.keys(infos);
    if (leaseIds.length > 0) {
      const scores = await this.redis.zmscore(`${this.base}leases`, ...leaseIds);
      leaseIds.forEach((id, i) => expiries.set(id, Number(scores[i] ?? 0)));
    }
    const byInst = new Map<number, InstallationShare>();
    const share = (inst: number): InstallationShare => {
      let s = byInst.get(inst);
      if (!s) {
        const cap = Number(caps[String(inst)] ?? 0);
        s = { installationId: inst, cap: cap > 0 ? cap : undefined, waiting: { 0: [], 1: [], 2: [] }, waitingForBuilder: [], running: [] };
        byInst.set(inst, s);
      }
      return s;
    };
    for (const cls of BUILD_CLASSES) {
      for (const inst of new Set(rings[cls])) share(Number(inst)).waiting[cls] = await this.redis.lrange(`${this.base}q:${inst}:${cls}`, 0, -1);
    }
    for (const id of blocked) {
      const at = blockedAt[id];
      if (at) share(Number(at.slice(0, at.lastIndexOf(":")))).waitingForBuilder.push(id);
    }
    const byHolder: Record<string, number> = {};
    for (const [buildId, info] of Object.entries(infos)) {
      const [inst, state, holder, since] = info.split("|");
      const exp = expiries.get(buildId) ?? 0;
      if (exp <= now) continue;
      share(Number(inst)).running.push({
        buildId,
        state: state === "reserved" ? "reserved" : "running",
        holder: holder ?? "",
        since: new Date(Number(since)).toISOString(),
        expiresAt: new Date(exp).toISOString(),
      });
      if (holder) byHolder[holder] = (byHolder[holder] ?? 0) + 1;
    }
    return { at: new Date(now).toISOString(), installations: [...byInst.values()].sort((a, b) => a.installationId - b.installationId), byHolder, byBuilder: await runningPerBuilder(this.redis, this.prefix) };
  }
}
