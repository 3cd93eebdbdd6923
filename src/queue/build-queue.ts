import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { BuildJob } from "./job-types.js";
import { BuildAttempts } from "./build-attempts.js";
import { publishCancel } from "./cancel-channel.js";
import { buildJobId } from "./job-ids.js";
import { assertNoSecrets } from "./job-data-guard.js";
import type { QueueLog } from "./queue-log.js";
import { silentLog } from "./queue-log.js";
import { QueueName } from "./queue-names.js";
import { DEFAULT_RETRY_POLICY, retryJobOptions } from "./retry-policy.js";
import type { RetryPolicy } from "./retry-policy.js";
import { SupersedeRegistry } from "./supersede-registry.js";
import type { SupersededEntry } from "./supersede-registry.js";
import type { SupersedeListener } from "./supersede-listener.js";

/** What the planner hands over; the queue fills in the attempt number, the build id and the queue time. */
export type BuildJobInput = Omit<BuildJob, "buildId" | "attempt" | "queuedAt"> &
  Partial<Pick<BuildJob, "buildId" | "attempt" | "queuedAt">>;

export type EnqueueBuild = (job: BuildJobInput) => Promise<BuildJob>;

/** Takes a build back: removed when still queued, else its worker is told to stop (`why` is the cancel note). */
export type WithdrawBuild = (buildId: string, why: string) => Promise<void>;

export type SupersedeAction = "removed" | "cancel-sent" | "already-finished";

export interface SupersedeResult {
  buildId: string;
  action: SupersedeAction;
}

export interface BuildQueueOptions {
  connection: Redis;
  prefix: string;
  /** Ends the public record of each build this queue supersedes. */
  supersedeListener: SupersedeListener;
  retry?: RetryPolicy;
  log?: QueueLog;
}

/** Reasons that are a new commit; reruns of a commit only register, they never cancel other builds. */
const SUPERSEDING_REASONS: ReadonlySet<BuildJob["reason"]> = new Set(["push", "pull_request"]);

const QUEUED_STATES = new Set(["waiting", "delayed", "prioritized", "paused", "waiting-children"]);

export class BuildQueue {
  readonly queue: Queue<BuildJob>;
  private readonly attempts: BuildAttempts;
  private readonly registry: SupersedeRegistry;
  private readonly log: QueueLog;

  constructor(private readonly opts: BuildQueueOptions) {
    this.queue = new Queue<BuildJob>(QueueName.Builds, {
      connection: opts.connection,
      prefix: opts.prefix,
      defaultJobOptions: {
        ...retryJobOptions(opts.retry ?? DEFAULT_RETRY_POLICY),
        removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
        removeOnFail: { age: 14 * 24 * 3600 },
      },
    });
    this.queue.on("error", () => {});
    this.attempts = new BuildAttempts(opts.connection, opts.prefix);
    this.registry = new SupersedeRegistry(opts.connection, opts.prefix);
    this.log = opts.log ?? silentLog;
  }

  /**
   * Queues one build with a fresh attempt number, then supersedes older builds under the same key (a newer
   * commit on the same branch or PR): queued ones are removed and reported, running ones get a cancel message.
   * Returns the job as stored. Any `buildId`/`attempt`/`queuedAt` in the input are replaced.
   */
  readonly enqueueBuild: EnqueueBuild = async (input) => {
    const attempt = await this.attempts.next(input.repository.repoId, input.sha, input.image.name);
    const buildId = buildJobId({
      installationId: input.repository.installationId,
      repoId: input.repository.repoId,
      sha: input.sha,
      image: input.image.name,
      attempt,
    });
    const job: BuildJob = { ...input, buildId, attempt, queuedAt: new Date().toISOString() };
    assertNoSecrets(job);

    const superseded = job.supersedeKey
      ? await this.registry.register(job.supersedeKey, buildId, job.sha, SUPERSEDING_REASONS.has(job.reason))
      : [];
    await this.queue.add(job.image.name, job, { jobId: buildId });
    for (const entry of superseded) await this.supersede(entry, job);
    return job;
  };

  readonly withdrawBuild: WithdrawBuild = async (buildId, why) => {
    const job = await this.queue.getJob(buildId);
    if (!job) return;
    const state = await job.getState();
    if (state === "completed" || state === "failed") return;
    if (QUEUED_STATES.has(state) && (await this.queue.remove(buildId)) === 1) {
      if (job.data.supersedeKey) await this.registry.finish(job.data.supersedeKey, buildId);
      this.log.info({ buildId, why }, "queued build withdrawn");
      return;
    }
    await publishCancel(this.opts.connection, this.opts.prefix, { jobId: buildId, reason: { kind: "requested", note: why } });
    this.log.info({ buildId, why }, "cancel sent to the worker running a withdrawn build");
  };

  private async supersede(entry: SupersededEntry, by: BuildJob): Promise<SupersedeResult> {
    const old = await this.queue.getJob(entry.buildId);
    if (!old) return { buildId: entry.buildId, action: "already-finished" };
    const state = await old.getState();
    if (QUEUED_STATES.has(state) && (await this.queue.remove(entry.buildId)) === 1) {
      this.log.info({ buildId: entry.buildId, by: by.buildId }, "superseded queued build removed");
      try {
        await this.opts.supersedeListener.superseded(old.data, { sha: by.sha, buildId: by.buildId });
      } catch (err) {
        this.log.error({ err, buildId: entry.buildId }, "could not report a superseded build");
      }
      return { buildId: entry.buildId, action: "removed" };
    }
    if (state === "completed" || state === "failed") return { buildId: entry.buildId, action: "already-finished" };
    // Active (or picked up between getState and remove): the worker holding it aborts and reports.
    await publishCancel(this.opts.connection, this.opts.prefix, {
      jobId: entry.buildId,
      reason: { kind: "superseded", bySha: by.sha, byBuildId: by.buildId },
    });
    this.log.info({ buildId: entry.buildId, by: by.buildId }, "cancel sent to the worker running a superseded build");
    return { buildId: entry.buildId, action: "cancel-sent" };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
