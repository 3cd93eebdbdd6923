import { Queue, UnrecoverableError, Worker } from "bullmq";
import type { Job } from "bullmq";
import type { Redis } from "ioredis";
import { isTransientError } from "../errors/index.js";
import type { CleanupLog, PrCleanupReport, PrImageCleanup } from "./pr-image-cleanup.js";

/** The clean-up's queue, beside the app's others under the same prefix. */
export const PR_CLEANUP_QUEUE = "pr-cleanup";
/** The one repeatable sweep of a deployment: BullMQ keeps one scheduler per id, whatever the number of workers. */
const SWEEP_SCHEDULER_ID = "pr-image-sweep";
const DAY_MS = 24 * 60 * 60 * 1000;

/** A pull request was closed (merged or not): its images go. Ids and names only. */
export interface PrClosedJob {
  deliveryId: string;
  installationId: number;
  repoId: number;
  /** `owner/repo`, for the operator reading the queue. */
  repository: string;
  pr: number;
}

/** Where the webhook handler puts a closed pull request. */
export interface PrClosedStore {
  closed(job: PrClosedJob): Promise<void>;
}

const JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: "exponential", delay: 10_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;

/** The web role's side: one job per closed pull request, deduplicated by delivery id. */
export class PrCleanupQueue implements PrClosedStore {
  private readonly queue: Queue<PrClosedJob>;

  constructor(opts: { connection: Redis; prefix: string }) {
    this.queue = new Queue<PrClosedJob>(PR_CLEANUP_QUEUE, { connection: opts.connection, prefix: opts.prefix });
    this.queue.on("error", () => {});
  }

  async closed(job: PrClosedJob): Promise<void> {
    await this.queue.add("closed", job, { ...JOB_OPTIONS, jobId: `closed-${job.deliveryId}` });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export interface PrCleanupWorkerOptions {
  /** A worker connection (`maxRetriesPerRequest: null`). */
  connection: Redis;
  prefix: string;
  cleanup: PrImageCleanup;
  /** A pull request whose builds last wrote longer ago than this is cleaned by the sweep, open or closed; 0: no sweep. */
  ttlMs: number;
  /** How often the deployment's one sweep runs. Default: hourly. */
  sweepEveryMs?: number;
  log: CleanupLog;
}

/** What a sweep job returns: what the operator sees of it in the queue view. */
export interface SweepSummary {
  pullRequests: number;
  deleted: string[];
  left: PrCleanupReport["left"];
  failed: number;
  /** Registries that refuse deletes (noted once; asked again once per sweep). */
  refusingDeletes: Array<{ registry: string; since: string; detail: string }>;
}

/**
 * The worker role's side: runs closed pull requests' clean-ups and the sweep, one job at a time (a clean-up is a
 * few registry requests). The sweep is a BullMQ job scheduler with a fixed id, so every worker process upserting it
 * leaves one sweep per deployment. A transient registry failure is retried with backoff (5 attempts); what is left
 * after that stays recorded for the sweep.
 */
export async function startPrCleanupWorker(opts: PrCleanupWorkerOptions): Promise<{ close(): Promise<void> }> {
  const queue = new Queue(PR_CLEANUP_QUEUE, { connection: opts.connection, prefix: opts.prefix });
  queue.on("error", () => {});
  if (opts.ttlMs > 0) {
    await queue.upsertJobScheduler(SWEEP_SCHEDULER_ID, { every: opts.sweepEveryMs ?? 3_600_000 }, {
      name: "sweep",
      data: {},
      opts: { removeOnComplete: { count: 50 }, removeOnFail: { count: 50 } },
    });
  } else {
    await queue.removeJobScheduler(SWEEP_SCHEDULER_ID);
  }
  const run = async (job: Job): Promise<PrCleanupReport | SweepSummary> => {
    try {
      if (job.name === "sweep") return await sweepOnce(opts);
      const data = job.data as PrClosedJob;
      const report = await opts.cleanup.cleanPullRequest({ installationId: data.installationId, repoId: data.repoId, pr: data.pr });
      if (report.deleted.length > 0) opts.log.info({ repository: data.repository, pr: data.pr, deleted: report.deleted }, "closed pull request's images deleted");
      return report;
    } catch (err) {
      if (isTransientError(err)) throw err;
      throw new UnrecoverableError(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    }
  };
  const worker = new Worker(PR_CLEANUP_QUEUE, run, { connection: opts.connection, prefix: opts.prefix, concurrency: 1 });
  worker.on("error", (err) => opts.log.warn({ err: err.message }, "PR image clean-up worker error"));
  worker.on("failed", (job, err) => opts.log.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, "PR image clean-up failed"));
  await worker.waitUntilReady();
  return {
    close: async () => {
      await worker.close();
      await queue.close();
    },
  };
}

async function sweepOnce(opts: PrCleanupWorkerOptions): Promise<SweepSummary> {
  const { cleaned, failed } = await opts.cleanup.sweep(opts.ttlMs);
  const summary: SweepSummary = {
    pullRequests: cleaned.length,
    deleted: cleaned.flatMap((r) => r.deleted),
    left: cleaned.flatMap((r) => r.left),
    failed,
    refusingDeletes: await opts.cleanup.refusalList(),
  };
  if (summary.deleted.length > 0) {
    opts.log.info({ deleted: summary.deleted.length, ttlDays: Math.round((opts.ttlMs / DAY_MS) * 100) / 100 }, "PR image sweep: tags of pull requests idle past the TTL deleted");
  }
  return summary;
}
