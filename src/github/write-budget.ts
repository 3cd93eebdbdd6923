import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { appWidePauseMs } from "./rate-limit.js";

/**
 * One budget for every content-creating GitHub request the app makes (check runs, statuses), shared by all
 * processes through Redis, so the app stays under GitHub's secondary limits (80/min, 500/h) with headroom.
 *
 * - `acquire("final", key)` waits until a slot is free and always gets it; finals are served in arrival order,
 *   and while any final waits no intermediate update is granted (finals go first). A waiting final refreshes a
 *   heartbeat on every poll, so one left behind by a dead process stops blocking after a few seconds.
 * - `acquire("intermediate", key)` waits too, but each call for the same key supersedes the ones before it:
 *   an older waiter resolves `{ granted: false }` and its caller drops that update, so a backlog collapses to
 *   the latest state per key. A final for the key supersedes its waiting intermediates as well.
 *
 * A grant is counted when it is given, but GitHub counts the request when it arrives, and requests do not all take
 * equally long on the way: an early write that arrives late can bring a later one into its window. So each grant
 * holds its slot for the window plus `transitMarginMs`: as long as two requests' travel times differ by no more than
 * the margin, GitHub never sees more than `max` writes in any window.
 *
 * When GitHub answers a write with a secondary-rate-limit 403 or a 429, `send` pauses the budget: no write of any
 * process is granted until the time GitHub asked for has passed. Finals wait it out and are sent again; an
 * intermediate update is dropped (a later one replaces it).
 */
export type WriteKind = "final" | "intermediate";

export type Permit = { granted: true; /** Redis clock, ms. */ at: number } | { granted: false; reason: "superseded" };

export interface BudgetWindow {
  windowMs: number;
  max: number;
}

export interface WriteBudgetOptions {
  /** Key prefix; every key of one budget starts with it. Default `bkb:budget`. */
  prefix?: string;
  /** Default 60 (GitHub allows 80). */
  perMinute?: number;
  /** Default 400 (GitHub allows 500). */
  perHour?: number;
  /** Replaces the per-minute/per-hour pair (tests use short windows). */
  windows?: BudgetWindow[];
  /** Longest sleep between two tries while waiting. Default 250 ms. */
  pollMs?: number;
  /** How much longer than its window each grant counts, for the request's way to GitHub. Default 2 s. */
  transitMarginMs?: number;
}

export const DEFAULT_WRITES_PER_MINUTE = 60;
export const DEFAULT_WRITES_PER_HOUR = 400;
export const DEFAULT_TRANSIT_MARGIN_MS = 2_000;

/** How long a key's generation counter is kept after its last write. */
const GEN_TTL_MS = 3_600_000;

// KEYS: finals queue (ticket → enqueue time), finals heartbeats (ticket → last poll), generation key,
//       pause key (Redis time, ms, before which nothing is granted), then one zset per window (KEYS[i], i ≥ 5).
// ARGV: kind, ticket, generation ("": a new one, the key's counter bumped, on the first try), staleMs, then span/max of
//       KEYS[i] at ARGV[2i-5]/ARGV[2i-4], the span being how long a grant counts (the window plus the transit margin).
// Returns {1, 0, now, gen} granted, {0, waitMs, now, gen} wait, {-1, 0, now, gen} superseded, gen being the generation
// to try again with.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local kind, ticket, gen, staleMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if gen == '' then
  gen = tostring(redis.call('INCR', KEYS[3]))
  redis.call('PEXPIRE', KEYS[3], ${GEN_TTL_MS})
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - staleMs)
for _, dead in ipairs(stale) do
  redis.call('ZREM', KEYS[1], dead)
  redis.call('ZREM', KEYS[2], dead)
end
if kind == 'intermediate' then
  if redis.call('GET', KEYS[3]) ~= gen then return {-1, 0, now, gen} end
  if redis.call('ZCARD', KEYS[1]) > 0 then return {0, staleMs, now, gen} end
else
  redis.call('ZADD', KEYS[1], 'NX', now, ticket)
  redis.call('ZADD', KEYS[2], now, ticket)
  redis.call('PEXPIRE', KEYS[1], staleMs * 2)
  redis.call('PEXPIRE', KEYS[2], staleMs * 2)
  -- Finals are served in arrival order.
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)
  if head[1] ~= ticket then return {0, staleMs, now, gen} end
end
local pausedUntil = tonumber(redis.call('GET', KEYS[4]) or '0')
if pausedUntil > now then return {0, pausedUntil - now, now, gen} end
local wait = 0
for i = 5, #KEYS do
  local span = tonumber(ARGV[2 * i - 5])
  local max = tonumber(ARGV[2 * i - 4])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - span)
  if redis.call('ZCARD', KEYS[i]) >= max then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + span - now + 1
    if w > wait then wait = w end
  end
end
if wait > 0 then return {0, wait, now, gen} end
for i = 5, #KEYS do
  redis.call('ZADD', KEYS[i], now, ticket)
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 * i - 5]) + 1000)
end
if kind == 'final' then
  redis.call('ZREM', KEYS[1], ticket)
  redis.call('ZREM', KEYS[2], ticket)
