import type { Redis } from "ioredis";
import { Redactor } from "@buildkit-bot/buildkit";
import { decodeRecords, encodeRecords, type LogRecord } from "./log-records.js";
import { newLogToken } from "./log-token.js";

/**
 * Build logs in Redis. One stream per build holds chunks of JSON-line records. The first `headBytes` are kept
 * for good; after that the stream keeps a rolling tail of `maxBytes - headBytes`, dropping the oldest tail
 * chunks and remembering how much was dropped, so the page can mark the gap. The log, its metadata and its page
 * token all expire together, `ttlMs` after the log was opened.
 */
export interface LogStoreOptions {
  /** Default `bkb:logs`. */
  prefix?: string;
  /** Total kept per build. Default 5 MiB. */
  maxBytes?: number;
  /** Part of `maxBytes` kept from the start. Default 1 MiB. */
  headBytes?: number;
  /** Default 7 days. */
  ttlMs?: number;
  /** Redacted from every line on top of what the caller already redacted. */
  secrets?: readonly string[];
}

export type LogEntry = { id: string; records: LogRecord[] } | { id: string; gapBytes: number };

export interface LogSnapshot {
  entries: LogEntry[];
  /** Id of the last entry read, the cursor for the next read. */
  lastId: string | null;
  done: boolean;
  droppedBytes: number;
}

export const DEFAULT_LOG_TTL_MS = 7 * 24 * 3_600_000;
export const DEFAULT_LOG_MAX_BYTES = 5 * 1024 * 1024;

// KEYS: meta, token key   ARGV: token, buildId, ttlMs   → the build's token (the existing one if already open)
const OPEN = `
local existing = redis.call('HGET', KEYS[1], 'token')
if existing then return existing end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiresAt = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'expiresAt', expiresAt, 'createdAt', now, 'headBytes', 0, 'tailBytes', 0, 'dropped', 0)
redis.call('PEXPIREAT', KEYS[1], expiresAt)
redis.call('SET', KEYS[2], ARGV[2], 'PXAT', expiresAt)
return ARGV[1]
`;

// KEYS: stream, meta   ARGV: chunk, headMax, tailMax, done(0/1)   → entry id, or false when the log is not open
const APPEND = `
local expiresAt = redis.call('HGET', KEYS[2], 'expiresAt')
if not expiresAt then return false end
local chunk = ARGV[1]
local size = #chunk
local id = redis.call('XADD', KEYS[1], '*', 'd', chunk)
redis.call('PEXPIREAT', KEYS[1], expiresAt)
if ARGV[4] == '1' then redis.call('HSET', KEYS[2], 'done', '1') end
local sealed = redis.call('HGET', KEYS[2], 'sealed')
local headBytes = tonumber(redis.call('HGET', KEYS[2], 'headBytes') or '0')
if not sealed and headBytes + size <= tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[2], 'headBytes', size)
  redis.call('HSET', KEYS[2], 'headLast', id)
  return id
end
if not sealed then redis.call('HSET', KEYS[2], 'sealed', '1') end
local tail = redis.call('HINCRBY', KEYS[2], 'tailBytes', size)
local headLast = redis.call('HGET', KEYS[2], 'headLast') or '0-0'
while tail > tonumber(ARGV[3]) do
  local first = redis.call('XRANGE', KEYS[1], '(' .. headLast, '+', 'COUNT', 1)
  if #first == 0 or first[1][1] == id then break end
  local dropped = #first[1][2][2]
  redis.call('XDEL', KEYS[1], first[1][1])
  tail = redis.call('HINCRBY', KEYS[2], 'tailBytes', -dropped)
  redis.call('HINCRBY', KEYS[2], 'dropped', dropped)
  redis.call('HSET', KEYS[2], 'droppedThrough', first[1][1])
end
return id
`;

/** Orders Redis stream ids (`<ms>-<seq>`). */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split("-").map(BigInt);
  const [bm = 0n, bs = 0n] = b.split("-").map(BigInt);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

export class LogStore {
  readonly prefix: string;
  readonly maxBytes: number;
  readonly headBytes: number;
  readonly ttlMs: number;
  readonly #redactor: Redactor;

  constructor(
    private readonly redis: Redis,
    options: LogStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? "bkb:logs";
    this.maxBytes = options.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
    this.headBytes = options.headBytes ?? Math.floor(this.maxBytes / 5);
    this.ttlMs = options.ttlMs ?? DEFAULT_LOG_TTL_MS;
    this.#redactor = new Redactor(options.secrets);
    if (this.headBytes >= this.maxBytes) throw new RangeError("headBytes must be smaller than maxBytes");
  }

