import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { DelayedError, Job, Queue, UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { BuildOutcome } from "./build-outcome.js";
import { buildClassOf } from "./build-class.js";
import { DEFAULT_LEASE_TTL_MS, FairShare, PARK_DELAY_MS } from "./fair-share.js";
import { subscribeCancels } from "./cancel-channel.js";
import type { CancelReason } from "./cancel-channel.js";
import type { BuildJob } from "./job-types.js";
import { isTransientError, MustWaitError } from "../errors/index.js";
import { ownInstallationOf } from "./job-data-guard.js";
import type { QueueLog } from "./queue-log.js";
import { silentLog } from "./queue-log.js";
import { QueueName } from "./queue-names.js";
import { DEFAULT_RETRY_POLICY, transientBackoff } from "./retry-policy.js";
import type { RetryPolicy } from "./retry-policy.js";
import { SupersedeRegistry } from "./supersede-registry.js";
import { supersededText } from "./supersede-listener.js";
import type { SupersededBy, SupersedeListener } from "./supersede-listener.js";
import { isTurn, turnJob } from "./turns.js";

/** What a processor may tell the worker about the slot its build holds. */
export interface BuildSlot {
  /**
   * The build needs its slot no longer (its solve and push are done; what is left is reporting): the slot goes back
   * now, so the next build may start while this one reports. Once; later calls do nothing.
   */
  free(): void;
}

export type BuildProcessor = (job: BuildJob, signal: AbortSignal, slot?: BuildSlot) => Promise<BuildOutcome>;

export interface BuildWorkerOptions {
  /** A worker connection (`maxRetriesPerRequest: null`). */
  connection: Redis;
  /** Dedicated connection for cancel messages; defaults to a duplicate of `connection`. */
  subscriber?: Redis;
  prefix?: string;
  concurrency: number;
  processor: BuildProcessor;
  /** Ends the public record of each build this queue supersedes. */
  supersedeListener: SupersedeListener;
  /** Must match the policy the jobs were queued with (attempts live on the job, the backoff here). */
  retry?: RetryPolicy;
  /** How long an aborted processor gets to wind down before the job is failed anyway. */
  cancelGraceMs?: number;
  /** How long a build's slot lease lasts unless renewed (renewed every third of it while the build runs). */
  leaseTtlMs?: number;
  /** BullMQ's job lock and stall check (defaults 30 s each); tests shorten them to see a dead worker's build come back. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  log?: QueueLog;
}

export interface BuildWorker {
  readonly worker: Worker<BuildJob, BuildOutcome>;
  /** This process's name on the slot leases it holds. */
  readonly holder: string;
  /** Its side of the fair share (`roundTrips` counts its Redis calls). */
  readonly fair: FairShare;
  /** Stops taking jobs; waits up to `timeoutMs` for running builds, then leaves them to the stall checker. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * The build worker loop: runs the processor for each build job with an AbortSignal that fires when the build
 * is superseded (whichever process sent the cancel), maps failures to retry (transient) or final
 * (`UnrecoverableError`), and reports superseded builds. Builds start only through their installation's fair share
 * (fair-share.ts): a turn lets the next build through, a build holds a slot lease while it runs, and a build that finds
 * its installation at its cap (a retry, a build back from a dead worker) is parked again. A build whose processor
 * says it must wait (MustWaitError: every builder it may use is full) gives its slot back and is parked, no attempt
 * spent, until a build ends or the sweep lets it through again. A processor may give the slot back before it ends
 * (`BuildSlot.free`, once its solve and push are done): the next build starts while this one reports. The slot is the
 * installation's the job id names (the queue set it); job data that names another installation fails the job,
 * charging nobody else's share.
 */
export async function createBuildWorker(opts: BuildWorkerOptions): Promise<BuildWorker> {
  const prefix = opts.prefix ?? "bkb";
  const log = opts.log ?? silentLog;
  const registry = new SupersedeRegistry(opts.connection, prefix);
  const cancelReasons = new Map<string, CancelReason>();
  const grace = opts.cancelGraceMs ?? 30_000;
  const fair = new FairShare(opts.connection, prefix, opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS);
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const queue = new Queue<BuildJob>(QueueName.Builds, { connection: opts.connection, prefix });
  queue.on("error", () => {});
  /** Builds this process holds a slot for: build id → installation. */
  const held = new Map<string, number>();
  /** The lease renewal under way, if any: a slot is given back only after it (it would hold the lease again). */
  let renewing: Promise<void> | undefined;
  const addTurn = async (): Promise<void> => {
    const turn = turnJob();
    await queue.add(turn.name, turn.data as unknown as BuildJob, turn.opts);
  };
  /** `n` turns at once (`true`: one), in one round trip. */
  const addTurns = async (n: number | boolean): Promise<void> => {
    const count = Number(n);
    if (count <= 0) return;
    const turn = turnJob();
    await queue.addBulk(Array.from({ length: count }, () => ({ name: turn.name, data: turn.data as unknown as BuildJob, opts: turn.opts })));
  };

  /**
   * Lets a parked build through. Its list entry is written just before the job (so no job is ever parked without
   * one), so a turn may see the entry a moment before the job exists: it waits for it, up to 2 s. A job found parked
   * after a failed promote has just been added (or parked again) and is promoted on the next try; giving up on it
   * would leave it parked until its reservation expired.
   */
  const promote = async (buildId: string): Promise<boolean> => {
    for (let waited = 0; ; waited += 25) {
      try {
        await new Job(queue, "", {} as BuildJob, {}, buildId).promote();
        return true;
      } catch {
        const state = await queue.getJobState(buildId);
        if (waited >= 2_000 || (state !== "unknown" && state !== "delayed")) return false;
        if (state === "delayed") continue;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  };

  /** A free slot: the next installation's oldest build goes through (a stale list entry is dropped and the next tried). */
  const takeTurn = async (): Promise<void> => {
    for (let tries = 0; tries < 5; tries++) {
      const taken = await fair.take(holder);
      if (!taken) return;
      if (await promote(taken.buildId)) return;
      // Not parked. Gone or finished: its reservation goes. Otherwise it is running or being parked right now: the
      // reservation stays, for the build to adopt when it starts, or to expire and send it back to its list.
      const state = await queue.getJobState(taken.buildId);
      if (state === "unknown" || state === "completed" || state === "failed") await fair.forget(taken.buildId);
    }
  };

  const superseded = async (data: BuildJob, by: SupersededBy): Promise<never> => {
    try {
      await opts.supersedeListener.superseded(data, by);
    } catch (err) {
      log.error({ err, buildId: data.buildId }, "could not report a superseded build");
    }
    await registry.finish(data.supersedeKey, data.buildId).catch(() => undefined);
    throw new UnrecoverableError(supersededText(by));
  };

  // Three parameters: BullMQ passes the AbortSignal only to processors declaring it (function length >= 3).
  const run = async (job: Job<BuildJob, BuildOutcome>, token: string | undefined, signal?: AbortSignal): Promise<BuildOutcome> => {
    const data = job.data;
    if (isTurn(data)) {
      await takeTurn();
      return undefined as unknown as BuildOutcome;
    }
    if (!signal) throw new UnrecoverableError("internal: BullMQ passed no AbortSignal");
    const installationId = await ownInstallation(job);
    // Both in one round trip. A build superseded meanwhile (or whose check failed) gives back the slot it just took,
    // or leaves the list it was put back on.
    const [early, acquired] = await Promise.allSettled([registry.supersededBy(data.buildId), fair.acquire(holder, installationId, buildClassOf(data), data.buildId)]);
    const giveBack = async (): Promise<void> => {
      if (acquired.status === "rejected") return;
      const more = await (acquired.value ? fair.release(data.buildId, installationId, holder) : fair.forget(data.buildId)).catch(() => 0);
      await addTurns(more).catch((err) => log.warn({ err }, "could not add turns after a build that did not start"));
    };
    if (early.status === "rejected") {
      await giveBack();
      throw early.reason;
    }
    if (early.value) {
      await giveBack();
      return superseded(data, early.value);
    }
    if (acquired.status === "rejected") throw acquired.reason;

    if (!acquired.value) {
      // Its installation is at its cap: parked at the front of its list until a turn lets it through.
      await job.moveToDelayed(Date.now() + PARK_DELAY_MS, token);
      throw new DelayedError();
    }
    held.set(data.buildId, installationId);
    let freed: Promise<void> | undefined;
    const release = async (): Promise<void> => {
      held.delete(data.buildId);
      // After a renewal under way (it holds this build's lease again): the release must come last.
      await renewing;
      const more = await fair.release(data.buildId, installationId, holder).catch(() => 0);
      await addTurns(more).catch((err) => log.warn({ err }, "could not add turns after a build"));
    };
    const slot: BuildSlot = {
      free: () => {
        freed ??= release();
      },
    };
    let mustWait: MustWaitError | undefined;
    try {
      return await runHeld(data, signal, slot);
    } catch (err) {
      if (!(err instanceof MustWaitError)) throw err;
      mustWait = err;
    } finally {
      if (mustWait) {
        held.delete(data.buildId);
        await freed;
        await renewing;
        const more = await fair.block(holder, installationId, buildClassOf(data), data.buildId).catch(() => false);
        await addTurns(more).catch((err) => log.warn({ err }, "could not add turns after a build"));
      } else {
        slot.free();
        await freed;
      }
    }
    // Every builder it may use is full: parked, no attempt spent, until a build ends or the sweep lets it through.
    log.info({ buildId: data.buildId, why: mustWait.message }, "build waits for a builder; back in the queue");
    await job.moveToDelayed(Date.now() + PARK_DELAY_MS, token);
    throw new DelayedError();
  };

  /**
   * The installation whose slot the build takes: the one its job id names (set by the queue at enqueue; the data
   * can be edited in Redis, the id it is stored under cannot). Data naming another fails the job for good, and the
   * slot reserved for it goes back to its own installation.
   */
  const ownInstallation = async (job: Job<BuildJob, BuildOutcome>): Promise<number> => {
    const own = ownInstallationOf(String(job.id), job.data);
    if (own.ok) return own.installationId;
    log.error({ buildId: job.id, err: own.message }, "build job refused: its data was altered");
    const more = await (own.installationId !== undefined ? fair.release(String(job.id), own.installationId) : fair.forget(String(job.id))).catch(() => 0);
    await addTurns(more).catch((err) => log.warn({ err }, "could not add turns after a refused build"));
    throw new UnrecoverableError(own.message);
  };

  const runHeld = async (data: BuildJob, signal: AbortSignal, slot: BuildSlot): Promise<BuildOutcome> => {
    try {
      const outcome = await settleOrAbandon(opts.processor(data, signal, slot), signal, grace);
      if (signal.aborted) throw signal.reason;
      if (data.supersedeKey) await registry.finish(data.supersedeKey, data.buildId).catch(() => undefined);
      return outcome;
    } catch (err) {
      if (signal.aborted) {
        const reason = cancelReasons.get(data.buildId);
        if (reason?.kind === "superseded") return superseded(data, { sha: reason.bySha, buildId: reason.byBuildId, ...(reason.note ? { note: reason.note } : {}) });
        throw new UnrecoverableError(`cancelled: ${reason?.kind === "requested" ? reason.note : "no reason given"}`);
      }
      if (isTransientError(err) || err instanceof MustWaitError) throw err;
      if (data.supersedeKey) await registry.finish(data.supersedeKey, data.buildId).catch(() => undefined);
      throw unrecoverable(err);
    } finally {
      cancelReasons.delete(data.buildId);
    }
  };

  const policy = opts.retry ?? DEFAULT_RETRY_POLICY;
  const worker = new Worker<BuildJob, BuildOutcome>(QueueName.Builds, run, {
    connection: opts.connection,
    prefix,
    concurrency: opts.concurrency,
    autorun: false,
    ...(opts.lockDurationMs ? { lockDuration: opts.lockDurationMs } : {}),
    ...(opts.stalledIntervalMs ? { stalledInterval: opts.stalledIntervalMs } : {}),
    settings: { backoffStrategy: transientBackoff(policy) },
  });
  worker.on("error", (err) => log.error({ err }, "build worker error"));
  worker.on("failed", (job, err) =>
    log.warn({ buildId: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, "build attempt failed"),
  );

  const subscriber = opts.subscriber ?? opts.connection.duplicate();
  const unsubscribe = await subscribeCancels(subscriber, prefix, (message) => {
    cancelReasons.set(message.jobId, message.reason);
    const reason = message.reason;
    const note = reason.kind === "superseded" ? supersededText({ sha: reason.bySha, buildId: reason.byBuildId, ...(reason.note ? { note: reason.note } : {}) }) : reason.note;
    if (!worker.cancelJob(message.jobId, note)) cancelReasons.delete(message.jobId);
  });

  // Leases of the builds running here are renewed; expired ones (a dead worker's) are swept, and a build whose
  // promote never happened goes back to its list. A turn is added when work could start but none is waiting.
  const tick = Math.max(100, Math.floor(fair.leaseTtlMs / 3));
  let sweeping = false;
  const maintain = async (): Promise<void> => {
    if (sweeping) return;
    sweeping = true;
    try {
      const renewal = fair.renew(holder, [...held].map(([buildId, installationId]) => ({ buildId, installationId })));
      renewing = renewal.then(
        () => undefined,
        () => undefined,
      );
      const lost = await renewal;
      if (lost > 0) log.warn({ lost }, "slot leases of running builds had expired (this process was stalled); renewed");
      const swept = await fair.sweep();
      await addTurns(swept.unblocked);
      for (const r of swept.reservations) {
        const parked = await Job.fromId<BuildJob>(queue, r.buildId);
        if (parked && (await parked.getState()) === "delayed" && parked.delay >= PARK_DELAY_MS / 2) {
          await fair.requeue(r.installationId, buildClassOf(parked.data), r.buildId);
          await addTurn();
        }
      }
      if (swept.runnable) {
        const counts = await queue.getCountsPerPriority([turnJob().opts.priority]);
        if (Object.values(counts).every((n) => n === 0)) await addTurn();
      }
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, "fair-share upkeep failed; trying again");
    } finally {
      sweeping = false;
    }
  };
  const upkeep = setInterval(() => void maintain(), tick);
  upkeep.unref();

  await worker.waitUntilReady();
  void worker.run().catch((err) => log.error({ err }, "build worker stopped"));

  return {
    worker,
    holder,
    fair,
    close: async (timeoutMs = 60_000) => {
      await unsubscribe();
      let timer: NodeJS.Timeout | undefined;
      const graceful = worker.close();
      const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
      if ((await Promise.race([graceful, timedOut])) === "timeout") {
        log.warn({ timeoutMs }, "builds still running at shutdown; closing the worker anyway");
        await worker.close(true);
      }
      clearTimeout(timer);
      clearInterval(upkeep);
      await queue.close().catch(() => undefined);
    },
  };
}

/** Waits for the processor; once aborted, gives it `graceMs` to stop before giving up on it. */
async function settleOrAbandon<T>(work: Promise<T>, signal: AbortSignal, graceMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const abandoned = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(() => reject(signal.reason), graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work, abandoned]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

function unrecoverable(err: unknown): UnrecoverableError {
  if (err instanceof UnrecoverableError) return err;
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const e = new UnrecoverableError(message);
  (e as Error & { cause?: unknown }).cause = err;
  return e;
}
