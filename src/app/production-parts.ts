import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { AppConfig } from "./app-config.js";
import { BudgetedPlannerReporter } from "../github/budgeted-planner-reporter.js";
import { OctokitPlannerCheckRuns } from "../github/planner-check-runs.js";
import type { OctokitRequest } from "../github/reporter.js";
import { WriteBudget } from "../github/write-budget.js";
import { plannerProcessor } from "../planner/planner-processor.js";
import { BuildAttempts } from "../queue/build-attempts.js";
import { CheckRunHandoff } from "../queue/check-run-handoff.js";
import { CheckRunLedger } from "../queue/check-run-ledger.js";
import type { RunSlot } from "../queue/check-run-ledger.js";
import type { BuildJob, EventJob } from "../queue/job-types.js";
import { QueueName } from "../queue/queue-names.js";
import type { QueueLog } from "../queue/queue-log.js";
import { createWorkerConnection } from "../queue/redis-connections.js";
import { createLogPageHandler } from "../web/log-page-handler.js";
import { LogStore } from "../web/log-store.js";
import { createBuildProcessor } from "../worker/build-processor.js";
import { concludeAbandonedBuild } from "../worker/conclude-abandoned.js";
import { GitHubSupersedeReporter } from "../worker/github-supersede-reporter.js";
import { InFlightBuilds, reconcileAbandonedBuilds } from "../worker/in-flight-builds.js";
import { plannerLookupOf, reconcileOrphanedCheckRuns, settleSlot, slotBuildsOf } from "../worker/orphaned-check-runs.js";
import type { OrphanedRunDeps } from "../worker/orphaned-check-runs.js";
import type { AppParts, SharedParts } from "./start-app.js";

/** How often the worker looks for builds abandoned by a dead worker (BullMQ checks stalls every 30 s). */
const RECONCILE_INTERVAL_MS = 60_000;

interface Common {
  redis: Redis;
  budget: WriteBudget;
  logs: LogStore;
  inFlight: InFlightBuilds;
  handoff: CheckRunHandoff;
  ledger: CheckRunLedger;
}

export interface ProductionPartsOptions {
  /** How often the reconciler runs (abandoned builds, check runs left behind). Default 60 s. */
  reconcileIntervalMs?: number;
}

export interface ProductionParts extends AppParts {
  /** Releases what the parts opened (Redis, the reconciler); call after the app has stopped. */
  close(): Promise<void>;
}

/**
 * The app's real parts, built from what start-app shares: the planner behind the write budget, the build
 * processor, the GitHub supersede reporter and the log page. The Redis connection, write budget, log store and
 * in-flight registry are made once and shared by every part.
 */