end
return {1, 0, now, gen}
`;

// KEYS: pause key   ARGV: ms   → the pause's end (Redis time, ms); a pause only ever grows.
const PAUSE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= untilMs then return current end
redis.call('SET', KEYS[1], untilMs, 'PX', tonumber(ARGV[1]) + 1000)
return untilMs
`;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export class WriteBudget {
  readonly prefix: string;
  readonly windows: readonly BudgetWindow[];
  readonly transitMarginMs: number;
  readonly #pollMs: number;
  /** A waiting final refreshes its mark every poll; marks older than this belong to a dead process. */
  readonly #staleMs: number;

  constructor(
    private readonly redis: Redis,
    options: WriteBudgetOptions = {},
  ) {
    this.prefix = options.prefix ?? "bkb:budget";
    this.windows = options.windows ?? [
      { windowMs: 60_000, max: options.perMinute ?? DEFAULT_WRITES_PER_MINUTE },
      { windowMs: 3_600_000, max: options.perHour ?? DEFAULT_WRITES_PER_HOUR },
    ];
    if (this.windows.length === 0 || this.windows.some((w) => !(w.max >= 1) || !(w.windowMs >= 1))) {
      throw new RangeError("write budget windows need windowMs ≥ 1 and max ≥ 1");
    }
    this.transitMarginMs = options.transitMarginMs ?? DEFAULT_TRANSIT_MARGIN_MS;
    if (!(this.transitMarginMs >= 0)) throw new RangeError("transitMarginMs must be ≥ 0");
    this.#pollMs = options.pollMs ?? 250;
    this.#staleMs = Math.max(5_000, this.#pollMs * 20);
  }

  /** Waits for a write slot; see the module comment for what `kind` changes. Rejects only on abort. */
  async acquire(kind: WriteKind, key: string, options: { signal?: AbortSignal } = {}): Promise<Permit> {
    const genKey = `${this.prefix}:gen:${key}`;
    const ticket = `${kind}:${randomBytes(9).toString("base64url")}`;
    const keys = [
      `${this.prefix}:finals`,
      `${this.prefix}:finals-hb`,
      genKey,
      this.#pauseKey,
      ...this.windows.map((w) => `${this.prefix}:w:${w.windowMs}`),
    ];
    const spans = this.windows.flatMap((w) => [w.windowMs + this.transitMarginMs, w.max]);
    // The first try takes the key's next generation in the same round trip; later tries keep it.
    let gen = "";
    try {
      for (;;) {
        const [state, waitMs, now, current] = (await this.redis.eval(ACQUIRE, keys.length, ...keys, kind, ticket, gen, this.#staleMs, ...spans)) as [number, number, number, string];
        gen = current;
        if (state === 1) return { granted: true, at: now };
        if (state === -1) return { granted: false, reason: "superseded" };
        await sleep(Math.max(5, Math.min(waitMs, this.#pollMs)), options.signal);
      }
    } catch (err) {
      if (kind === "final") {
        await this.redis
          .multi()
          .zrem(`${this.prefix}:finals`, ticket)
          .zrem(`${this.prefix}:finals-hb`, ticket)
          .exec()
          .catch(() => undefined);
      }
      throw err;
    }
  }

  /**
   * One write through the budget: waits for a permit, then `write()`. A secondary-rate-limit 403 or a 429 pauses
   * every write of the app (all processes) for as long as GitHub asked; a final then waits the pause out and is
   * written again (up to `maxPauses` times before the error is thrown), an intermediate is dropped. Resolves false
   * when the update was not written (superseded, or an intermediate dropped under a pause).
   */
  async send(kind: WriteKind, key: string, write: () => Promise<unknown>, options: { signal?: AbortSignal; maxPauses?: number } = {}): Promise<boolean> {
    const maxPauses = options.maxPauses ?? 5;
    for (let pauses = 0; ; pauses++) {
      const permit = await this.acquire(kind, key, options);
      if (!permit.granted) return false;
      try {
        await write();
        return true;
      } catch (err) {
        const pauseMs = appWidePauseMs(err);
        if (pauseMs === undefined) throw err;
        await this.pause(pauseMs);
        if (kind === "intermediate") return false;
        if (pauses + 1 >= maxPauses) throw err;
      }
    }
  }

  /** Grants nothing to any process of the app for `ms` from now (Redis time); a longer pause already set stays. */
  async pause(ms: number): Promise<void> {
    await this.redis.eval(PAUSE, 1, this.#pauseKey, Math.max(0, Math.ceil(ms)));
  }

  /** How long the current app-wide pause still lasts, ms (0 when none). */
  async pausedForMs(): Promise<number> {
    const [until, [sec, micro]] = await Promise.all([this.redis.get(this.#pauseKey), this.redis.time()]);
    const now = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
    return Math.max(0, Number(until ?? 0) - now);
  }

  get #pauseKey(): string {
    return `${this.prefix}:paused-until`;
  }

  /** Writes granted in each window right now (for metrics and tests). */
  async usage(): Promise<Array<BudgetWindow & { used: number }>> {
    const out: Array<BudgetWindow & { used: number }> = [];
    for (const w of this.windows) {
      const key = `${this.prefix}:w:${w.windowMs}`;
      const [sec, micro] = await this.redis.time();
      const now = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
      out.push({ ...w, used: await this.redis.zcount(key, now - w.windowMs + 1, "+inf") });
    }
    return out;
  }
}
