import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { AppConfig } from "./app-config.js";
import { BuilderPool } from "../builders/index.js";
import { BudgetedPlannerCheckRuns, OctokitPlannerCheckRuns, WriteBudget } from "../github/index.js";
import { INSTALLATION_EVENTS } from "../intake/index.js";
import { plannerProcessor } from "../planner/index.js";
import { PR_CLEANUP_QUEUE, PrImageCleanup, PrImageRecords, recordingPrImages, startPrCleanupWorker } from "../cleanup/index.js";
import { DeliveryRecovery } from "../recovery/index.js";
import { buildersCheck, measuredSupersedes, measuredTrails, recordFailover, recordRedelivery } from "../metrics/index.js";
import type { ReadinessCheck, ScrapeSources } from "../metrics/index.js";
import { BuildAttempts, CheckRunHandoff, CheckRunLedger, createWorkerConnection, FairShare, QueueName } from "../queue/index.js";
import type { BuildJob, EventJob, QueueLog, RunSlot } from "../queue/index.js";
import { GitHubTrails, InFlightBuilds, LogStore, reconcileAbandonedBuilds } from "../trail/index.js";
import { CacheHistory, createBuildProcessor, MergeQueueReuse, plannerLookupOf, reconcileOrphanedCheckRuns, ReusableImages, settleSlot, slotBuildsOf } from "../worker/index.js";
import type { OrphanedRunDeps } from "../worker/index.js";
import type { AppParts, SharedParts } from "./start-app.js";
import type { RouteHandler } from "./app.js";
import type * as WebPages from "../web/index.js";

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

type WorkerParts = Omit<SharedParts, "enqueueBuild" | "withdrawBuild">;

export interface ProductionPartsOptions {
  /** How often the reconciler runs (abandoned builds, check runs left behind). Default 60 s. */
  reconcileIntervalMs?: number;
}

export interface ProductionParts extends AppParts {
  /** Releases what the parts opened (Redis, the reconciler); call after the app has stopped. */
  close(): Promise<void>;
  /** The worker role's builder pool (its `snapshot()` is what metrics read); undefined until the worker role starts. */
  builders(): BuilderPool | undefined;
}

/**
 * The app's real parts, built from what start-app shares: the planner behind the write budget, the build
 * processor, the build trails (which also end superseded builds) and the log page. The Redis connection, write
 * budget, log store, in-flight registry and trails are made once and shared by every part.
 */