export function productionParts(options: ProductionPartsOptions = {}): ProductionParts {
  let common: Common | undefined;
  let orphans: OrphanedRunDeps | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  const shared = (config: AppConfig): Common => {
    if (!common) {
      const redis = createWorkerConnection(config.redisUrl, { maxRetriesPerRequest: 3 });
      const prefix = config.queuePrefix;
      closers.push(() => redis.quit().catch(() => redis.disconnect()));
      common = {
        redis,
        budget: new WriteBudget(redis, { prefix: `${prefix}:budget` }),
        logs: new LogStore(redis, { prefix: `${prefix}:logs` }),
        inFlight: new InFlightBuilds(redis, prefix),
        handoff: new CheckRunHandoff(redis, prefix),
        ledger: new CheckRunLedger(redis, prefix),
      };
    }
    return common;
  };
  // What finding and concluding check runs left behind needs: both queues' job states and GitHub.
  const orphanDeps = (parts: Omit<SharedParts, "enqueueBuild" | "withdrawBuild">): OrphanedRunDeps => {
    if (!orphans) {
      const c = shared(parts.config);
      const prefix = parts.config.queuePrefix;
      const events = new Queue<EventJob>(QueueName.Events, { connection: c.redis, prefix });
      const builds = new Queue<BuildJob>(QueueName.Builds, { connection: c.redis, prefix });
      for (const q of [events, builds]) {
        q.on("error", () => {});
        closers.push(() => q.close());
      }
      const attempts = new BuildAttempts(c.redis, prefix);
      orphans = {
        appId: parts.config.appId ?? 0,
        ledger: c.ledger,
        handoff: c.handoff,
        inFlight: c.inFlight,
        budget: c.budget,
        request: async (installationId) => (await parts.probot.auth(installationId)).request as unknown as OctokitRequest,
        planner: plannerLookupOf(events),
        builds: slotBuildsOf(builds, attempts),
      };
    }
    return orphans;
  };

  return {
    planner: (parts) => {
      const { redis, budget } = shared(parts.config);
      return plannerProcessor({
        probot: parts.probot,
        redis,
        enqueueBuild: parts.enqueueBuild,
        withdrawBuild: parts.withdrawBuild,
        config: parts.config,
        log: parts.log,
        keyPrefix: parts.config.queuePrefix,
        reporter: (octokit) => new BudgetedPlannerReporter(new OctokitPlannerCheckRuns(octokit), budget),
        settleSlot: async (slot, plannerId) => {
          await settleSlot(slot, orphanDeps(parts), { exceptPlanner: plannerId });
        },
        ...(parts.configWork ? { configWork: parts.configWork } : {}),
      });
    },

    builder: (parts) => {
      const c = shared(parts.config);
      const queue = new Queue<BuildJob>(QueueName.Builds, { connection: c.redis, prefix: parts.config.queuePrefix });
      queue.on("error", () => {});
      closers.push(() => queue.close());
      if (!parts.config.publicBaseUrl) {
        parts.log.warn("BUILDKIT_BOT_PUBLIC_URL is not set: check runs and statuses get no link to the build log page");
      }
      const o = orphanDeps(parts);
      const stopReconciler = startReconciler(parts, c, queue, o, options.reconcileIntervalMs ?? RECONCILE_INTERVAL_MS);
      closers.push(async () => stopReconciler());
      return createBuildProcessor({
        github: parts.probot,
        budget: c.budget,
        logs: c.logs,
        inFlight: c.inFlight,
        handoff: c.handoff,
        stillComing: (job) => c.ledger.mayStillHand({ repoId: job.repository.repoId, sha: job.sha, image: job.image.name, queuedAt: job.queuedAt }, o.planner),
        settleGivenUp: async (job) => {
          const result = await settleSlot(slotOfBuild(job), o, { exceptBuild: job.buildId });
          // Busy: a planning of the image is still at work, and its build reports the status.
          return { replaced: result.kind === "busy" || result.replaced };
        },
        buildkitHost: parts.config.buildkitHost,
        registry: parts.config.registry,
        tenants: parts.config.tenants,
        ...(parts.config.publicBaseUrl ? { publicBaseUrl: parts.config.publicBaseUrl } : {}),
        attemptsOf: async (buildId) => {
          const job = await queue.getJob(buildId);
          return job ? { attemptsMade: job.attemptsMade, attempts: job.opts.attempts ?? 1 } : undefined;
        },
        log: parts.log,
      });
    },

    supersedeReporter: (parts) => {
      const c = shared(parts.config);
      return new GitHubSupersedeReporter({
        github: parts.probot,
        budget: c.budget,
        logs: c.logs,
        inFlight: c.inFlight,
        handoff: c.handoff,
        ...(parts.config.publicBaseUrl ? { publicBaseUrl: parts.config.publicBaseUrl } : {}),
      });
    },

    routes: (parts) => [createLogPageHandler(shared(parts.config).logs)],

    close: async () => {
      // The reconciler and the queue go before the connection they use.
      for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
      common = undefined;
    },
  };
}

function slotOfBuild(job: BuildJob): RunSlot {
  const r = job.repository;
  return { installationId: r.installationId, owner: r.owner, repo: r.repo, repoId: r.repoId, sha: job.sha, image: job.image.name };
}

/**
 * Runs `reconcileAbandonedBuilds`, then `reconcileOrphanedCheckRuns`, now and then every interval, in the
 * background of the worker role. Returns its stop.
 */
function startReconciler(
  parts: Omit<SharedParts, "enqueueBuild" | "withdrawBuild">,
  c: Common,
  queue: Queue<BuildJob>,
  orphans: OrphanedRunDeps,
  intervalMs: number,
): () => void {
  const log: QueueLog = parts.log;
  let running = false;
  const pass = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const concluded = await reconcileAbandonedBuilds({
        inFlight: c.inFlight,
        jobState: async (buildId) => {
          const job = await queue.getJob(buildId);
          if (!job) return undefined;
          return { state: await job.getState(), ...(job.failedReason ? { failedReason: job.failedReason } : {}) };
        },
        conclude: async (entry, message) => {
          const octokit = await parts.probot.auth(entry.installationId);
          await concludeAbandonedBuild(octokit.request as unknown as OctokitRequest, c.budget, c.logs, c.handoff, entry, message);
        },
        onError: (entry, err) =>
          log.warn({ buildId: entry.buildId, err: err instanceof Error ? err.message : String(err) }, "could not conclude an abandoned build"),
      });
      if (concluded.length > 0) log.warn({ builds: concluded }, "concluded the check runs of builds abandoned by a dead worker");
      const orphaned = await reconcileOrphanedCheckRuns(orphans, (slot, err) =>
        log.warn({ repo: `${slot.owner}/${slot.repo}`, sha: slot.sha, image: slot.image, err: err instanceof Error ? err.message : String(err) }, "could not settle the check runs of an interrupted planning"),
      );
      if (orphaned.length > 0) log.warn({ checkRuns: orphaned }, "concluded check runs that no build held (their planning was interrupted)");
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, "could not reconcile abandoned builds");
    } finally {
      running = false;
    }
  };
  void pass();
  const timer = setInterval(() => void pass(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
