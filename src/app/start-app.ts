import { existsSync } from "node:fs";
import { Probot, run } from "probot";
import type { Logger, Options as ProbotOptions } from "probot";
import { installationBuildCap, loadAppConfig } from "./app-config.js";
import type { AppConfig } from "./app-config.js";
import { createOperatorRoutes, recordRole, redisCheck, startOperatorServer, watchSources } from "../metrics/index.js";
import type { ReadinessCheck, ScrapeSources } from "../metrics/index.js";
import { PrCleanupQueue } from "../cleanup/index.js";
import { ConfigWorkerPool } from "../planner/index.js";
import type { ConfigWork } from "../planner/index.js";
import {
  BuildQueue,
  createBuildWorker,
  createEventWorker,
  createProducerConnection,
  createWorkerConnection,
  EventQueue,
  whenReady,
} from "../queue/index.js";
import type { BuildProcessor, BuildWorker, CancelUnder, EnqueueBuild, EventProcessor, EventWorker, SupersedeListener, WithdrawBuild } from "../queue/index.js";
import { quietAccessLog } from "./access-log.js";
import { createApp } from "./app.js";
import { releaseConfigThreadsWhileBuilding } from "./config-threads-while-building.js";
import type { RouteHandler } from "./app.js";
import { JobOctokit } from "./job-octokit.js";
import { readPrivateKey } from "./private-key.js";
import { applyRoleHeapFlags } from "./role-heap.js";

/** What the workers are built from. */
export interface SharedParts {
  config: AppConfig;
  /** Authenticated as the App, with JobOctokit (no Octokit-level retries): `await probot.auth(installationId)`. */
  probot: Probot;
  enqueueBuild: EnqueueBuild;
  withdrawBuild: WithdrawBuild;
  /** Ends the builds under a supersede key (a destroyed merge group's). */
  cancelUnder?: CancelUnder;
  log: Probot["log"];
  /** For the planner: repository configs are read and applied in the app's worker threads (ConfigWorkerPool). */
  configWork?: ConfigWork;
}

/**
 * The pieces other modules provide. Each is optional so the app can start before they exist; a missing
 * piece means that worker is not started (and a warning says so).
 */
export interface AppParts {
  /** The planner (`runPlannerJob` with its deps bound). */
  planner?: (shared: SharedParts) => EventProcessor;
  /** The build itself. */
  builder?: (shared: SharedParts) => BuildProcessor;
  /** Ends the public record of each build the queue supersedes (check run, status, log, in-flight entry). */
  supersedeListener?: (shared: Omit<SharedParts, "enqueueBuild" | "withdrawBuild">) => SupersedeListener;
  /**
   * Called at shutdown once the build worker has stopped waiting for its running builds (the grace period is
   * over): ends this attempt of each build still running, which the queue then resumes.
   */
  buildsLeftRunning?: (shared: Omit<SharedParts, "enqueueBuild" | "withdrawBuild">) => Promise<void>;
  /** Extra HTTP routes (the log page); asked for only by roles that serve webhooks, so their code may load then. */
  routes?: (shared: Omit<SharedParts, "enqueueBuild" | "withdrawBuild">) => RouteHandler[] | Promise<RouteHandler[]>;
  /**
   * What this role's metrics read at scrape time, and what its readiness needs beyond Redis (a worker: a healthy
   * builder). Called once the role's workers are built.
   */
  observe?: (shared: Omit<SharedParts, "enqueueBuild" | "withdrawBuild">) => { sources?: ScrapeSources; checks?: ReadinessCheck[] };
}

export interface RunningApp {
  mode: "setup" | "running";
  /** The HTTP port: Probot's server (web and all roles), or the worker's operator listener. */
  port?: number;
  stop(): Promise<void>;
}

/**
 * A config check thread that has checked a config and has had no work for this long is stopped, and one fresh
 * thread is kept ready (starting one takes about 100 ms, a few hundred before the schema's validator was precompiled,
 * and every push waited for it when none was kept: webhook → solve 1.7-2× the pre-redesign time). A thread holds
 * about 15 MB, more after a large config; a worker process otherwise spends its time building, so they are gone 2 s
 * into the build (log flood: worker peak 179-185 MB with 10 s, 163 MB with 2 s), and no fresh one is kept while it
 * builds (releaseConfigThreadsWhileBuilding).
 */
const CONFIG_THREAD_IDLE_MS = 2_000;

/** Probot's own check (APP_ID plus a private key) for whether it starts in setup mode. */
function hasCredentials(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.APP_ID?.trim() && (env.PRIVATE_KEY?.trim() || env.PRIVATE_KEY_PATH?.trim()));
}

/**
 * Probot's logging variables (LOG_FORMAT, LOG_LEVEL_IN_STRING, LOG_MESSAGE_KEY, SENTRY_DSN), read the way its
 * `run()` reads them, so the workers' logger matches the web server's.
 */
