import { UnrecoverableError, Worker } from "bullmq";
import type { Job } from "bullmq";
import type { Redis } from "ioredis";
import type { EventJob } from "./job-types.js";
import { isTransientError } from "../errors/index.js";
import type { QueueLog } from "./queue-log.js";
import { silentLog } from "./queue-log.js";
import { QueueName } from "./queue-names.js";
import { DEFAULT_RETRY_POLICY, transientBackoff } from "./retry-policy.js";
import type { RetryPolicy } from "./retry-policy.js";

/** The planner's entry point (`runPlannerJob` with its deps bound). */
export type EventProcessor = (job: EventJob, signal: AbortSignal) => Promise<void>;

export interface EventWorkerOptions {
  connection: Redis;
  prefix?: string;
  concurrency: number;
  processor: EventProcessor;
  retry?: RetryPolicy;
  log?: QueueLog;
}

export interface EventWorker {
  readonly worker: Worker<EventJob, void>;
  close(timeoutMs?: number): Promise<void>;
}

/** Consumes event jobs: transient failures are retried with backoff, anything else fails the job for good. */
export async function createEventWorker(opts: EventWorkerOptions): Promise<EventWorker> {
  const log = opts.log ?? silentLog;
  const run = async (job: Job<EventJob, void>, _token: string | undefined, signal?: AbortSignal): Promise<void> => {
    try {
      await opts.processor(job.data, signal ?? new AbortController().signal);
    } catch (err) {
      if (isTransientError(err) || err instanceof UnrecoverableError) throw err;
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new UnrecoverableError(message);
    }
  };
  const worker = new Worker<EventJob, void>(QueueName.Events, run, {
    connection: opts.connection,
    prefix: opts.prefix ?? "bkb",
    concurrency: opts.concurrency,
    autorun: false,
    settings: { backoffStrategy: transientBackoff(opts.retry ?? DEFAULT_RETRY_POLICY) },
  });
  worker.on("error", (err) => log.error({ err }, "event worker error"));
  worker.on("failed", (job, err) =>
    log.warn({ jobId: job?.id, deliveryId: job?.data.deliveryId, attemptsMade: job?.attemptsMade, err: err.message }, "event job failed"),
  );
  await worker.waitUntilReady();
  void worker.run().catch((err) => log.error({ err }, "event worker stopped"));
  return {
    worker,
    close: async (timeoutMs = 30_000) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
      if ((await Promise.race([worker.close(), timedOut])) === "timeout") await worker.close(true);
      clearTimeout(timer);
    },
  };
}