  #stream(buildId: string) {
    return `${this.prefix}:stream:${buildId}`;
  }
  #meta(buildId: string) {
    return `${this.prefix}:meta:${buildId}`;
  }
  #tokenKey(token: string) {
    return `${this.prefix}:token:${token}`;
  }

  /** Starts a build's log (idempotent) and returns the token of its page. */
  async open(buildId: string): Promise<string> {
    const token = newLogToken();
    return String(await this.redis.eval(OPEN, 2, this.#meta(buildId), this.#tokenKey(token), token, buildId, this.ttlMs));
  }

  /**
   * Appends records as one chunk (callers batch: see LogWriter). Returns false when the log is not open (or expired).
   * Redacts and sends before its first await, so chunks appended one after another are stored in that order without
   * waiting for each other's reply (LogWriter relies on it).
   */
  async append(buildId: string, records: readonly LogRecord[], options: { redactor?: Redactor; done?: boolean } = {}): Promise<boolean> {
    if (records.length === 0 && !options.done) return true;
    const build = options.redactor;
    const redact = (text: string): string => this.#redactor.redact(build ? build.redact(text) : text);
    const clean = records.map((r): LogRecord => {
      if (r.t === "line") return { ...r, text: redact(r.text) };
      if (r.t === "step") return { ...r, name: redact(r.name) };
      return r.message === undefined ? r : { ...r, message: redact(r.message) };
    });
    const id = await this.redis.eval(APPEND, 2, this.#stream(buildId), this.#meta(buildId), encodeRecords(clean), this.headBytes, this.maxBytes - this.headBytes, options.done ? "1" : "0");
    return id !== null;
  }

  /** Appends the end record and marks the log complete. */
  async finish(buildId: string, outcome: Extract<LogRecord, { t: "end" }>["outcome"], message?: string, redactor?: Redactor): Promise<boolean> {
    return this.append(buildId, [{ t: "end", outcome, ...(message === undefined ? {} : { message }) }], { done: true, ...(redactor ? { redactor } : {}) });
  }

  /** The build a page token belongs to, or null (unknown or expired). */
  async resolve(token: string): Promise<string | null> {
    return this.redis.get(this.#tokenKey(token));
  }

  /** Everything after `after` (all when absent); a gap entry stands where tail chunks were dropped. Null when no such log. */
  async read(buildId: string, after?: string, limit = 10_000): Promise<LogSnapshot | null> {
    const meta = await this.redis.hgetall(this.#meta(buildId));
    if (!meta.token) return null;
    const raw = (await this.redis.xrange(this.#stream(buildId), after ? `(${after}` : "-", "+", "COUNT", limit)) as Array<[string, string[]]>;
    const dropped = Number(meta.dropped ?? 0);
    const headLast = meta.headLast ?? "0-0";
    const droppedThrough = meta.droppedThrough;
    const entries: LogEntry[] = [];
    // The gap sits right after the head; a reader whose cursor is before the last dropped chunk missed it.
    let gapPending = dropped > 0 && droppedThrough !== undefined && (after === undefined || compareStreamIds(after, droppedThrough) < 0);
    if (gapPending && after !== undefined && compareStreamIds(after, headLast) >= 0) {
      entries.push({ id: droppedThrough as string, gapBytes: dropped });
      gapPending = false;
    }
    for (const [id, fields] of raw) {
      if (gapPending && compareStreamIds(id, headLast) > 0) {
        entries.push({ id: droppedThrough as string, gapBytes: dropped });
        gapPending = false;
      }
      const d = fields[fields.indexOf("d") + 1] ?? "";
      entries.push({ id, records: decodeRecords(d) });
    }
    return { entries, lastId: raw.at(-1)?.[0] ?? after ?? null, done: meta.done === "1", droppedBytes: dropped };
  }

  /**
   * How many logs are kept and their bytes (head plus tail, as the append script counts them), for metrics. Walks
   * the logs' metadata with SCAN, at most `maxLogs` of them; `complete` is false when it stopped there.
   */
  async usage(maxLogs = 20_000): Promise<{ logs: number; bytes: number; complete: boolean }> {
    let cursor = "0";
    let logs = 0;
    let bytes = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", `${this.prefix}:meta:*`, "COUNT", 500);
      cursor = next;
      if (keys.length === 0) continue;
      const pipeline = this.redis.pipeline();
      for (const key of keys) pipeline.hmget(key, "headBytes", "tailBytes");
      for (const [err, sizes] of (await pipeline.exec()) ?? []) {
        if (err || !Array.isArray(sizes)) continue;
        logs++;
        bytes += Number(sizes[0] ?? 0) + Number(sizes[1] ?? 0);
      }
      if (logs >= maxLogs) return { logs, bytes, complete: false };
    } while (cursor !== "0");
    return { logs, bytes, complete: true };
  }
}
