import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { listHookDeliveries, redeliverHookDelivery } from "../github/index.js";
import type { GitHubClient, HookDelivery } from "../github/index.js";
import { failedDeliveries } from "./failed-deliveries.js";
import type { FailedDelivery } from "./failed-deliveries.js";

export interface RecoveryLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface DeliveryRecoveryOptions {
  /** An Octokit authenticated as the App (JWT): `probot.auth()` without an installation. */
  github: () => Promise<GitHubClient>;
  redis: Redis;
  /** Redis key prefix (the queue prefix). */
  prefix: string;
  /** Events the app handles. */
  events: ReadonlySet<string>;
  /**
   * How far back deliveries are looked at. At most the time a delivery id is remembered for deduplication
   * (DELIVERY_DEDUPE_MS, 3 days), so a delivery that did arrive and is redelivered is still recognised.
   */
  windowMs: number;
  /** Redeliveries asked for per minute, at most (spread evenly). */
  perMinute: number;
  /** Redeliveries of one delivery, at most, counting an operator's. Default 3. */
  maxRedeliveries?: number;
  /**
   * How long before the same delivery is redelivered again when its redelivery failed too. Default: two intervals
   * (at least 30 s) once `start`ed, else 5 min.
   */
  retryAfterMs?: number;
  /** Pages of 100 deliveries read per pass, at most. Default 50. */
  maxPages?: number;
  /** Called once per redelivery asked for (the metrics' counter). */
  onRedelivered?: (event: string) => void;
  log: RecoveryLog;
  now?: () => number;
}

export interface RecoveryPass {
  /** False when another process held the pass. */
  ran: boolean;
  failed: number;
  redelivered: string[];
}

const PASS_LOCK_MS = 10 * 60_000;
// Deletes the pass lock only if this process still holds it.
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/**
 * Missed-webhook recovery. GitHub does not redeliver a delivery the app refused (a 503 while Redis was away) or
 * never received; this asks it to. A pass lists the App's recent deliveries, picks those that failed (no attempt
 * answered "OK") for events the app handles within the window, and asks for a redelivery of each, at a bounded
 * rate. One process runs a pass at a time (a lock in Redis), and each delivery is claimed in Redis for
 * `retryAfterMs` before it is redelivered, so several worker processes never redeliver the same one twice at once.
 * A redelivery carries the delivery's own `X-GitHub-Delivery`, which the event queue deduplicates: a delivery that
 * GitHub counts as failed although the app stored it (an answer lost on the way back) still builds once.
 */
export class DeliveryRecovery {
  readonly #o: DeliveryRecoveryOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;
  #retryAfterMs: number;
  /** Redeliveries per pass, at most: as many as fit in one interval at `perMinute`, once started. */
  #maxPerPass = Number.POSITIVE_INFINITY;
  #lockMs = PASS_LOCK_MS;

  constructor(options: DeliveryRecoveryOptions) {
    this.#o = options;
    this.#retryAfterMs = options.retryAfterMs ?? 5 * 60_000;
  }

  /** Runs a pass now and then every `intervalMs`, in the background. */
  start(intervalMs: number): void {
    this.#retryAfterMs = this.#o.retryAfterMs ?? Math.max(2 * intervalMs, 30_000);
    this.#maxPerPass = Math.max(1, Math.floor((this.#o.perMinute * intervalMs) / 60_000));
    this.#lockMs = Math.max(PASS_LOCK_MS, intervalMs + 60_000);
    const tick = (): void => {
      if (this.#stopped || this.#running) return;
      this.#running = this.pass()
        .catch((err: unknown) => this.#o.log.warn({ err: err instanceof Error ? err.message : String(err) }, "webhook delivery recovery pass failed"))
        .finally(() => (this.#running = undefined));
    };
    tick();
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits (up to 2 s: a slow GitHub must not hold up shutdown) for a pass in progress, which stops between redeliveries. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    if (!this.#running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#running, new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
    clearTimeout(timer);
  }

  async pass(): Promise<RecoveryPass> {
    const o = this.#o;
    const lockKey = `${o.prefix}:recovery:pass`;
    const holder = randomUUID();
    if ((await o.redis.set(lockKey, holder, "PX", this.#lockMs, "NX")) !== "OK") return { ran: false, failed: 0, redelivered: [] };
    try {
      const github = await o.github();
      const failed = failedDeliveries(await this.#recentAttempts(github), {
        events: o.events,
        since: this.#now() - o.windowMs,
        maxRedeliveries: o.maxRedeliveries ?? 3,
      });
      const redelivered: string[] = [];
      const spacingMs = Math.ceil(60_000 / Math.max(1, o.perMinute));
      for (const delivery of failed) {
        if (this.#stopped || redelivered.length >= this.#maxPerPass) break;
        if (!(await this.#claim(delivery))) continue;
        if (redelivered.length > 0) await sleep(spacingMs);
        try {
          await redeliverHookDelivery(github, delivery.attemptId);
        } catch (err) {
          // One refusal (a delivery GitHub no longer keeps, say) does not hold up the others.
          o.log.warn({ deliveryId: delivery.guid, err: err instanceof Error ? err.message : String(err) }, "GitHub refused to redeliver a failed webhook delivery");
          continue;
        }
        redelivered.push(delivery.guid);
        o.onRedelivered?.(delivery.event);
        o.log.info(
          { deliveryId: delivery.guid, event: delivery.event, lastStatus: delivery.lastStatus, redeliveries: delivery.redeliveries + 1 },
          "asked GitHub to redeliver a failed webhook delivery",
        );
      }
      return { ran: true, failed: failed.length, redelivered };
    } finally {
      await o.redis.eval(RELEASE, 1, lockKey, holder).catch(() => undefined);
    }
  }

  /** Attempts back to the window's start, newest first (bounded by maxPages). */
  async #recentAttempts(github: GitHubClient): Promise<HookDelivery[]> {
    const since = this.#now() - this.#o.windowMs;
    const maxPages = this.#o.maxPages ?? 50;
    const out: HookDelivery[] = [];
    let pages = 0;
    for await (const page of listHookDeliveries(github)) {
      out.push(...page);
      if (page.length === 0 || page.some((d) => d.deliveredAt < since)) break;
      if (++pages >= maxPages) {
        this.#o.log.warn({ pages, deliveries: out.length }, "webhook delivery recovery read its page limit before the window's start; older failures are not looked at this pass");
        break;
      }
    }
    return out;
  }

  /** Claims a delivery for the retry delay; false when a process redelivered it recently. */
  async #claim(delivery: FailedDelivery): Promise<boolean> {
    const key = `${this.#o.prefix}:recovery:delivery:${delivery.guid}`;
    return (await this.#o.redis.set(key, "1", "PX", this.#retryAfterMs, "NX")) === "OK";
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }
}
