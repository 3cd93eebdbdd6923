import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { BuildJob, RepositoryRef } from "./job-types.js";
import { BuildAttempts } from "./build-attempts.js";
import { buildClassOf, bullPriorityOf } from "./build-class.js";
import { FairShare, PARK_DELAY_MS } from "./fair-share.js";
import type { FairShareSnapshot } from "./fair-share.js";
import { turnJob } from "./turns.js";
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

/** Ends every unfinished build under a supersede key, saying why (see BuildQueue.cancelUnder). */
export type CancelUnder = (key: string, why: string) => Promise<SupersedeResult[]>;

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
  /**
   * The most builds of one installation running at once, across every worker (the tenants file's
   * `max_concurrent_builds`, else the app's default); 0 or undefined: no cap.
   */
  capOf?: (repository: RepositoryRef) => number | undefined;
  log?: QueueLog;
}

/** Reasons that are a new commit; reruns of a commit only register, they never cancel other builds. */
const SUPERSEDING_REASONS: ReadonlySet<BuildJob["reason"]> = new Set(["push", "pull_request"]);

const QUEUED_STATES = new Set(["waiting", "delayed", "prioritized", "paused", "waiting-children"]);

export class BuildQueue {
  readonly queue: Queue<BuildJob>;
  private readonly attempts: BuildAttempts;
  private readonly registry: SupersedeRegistry;
  /** Waiting lists per installation and the slot leases (see fair-share.ts). */
  readonly fair: FairShare;
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
    this.fair = new FairShare(opts.connection, opts.prefix);
    this.log = opts.log ?? silentLog;
  }

  /**
   * Queues one build with a fresh attempt number, then supersedes older builds under the same key (a newer
   * commit on the same branch or PR): queued ones are removed and reported, running ones get a cancel message.
   * Returns the job as stored. Any `buildId`/`attempt`/`queuedAt` in the input are replaced.
   * The build goes in parked, on its installation's waiting list, with a turn that lets it (or another
   * installation's build, round-robin) through when a worker slot is free (fair-share.ts).
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

    const order = Date.parse(job.eventReceivedAt ?? "") || Date.now();
    const cls = buildClassOf(job);
    // The list entry before the job: a build job without one would stay parked; a turn that finds the entry first
    // waits for the job. It goes out with the supersede registration (one round trip), and comes off the list again
    // when the build is not queued after all.
    const listed = this.fair.enqueue(job.repository.installationId, cls, buildId, this.opts.capOf?.(job.repository) ?? 0);
    let registered: Awaited<ReturnType<SupersedeRegistry["register"]>>;
    try {
      registered = job.supersedeKey
        ? await this.registry.register(job.supersedeKey, buildId, job.sha, SUPERSEDING_REASONS.has(job.reason), order)
        : { superseded: [], staleBehind: undefined };
    } catch (err) {
      if (await listed.then(() => true, () => false)) await this.forget(buildId);
      throw err;
    }
    await listed;
    const { superseded, staleBehind } = registered;
    if (staleBehind) {
      // Planned after a newer commit's build of the same branch or PR (events are planned concurrently): not queued.
      await this.forget(buildId);
      this.log.info({ buildId, by: staleBehind.buildId }, "build of an older push planned late: superseded at once");
      await this.reportSuperseded(job, { sha: staleBehind.sha, buildId: staleBehind.buildId });
      return job;
    }
    await this.queue.addBulk([
      { name: job.image.name, data: job, opts: { jobId: buildId, delay: PARK_DELAY_MS, priority: bullPriorityOf(cls) } },
      turnJob() as unknown as { name: string; data: BuildJob },
    ]);
    for (const entry of superseded) await this.supersede(entry, job);
    return job;
  };

  readonly withdrawBuild: WithdrawBuild = async (buildId, why) => {
    const job = await this.queue.getJob(buildId);
    if (!job) return;
    const state = await job.getState();
    if (state === "completed" || state === "failed") return;
    if (QUEUED_STATES.has(state) && (await this.queue.remove(buildId)) === 1) {
      await this.forget(buildId);
      if (job.data.supersedeKey) await this.registry.finish(job.data.supersedeKey, buildId);
      this.log.info({ buildId, why }, "queued build withdrawn");
      return;
    }
    await publishCancel(this.opts.connection, this.opts.prefix, { jobId: buildId, reason: { kind: "requested", note: why } });
    this.log.info({ buildId, why }, "cancel sent to the worker running a withdrawn build");
  };

  /**
   * Ends every build under `key` that is not finished, whatever its commit, saying `why` (the way a newer commit
   * supersedes them: queued ones are removed and reported, running ones get a cancel message, and one about to
   * start finds its marker). For a merge group GitHub destroyed.
   */
  readonly cancelUnder: CancelUnder = async (key, why) => {
    const endId = `cancel:${randomUUID()}`;
    const by = { sha: "0".repeat(40), buildId: endId, note: why };
    const { superseded: entries } = await this.registry.register(key, endId, by.sha, true, Number.MAX_SAFE_INTEGER, why);
    await this.registry.finish(key, endId);
    const results: SupersedeResult[] = [];
    for (const entry of entries) results.push(await this.supersede(entry, by));
    return results;
  };

  private async supersede(entry: SupersededEntry, by: Pick<BuildJob, "sha" | "buildId"> & { note?: string }): Promise<SupersedeResult> {
    const old = await this.queue.getJob(entry.buildId);
    if (!old) return { buildId: entry.buildId, action: "already-finished" };
    const state = await old.getState();
    if (QUEUED_STATES.has(state) && (await this.queue.remove(entry.buildId)) === 1) {
      await this.forget(entry.buildId);
      this.log.info({ buildId: entry.buildId, by: by.buildId }, "superseded queued build removed");
      await this.reportSuperseded(old.data, by);
      return { buildId: entry.buildId, action: "removed" };
    }
    if (state === "completed" || state === "failed") return { buildId: entry.buildId, action: "already-finished" };
    // Active (or picked up between getState and remove): the worker holding it aborts and reports.
    await publishCancel(this.opts.connection, this.opts.prefix, {
      jobId: entry.buildId,
      reason: { kind: "superseded", bySha: by.sha, byBuildId: by.buildId, ...(by.note ? { note: by.note } : {}) },
    });
    this.log.info({ buildId: entry.buildId, by: by.buildId }, "cancel sent to the worker running a superseded build");
    return { buildId: entry.buildId, action: "cancel-sent" };
  }

  private async reportSuperseded(build: BuildJob, by: { sha: string; buildId: string; note?: string }): Promise<void> {
    try {
      await this.opts.supersedeListener.superseded(build, { sha: by.sha, buildId: by.buildId, ...(by.note ? { note: by.note } : {}) });
    } catch (err) {
      this.log.error({ err, buildId: build.buildId }, "could not report a superseded build");
    }
  }

  /** A queued build was removed: it leaves its waiting list (and frees a slot reserved for it). */
  private async forget(buildId: string): Promise<void> {
    try {
      if (await this.fair.forget(buildId)) {
        const turn = turnJob();
        await this.queue.add(turn.name, turn.data as unknown as BuildJob, turn.opts);
      }
    } catch (err) {
      // A stale entry is skipped by the next turn, and a reserved slot expires with its lease.
      this.log.warn({ err, buildId }, "could not take a removed build off its waiting list");
    }
  }

  /** Builds waiting per installation and running per installation and worker process (for operators). */
  fairShareSnapshot(): Promise<FairShareSnapshot> {
    return this.fair.snapshot();
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