export function productionParts(options: ProductionPartsOptions = {}): ProductionParts {
  let common: Common | undefined;
  let orphans: OrphanedRunDeps | undefined;
  let trails: GitHubTrails | undefined;
  let pool: BuilderPool | undefined;
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
  const orphanDeps = (parts: WorkerParts): OrphanedRunDeps => {
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
        request: async (installationId) => (await parts.probot.auth(installationId)).request,
        planner: plannerLookupOf(events),
        builds: slotBuildsOf(builds, attempts),
      };
    }
    return orphans;
  };

  // Every way a build ends goes through these: its attempts on this worker, supersede, the reconciler, shutdown.
  const buildTrails = (parts: WorkerParts): GitHubTrails => {
    if (!trails) {
      const c = shared(parts.config);
      const o = orphanDeps(parts);
      trails = new GitHubTrails({
        github: parts.probot,
        budget: c.budget,
        logs: c.logs,
        inFlight: c.inFlight,
        handoff: c.handoff,
        stillComing: (job) => c.ledger.mayStillHand({ repoId: job.repository.repoId, sha: job.sha, image: job.image.name, queuedAt: job.queuedAt }, o.planner),
        ...(parts.config.publicBaseUrl ? { publicBaseUrl: parts.config.publicBaseUrl } : {}),
        log: parts.log,
      });
    }
    return trails;
  };

  return {
    planner: (parts) => {
      const { redis, budget } = shared(parts.config);
      startDeliveryRecovery(parts, redis, closers);
      return plannerProcessor({
        probot: parts.probot,
        redis,
        enqueueBuild: parts.enqueueBuild,
        withdrawBuild: parts.withdrawBuild,
        ...(parts.cancelUnder ? { cancelUnder: parts.cancelUnder } : {}),
        config: parts.config,
        log: parts.log,
        keyPrefix: parts.config.queuePrefix,
        checkRuns: (octokit) => new BudgetedPlannerCheckRuns(new OctokitPlannerCheckRuns(octokit), budget),
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
      const builders = new BuilderPool({ config: parts.config.builders, redis: c.redis, prefix: parts.config.queuePrefix, log: parts.log, onFailover: recordFailover });
      builders.start();
      pool = builders;
      closers.push(() => builders.close());
      const stopReconciler = startReconciler(parts, c, buildTrails(parts), queue, o, options.reconcileIntervalMs ?? RECONCILE_INTERVAL_MS);
      closers.push(async () => stopReconciler());
      const records = startPrImageCleanup(parts, c.redis, closers);
      const processor = createBuildProcessor({
        github: parts.probot,
        trails: measuredTrails(buildTrails(parts)),
        settleGivenUp: async (job) => {
          const result = await settleSlot(slotOfBuild(job), o, { exceptBuild: job.buildId });
          // Busy: a planning of the image is still at work, and its build reports the status.
          return { replaced: result.kind === "busy" || result.replaced };
        },
        builders,
        registry: parts.config.registry,
        tenants: parts.config.tenants,
        attemptsOf: async (buildId) => {
          const job = await queue.getJob(buildId);
          return job ? { attemptsMade: job.attemptsMade, attempts: job.opts.attempts ?? 1 } : undefined;
        },
        log: parts.log,
        cacheHistory: new CacheHistory(c.redis, parts.config.queuePrefix),
        reuse: new MergeQueueReuse(new ReusableImages(c.redis, parts.config.queuePrefix), parts.log),
      });
      // What a pull request's builds push is noted, so its clean-up deletes exactly that (src/cleanup).
      return recordingPrImages(processor, records, parts.log);
    },

    supersedeListener: (parts) => measuredSupersedes(buildTrails(parts)),

    buildsLeftRunning: async (parts) => {
      const interrupted = await trails?.interruptRunning();
      if (interrupted) parts.log.warn({ builds: interrupted }, "builds still running at shutdown go back to the queue");
    },

    // Loaded only by the roles that serve them: the pages' libraries (Bull Board, Express and theirs) are some 11 MB
    // of resident memory that a worker, which serves none, would carry through every build.
    routes: async (parts) => {
      const web = await import("../web/index.js");
      return [web.createLogPageHandler(shared(parts.config).logs), ...queueBoard(web, parts.config, shared(parts.config).redis, closers)];
    },

    observe: (parts) => observed(parts.config, shared(parts.config), pool, closers),

    builders: () => pool,

    close: async () => {
      // The reconciler and the queue go before the connection they use.
      for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
      common = undefined;
      orphans = undefined;
      trails = undefined;
      pool = undefined;
    },
  };
}

/**
 * Missed-webhook recovery (src/recovery) in the background of the worker role: now, then every interval, it asks
 * GitHub to redeliver the App's failed deliveries. Its stop goes with the parts' close.
 */
function startDeliveryRecovery(parts: WorkerParts, redis: Redis, closers: Array<() => Promise<unknown>>): void {
  const r = parts.config.redelivery;
  if (r.intervalMs === 0) return;
  const recovery = new DeliveryRecovery({
    github: () => parts.probot.auth(),
    redis,
    prefix: parts.config.queuePrefix,
    events: INSTALLATION_EVENTS,
    windowMs: r.windowMs,
    perMinute: r.perMinute,
    onRedelivered: recordRedelivery,
    log: parts.log,
  });
  recovery.start(r.intervalMs);
  closers.push(() => recovery.stop());
}

/** The operators' queue view (src/web), only when BUILDKIT_BOT_ADMIN_TOKEN is set. */
function queueBoard(web: typeof WebPages, config: AppConfig, redis: Redis, closers: Array<() => Promise<unknown>>): RouteHandler[] {
  if (config.adminToken === undefined) return [];
  const queues = [QueueName.Events, QueueName.Builds, PR_CLEANUP_QUEUE].map((name) => {
    const q = new Queue(name, { connection: redis, prefix: config.queuePrefix });
    q.on("error", () => {});
    closers.push(() => q.close());
    return q;
  });
  return [web.createQueueBoardHandler({ token: config.adminToken, queues })];
}

/**
 * What the metrics read at scrape time (the queues' job counts, the fair share, the write budget, the log store and,
 * on a worker, the builder pool), and a worker's readiness: at least one builder answers its probes.
 */
function observed(config: AppConfig, c: Common, pool: BuilderPool | undefined, closers: Array<() => Promise<unknown>>): { sources: ScrapeSources; checks: ReadinessCheck[] } {
  const queues = [QueueName.Events, QueueName.Builds].map((name) => {
    const q = new Queue(name, { connection: c.redis, prefix: config.queuePrefix });
    q.on("error", () => {});
    closers.push(() => q.close());
    return q;
  });
  const fair = new FairShare(c.redis, config.queuePrefix);
  const sources: ScrapeSources = {
    queues: () => Promise.all(queues.map(async (q) => ({ queue: q.name, counts: await q.getJobCounts() }))),
    fairShare: () => fair.snapshot(),
    writeBudget: async () => {
      const [windows, pausedForMs] = await Promise.all([c.budget.usage(), c.budget.pausedForMs()]);
      return { windows, pausedForMs };
    },
    logStore: () => c.logs.usage(),
  };
  if (!pool) return { sources, checks: [] };
  const snapshot = (): ReturnType<BuilderPool["snapshot"]> => pool.snapshot();
  return { sources: { ...sources, builders: snapshot }, checks: [buildersCheck(snapshot)] };
}

/**
 * PR image clean-up in the background of the worker role: closed pull requests' jobs and the deployment's one
 * sweep (src/cleanup), on a connection of its own. Returns the records the build processor writes.
 */
function startPrImageCleanup(parts: WorkerParts, redis: Redis, closers: Array<() => Promise<unknown>>): PrImageRecords {
  const prefix = parts.config.queuePrefix;
  const records = new PrImageRecords(redis, prefix);
  const cleanup = new PrImageCleanup({ records, redis, prefix, tenants: parts.config.tenants, log: parts.log });
  const connection = createWorkerConnection(parts.config.redisUrl);
  const started = startPrCleanupWorker({ connection, prefix, cleanup, ttlMs: parts.config.prImageTtlMs, log: parts.log }).catch((err: unknown) => {
    parts.log.error({ err: err instanceof Error ? err.message : String(err) }, "PR image clean-up did not start: closed pull requests' images stay");
    return undefined;
  });
  closers.push(async () => {
    await (await started)?.close();
    await connection.quit().catch(() => connection.disconnect());
  });
  return records;
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
  parts: WorkerParts,
  c: Common,
  trails: GitHubTrails,
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
        conclude: (entry, message) => trails.abandoned(entry, message),
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