function probotLogOptions(env: NodeJS.ProcessEnv): Pick<ProbotOptions, "logFormat" | "logLevelInString" | "logMessageKey" | "sentryDsn"> {
  const format = env.LOG_FORMAT ? (env.LOG_FORMAT === "pretty" ? "pretty" : "json") : env.NODE_ENV === "production" ? "json" : "pretty";
  return {
    logFormat: format,
    logLevelInString: env.LOG_LEVEL_IN_STRING === "true",
    ...(env.LOG_MESSAGE_KEY ? { logMessageKey: env.LOG_MESSAGE_KEY } : {}),
    ...(env.SENTRY_DSN ? { sentryDsn: env.SENTRY_DSN } : {}),
  };
}

/** PORT as Probot reads it (default 3000); 0 takes any free port. */
function listenPort(env: NodeJS.ProcessEnv): number {
  const raw = env.PORT?.trim() || "3000";
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT must be a port number (0-65535), got ${JSON.stringify(raw)}`);
  return port;
}

/**
 * Starts buildkit-bot according to BUILDKIT_BOT_ROLE: `web` (webhooks → event queue), `worker` (planner and
 * build workers), or `all`. Without App credentials outside production, Probot's `run()` serves its setup
 * page (register the App from app.yml) and nothing else starts.
 */
export async function startBuildkitBot(
  parts: AppParts = {},
  env: NodeJS.ProcessEnv = process.env,
  options: { log?: Logger } = {},
): Promise<RunningApp> {
  if (env === process.env && existsSync(".env")) process.loadEnvFile(".env");

  if (!hasCredentials(env)) {
    const server = await run(() => {}, { env, log: options.log });
    return { mode: "setup", port: server.port, stop: () => server.stop() };
  }

  const config = loadAppConfig(env);
  if (config.appId === undefined) throw new Error("APP_ID is required");
  // The process's own role (not a test's env): its garbage collector's settings (role-heap.ts).
  if (env === process.env) applyRoleHeapFlags(config.role);
  const privateKey = readPrivateKey(env);
  if (!privateKey) throw new Error("PRIVATE_KEY or PRIVATE_KEY_PATH is required");
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };

  try {
    const probot = new Probot({
      appId: config.appId,
      privateKey,
      secret: env.WEBHOOK_SECRET,
      baseUrl: config.github.apiBaseUrl,
      Octokit: JobOctokit,
      log: options.log,
      logLevel: (env.LOG_LEVEL as "info" | undefined) ?? "info",
      ...probotLogOptions(env),
    });
    // Probot builds its logger during initialisation; `probot.log` is null before that.
    await probot.ready();
    const log = probot.log;
    log.info({ config: config.describe() }, "buildkit-bot configuration");
    const base = { config, probot, log };

    const producer = createProducerConnection(config.redisUrl);
    stops.push(async () => producer.disconnect());
    await whenReady(producer).catch((err: Error) => {
      throw new Error(`cannot reach Redis at ${String(config.describe().redisUrl)}: ${err.message}`);
    });
    let port: number | undefined;
    // /metrics, /healthz and /readyz on every role: Probot's server for web and all, a listener of its own for a worker.
    recordRole(config.role);
    let startedUp = false;
    const checks: ReadinessCheck[] = [{ name: "startup", check: async () => (startedUp ? undefined : "still starting") }, redisCheck(producer)];
    const operator = createOperatorRoutes({ checks });
    if (config.role === "worker") {
      const server = await startOperatorServer({ route: operator, port: listenPort(env), ...(env.HOST ? { host: env.HOST } : {}) });
      port = server.port;
      stops.push(() => server.close());
      log.info({ port }, "worker: /metrics, /healthz and /readyz listening");
    }

    if (config.role !== "worker") {
      // The webhooks' own connection, auto-pipelined: the event-job adds of deliveries that arrive together go to
      // Redis as one write and come back as one read, instead of a write, a Redis wake-up and a read each (at 1,000
      // deliveries a second those per-add socket writes were the largest part of the web role's CPU). Each add keeps
      // its own reply and error, so each delivery still gets its own 2xx or 503. Its own connection, so the build
      // queue's commands on `producer` keep their order.
      const ingest = createProducerConnection(config.redisUrl, { enableAutoPipelining: true });
      stops.push(async () => ingest.disconnect());
      await whenReady(ingest);
      const events = new EventQueue({ connection: ingest, prefix: config.queuePrefix });
      stops.push(() => events.close());
      await events.ready();
      // A closed pull request's images are cleaned by the worker role (src/cleanup).
      const prClosed = new PrCleanupQueue({ connection: ingest, prefix: config.queuePrefix });
      stops.push(() => prClosed.close());
      const appFn = createApp({
        store: events,
        prClosed,
        appId: config.appId,
        gitBaseUrl: config.github.gitBaseUrl,
        routes: [operator, ...((await parts.routes?.(base)) ?? [])],
        // Probot's defaults for both (its own middleware is replaced by our intake, see createApp).
        webhook: { path: env.WEBHOOK_PATH || "/api/github/webhooks", secret: env.WEBHOOK_SECRET || "development" },
        onClose: (close) => stops.push(close),
      });
      // run() adds a SIGINT listener that exits the process at once; our own handler closes workers first.
      const before = new Set(process.listeners("SIGINT"));
      const server = await run(appFn, { env, Octokit: JobOctokit, log: quietAccessLog(options.log ?? log) });
      for (const l of process.listeners("SIGINT")) if (!before.has(l)) process.off("SIGINT", l);
      port = server.port;
      stops.push(() => server.stop());
    }

    if (config.role !== "web") {
      const supersedeListener = parts.supersedeListener?.(base);
      const builds = new BuildQueue({
        connection: producer,
        prefix: config.queuePrefix,
        supersedeListener: supersedeListener ?? { superseded: async (b) => log.warn({ buildId: b.buildId }, "superseded (no listener wired)") },
        // Each account's cap on builds running at once, across every worker (the fair share, src/queue/fair-share.ts).
        capOf: (repository) => installationBuildCap(config, { owner: repository.owner, installationId: repository.installationId }),
        log,
      });
      stops.push(() => builds.close());
      const shared: SharedParts = { ...base, enqueueBuild: builds.enqueueBuild, withdrawBuild: builds.withdrawBuild, cancelUnder: builds.cancelUnder };

      let configThreads: ConfigWorkerPool | undefined;
      if (parts.planner) {
        // Untrusted configs never run on this thread (it also serves the queues and, in role `all`, the webhooks).
        // One started now, so a deployment whose threads cannot start says so at once instead of on the first push;
        // the others start when there is work, and used ones stop after CONFIG_THREAD_IDLE_MS, one fresh one kept
        // (none while this process builds: releaseConfigThreadsWhileBuilding).
        const configWork = new ConfigWorkerPool({ limits: config.repoConfigLimits, size: Math.min(2, config.eventWorkerConcurrency), idleMs: CONFIG_THREAD_IDLE_MS, log });
        stops.push(() => configWork.close());
        await configWork.start();
        configThreads = configWork;
        log.info({ threads: configWork.size, limits: { checkTimeMs: config.repoConfigLimits.checkTimeMs, checkMemoryMb: config.repoConfigLimits.checkMemoryMb } }, "config check threads started");
        const connection = createWorkerConnection(config.redisUrl);
        const worker: EventWorker = await createEventWorker({
          connection,
          prefix: config.queuePrefix,
          concurrency: config.eventWorkerConcurrency,
          processor: parts.planner({ ...shared, configWork }),
          log,
        });
        stops.push(() => connection.quit());
        stops.push(() => worker.close());
      } else {
        log.warn("no planner wired: the event worker is not started");
      }

      if (parts.builder && supersedeListener) {
        const connection = createWorkerConnection(config.redisUrl);
        const worker: BuildWorker = await createBuildWorker({
          connection,
          prefix: config.queuePrefix,
          concurrency: config.workerConcurrency,
          processor: configThreads ? releaseConfigThreadsWhileBuilding(parts.builder(shared), configThreads) : parts.builder(shared),
          supersedeListener,
          log,
        });
        stops.push(() => connection.quit());
        // Running builds get the grace period; what is still running then is resumed from the queue (stall check),
        // and its trail says so. The grace is kept here: once BullMQ's close has begun, a forced close returns that
        // same close, which waits for the running builds whatever the timeout.
        stops.push(async () => {
          let timer: NodeJS.Timeout | undefined;
          const graceOver = new Promise<"grace over">((resolve) => (timer = setTimeout(() => resolve("grace over"), config.shutdownGraceMs)));
          const closing = worker.close(config.shutdownGraceMs);
          const first = await Promise.race([closing, graceOver]);
          clearTimeout(timer);
          if (first === "grace over") {
            closing.catch(() => undefined);
            await parts.buildsLeftRunning?.(base);
          }
        });
      } else {
        log.warn("no build processor or supersede listener wired: the build worker is not started");
      }
    }

    const observed = parts.observe?.(base);
    checks.push(...(observed?.checks ?? []));
    if (observed?.sources) {
      const unwatch = watchSources(observed.sources);
      stops.push(async () => unwatch());
    }
    // Stops run last to first: health answers 503 before anything else stops.
    stops.push(async () => operator.stopping());
    startedUp = true;
    return { mode: "running", port, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
