import { UnrecoverableError, Worker } from "bullmq";
import type { Job } from "bullmq";
import type { Redis } from "ioredis";
import type { BuildOutcome } from "./build-outcome.js";
import { subscribeCancels } from "./cancel-channel.js";
import type { CancelReason } from "./cancel-channel.js";
import type { BuildJob } from "./job-types.js";
import { isTransientError } from "../errors/index.js";
import type { QueueLog } from "./queue-log.js";
import { silentLog } from "./queue-log.js";
import { QueueName } from "./queue-names.js";
import { DEFAULT_RETRY_POLICY, transientBackoff } from "./retry-policy.js";
import type { RetryPolicy } from "./retry-policy.js";
import { SupersedeRegistry } from "./supersede-registry.js";
import { supersededMessage } from "./supersede-listener.js";
import type { SupersededBy, SupersedeListener } from "./supersede-listener.js";

export type BuildProcessor = (job: BuildJob, signal: AbortSignal) => Promise<BuildOutcome>;

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
  log?: QueueLog;
}

export interface BuildWorker {
  readonly worker: Worker<BuildJob, BuildOutcome>;
  /** Stops taking jobs; waits up to `timeoutMs` for running builds, then leaves them to the stall checker. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * The build worker loop: runs the processor for each build job with an AbortSignal that fires when the build
 * is superseded (whichever process sent the cancel), maps failures to retry (transient) or final
 * (`UnrecoverableError`), and reports superseded builds.
 */
export async function createBuildWorker(opts: BuildWorkerOptions): Promise<BuildWorker> {
  const prefix = opts.prefix ?? "bkb";
  const log = opts.log ?? silentLog;
  const registry = new SupersedeRegistry(opts.connection, prefix);
  const cancelReasons = new Map<string, CancelReason>();
  const grace = opts.cancelGraceMs ?? 30_000;

  const superseded = async (data: BuildJob, by: SupersededBy): Promise<never> => {
    try {
      await opts.supersedeListener.superseded(data, by);
    } catch (err) {
      log.error({ err, buildId: data.buildId }, "could not report a superseded build");
    }
    await registry.finish(data.supersedeKey, data.buildId).catch(() => undefined);
    throw new UnrecoverableError(supersededMessage(by.sha));
  };

  // Three parameters: BullMQ passes the AbortSignal only to processors declaring it (function length >= 3).
  const run = async (job: Job<BuildJob, BuildOutcome>, _token: string | undefined, signal?: AbortSignal): Promise<BuildOutcome> => {
    const data = job.data;
    if (!signal) throw new UnrecoverableError("internal: BullMQ passed no AbortSignal");
    const early = await registry.supersededBy(data.buildId);
    if (early) return superseded(data, early);

    try {
      const outcome = await settleOrAbandon(opts.processor(data, signal), signal, grace);
      if (signal.aborted) throw signal.reason;
      if (data.supersedeKey) await registry.finish(data.supersedeKey, data.buildId).catch(() => undefined);
      return outcome;
    } catch (err) {
      if (signal.aborted) {
        const reason = cancelReasons.get(data.buildId);
        if (reason?.kind === "superseded") return superseded(data, { sha: reason.bySha, buildId: reason.byBuildId });
        throw new UnrecoverableError(`cancelled: ${reason?.kind === "requested" ? reason.note : "no reason given"}`);
      }
      if (isTransientError(err)) throw err;
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
    settings: { backoffStrategy: transientBackoff(policy) },
  });
  worker.on("error", (err) => log.error({ err }, "build worker error"));
  worker.on("failed", (job, err) =>
    log.warn({ buildId: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, "build attempt failed"),
  );

  const subscriber = opts.subscriber ?? opts.connection.duplicate();
  const unsubscribe = await subscribeCancels(subscriber, prefix, (message) => {
    cancelReasons.set(message.jobId, message.reason);
    const note = message.reason.kind === "superseded" ? supersededMessage(message.reason.bySha) : message.reason.note;
    if (!worker.cancelJob(message.jobId, note)) cancelReasons.delete(message.jobId);
  });

  await worker.waitUntilReady();
  void worker.run().catch((err) => log.error({ err }, "build worker stopped"));

  return {
    worker,
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
