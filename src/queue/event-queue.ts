import { Queue } from "bullmq";
import type { JobJson, JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import { EventFairness } from "./event-fairness.js";
import type { EventJob } from "./job-types.js";
import { eventJobId } from "./job-ids.js";
import { assertNoSecrets } from "./job-data-guard.js";
import { QueueName } from "./queue-names.js";
import { QueueUnavailableError } from "./queue-errors.js";
import { DEFAULT_RETRY_POLICY, retryJobOptions } from "./retry-policy.js";
import type { RetryPolicy } from "./retry-policy.js";

/**
 * How long a delivery id is remembered: GitHub lets a delivery be redelivered for 3 days. The event job itself is
 * cleaned up sooner (removeOnComplete below); the queue's deduplication key outlives it.
 */
export const DELIVERY_DEDUPE_MS = 3 * 24 * 3600 * 1000;

export interface StoreResult {
  /** The event job of this delivery: the one just stored, or the one a redelivery of it already stored. */
  jobId: string;
}

/** What the webhook handlers need: put one event job in Redis, once per delivery. */
export interface EventStore {
  store(job: EventJob): Promise<StoreResult>;
}

export interface EventQueueOptions {
  /** A producer connection (see redis-connections.ts): fails fast when Redis is away. */
  connection: Redis;
  prefix: string;
  retry?: RetryPolicy;
  /** Upper bound for one store, so a webhook never waits toward GitHub's 10 s timeout. */
  timeoutMs?: number;
  /** Orders the events across installations (see event-fairness.ts); one per process by default. */
  fairness?: EventFairness;
}

export class EventQueue implements EventStore {
  readonly queue: Queue<EventJob>;
  private readonly timeoutMs: number;
  private readonly fairness: EventFairness;
  private readonly jobOptions: JobsOptions;

  constructor(private readonly opts: EventQueueOptions) {
    this.jobOptions = {
      ...retryJobOptions(opts.retry ?? DEFAULT_RETRY_POLICY),
      removeOnComplete: { age: 24 * 3600, count: 5_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
    this.queue = new Queue<EventJob>(QueueName.Events, { connection: opts.connection, prefix: opts.prefix, defaultJobOptions: this.jobOptions });
    // Connection trouble surfaces through store(); the queue's own error events would only repeat it.
    this.queue.on("error", () => {});
    this.timeoutMs = opts.timeoutMs ?? 3_000;
    this.fairness = opts.fairness ?? new EventFairness();
  }

  /**
   * One Redis round trip: BullMQ's add script claims the delivery id (a deduplication key that expires after
   * DELIVERY_DEDUPE_MS, kept when the job completes or is cleaned up by age or count) and stores the job in the same
   * atomic step, so a redelivery stores nothing and a failed add leaves no claim behind. A redelivery shows in the
   * queue's event stream as `deduplicated` (or `duplicated` while the job still exists). Its priority puts it in its
   * installation's fair turn (event-fairness.ts), from memory: no round trip of its own.
   *
   * The job goes to the queue's backend as the JSON record `Queue.add` would build (same options, same add script),
   * without the Job object, option checks and tracing span `Queue.add` wraps around it. Measured under webhook load,
   * the work between a store's start and its command reaching the socket was the largest part of a delivery's time
   * in the app, more than the Redis round trip.
   * test/queue/event-queue.int.test.ts holds it to `Queue.add`'s record, field by field.
   */
  async store(job: EventJob): Promise<StoreResult> {
    assertNoSecrets(job);
    const jobId = eventJobId(job.deliveryId);
    const priority = this.fairness.priorityOf(job.repository.installationId);
    return withDeadline(this.timeoutMs, async () => {
      await this.queue.backend.addJob(this.record(job, jobId, priority), jobId);
      return { jobId };
    });
  }

  /** What `Job.create` hands the backend for `queue.add(job.event, job, { jobId, priority, deduplication })`. */
  private record(job: EventJob, jobId: string, priority: number): JobJson {
    const opts: JobsOptions = { ...this.jobOptions, jobId, priority, deduplication: { id: jobId, ttl: DELIVERY_DEDUPE_MS } };
    return {
      id: jobId,
      name: job.event,
      data: JSON.stringify(job),
      opts,
      timestamp: Date.now(),
      priority,
      progress: 0,
      attemptsMade: 0,
      attemptsStarted: 0,
      stalledCounter: 0,
      failedReason: "",
      returnvalue: "null",
      deduplicationId: jobId,
    };
  }

  /** The Redis key that remembers a delivery (BullMQ's deduplication key for its event job). */
  dedupeKey(deliveryId: string): string {
    return this.queue.toKey(`de:${eventJobId(deliveryId)}`);
  }

  /** Resolves once the queue's connection is initialised (scripts loaded), so the first store is not slower. */
  async ready(): Promise<void> {
    await this.queue.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

async function withDeadline<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailableError(`queue did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), deadline]);
  } catch (err) {
    if (err instanceof QueueUnavailableError) throw err;
    throw new QueueUnavailableError(undefined, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
