import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { AppConfig } from "../config/app-config.js";
import { BudgetedPlannerReporter } from "../github/budgeted-planner-reporter.js";
import { OctokitPlannerCheckRuns } from "../github/planner-check-runs.js";
import type { OctokitRequest } from "../github/reporter.js";
import { WriteBudget } from "../github/write-budget.js";
import { plannerProcessor } from "../planner/planner-processor.js";
import { CheckRunHandoff } from "../queue/check-run-handoff.js";
import type { BuildJob } from "../queue/job-types.js";
import { QueueName } from "../queue/queue-names.js";
import type { QueueLog } from "../queue/queue-log.js";
import { createWorkerConnection } from "../queue/redis-connections.js";
import { createLogPageHandler } from "../web/log-page-handler.js";
import { LogStore } from "../web/log-store.js";
import { createBuildProcessor } from "../worker/build-processor.js";
import { concludeAbandonedBuild } from "../worker/conclude-abandoned.js";
import { GitHubSupersedeReporter } from "../worker/github-supersede-reporter.js";
import { InFlightBuilds, reconcileAbandonedBuilds } from "../worker/in-flight-builds.js";
import type { AppParts, SharedParts } from "./start-app.js";

/** How often the worker looks for builds abandoned by a dead worker (BullMQ checks stalls every 30 s). */
const RECONCILE_INTERVAL_MS = 60_000;

interface Common {
  redis: Redis;
  budget: WriteBudget;
  logs: LogStore;
  inFlight: InFlightBuilds;
  handoff: CheckRunHandoff;
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
export function productionParts(): ProductionParts {
  let common: Common | undefined;
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
      };
    }
    return common;
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
      const stopReconciler = startReconciler(parts, c, queue);
      closers.push(async () => stopReconciler());
      return createBuildProcessor({
        github: parts.probot,
        budget: c.budget,
        logs: c.logs,
        inFlight: c.inFlight,
        handoff: c.handoff,
        buildkitHost: parts.config.buildkitHost,
        registry: parts.config.registry,
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

/** Runs `reconcileAbandonedBuilds` now and then every minute, in the background of the worker role. Returns its stop. */
function startReconciler(parts: Omit<SharedParts, "enqueueBuild" | "withdrawBuild">, c: Common, queue: Queue<BuildJob>): () => void {
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
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, "could not reconcile abandoned builds");
    } finally {
      running = false;
    }
  };
  void pass();
  const timer = setInterval(() => void pass(), RECONCILE_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
