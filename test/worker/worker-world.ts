import { after, before } from "node:test";
import { Probot } from "probot";
import type { Logger } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import type { RegistryConfig } from "../../src/app/app-config.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";
import { GitHubTrails } from "../../src/trail/github-trails.js";
import type { GitHubTrailsDeps } from "../../src/trail/github-trails.js";
import { InFlightBuilds } from "../../src/trail/in-flight-builds.js";
import { LogStore } from "../../src/trail/log-store.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";

/**
 * The world the build-processor tests share (not a test file itself): a git server, the fake GitHub with one
 * installation, a Probot app authenticated against it, a Redis prefix of the test's own, and the processor's
 * dependencies wired to them (trails through the write budget, the log store and the check-run hand-off).
 */
export interface WorkerWorld {
  git: GitServer;
  fake: FakeGitHub<GitRepo>;
  probot: Probot;
  /** The installation's own authenticated request. */
  request: OctokitRequest;
  redis: Awaited<ReturnType<typeof redisForTest>>;
  trailDeps: GitHubTrailsDeps;
  deps: BuildProcessorDeps;
  close(): Promise<void>;
}

export interface WorkerWorldOptions {
  /** Names the test's Redis prefix. */
  label: string;
  installation: number;
  owner: string;
  /** The GitHub App's id (each file its own, as the fake GitHub keeps apps apart). */
  appId: number;
  registry: RegistryConfig;
  logger: Logger;
  /** How often a running build's check run is updated (the trails' default otherwise). */
  progressIntervalMs?: number;
  /** The app's public URL (the check runs' log links). */
  publicBaseUrl?: string;
  /** Dependencies beyond the common ones, or in their place (given the world built so far). */
  extraDeps?: (world: Omit<WorkerWorld, "deps" | "close">) => Partial<BuildProcessorDeps>;
}

export async function startWorkerWorld(o: WorkerWorldOptions): Promise<WorkerWorld> {
  const creds = createAppCredentials(o.appId);
  const git = await startGitServer();
  const fake = await startFakeGitHub<GitRepo>({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(o.installation, o.owner);
  const probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, log: o.logger });
  const request = (await probot.auth(o.installation)).request as OctokitRequest;
  const redis = await redisForTest(o.label);
  const trailDeps: GitHubTrailsDeps = {
    github: probot,
    budget: new WriteBudget(redis.redis, { prefix: `${redis.prefix}:budget`, pollMs: 20 }),
    logs: new LogStore(redis.redis, { prefix: `${redis.prefix}:logs` }),
    inFlight: new InFlightBuilds(redis.redis, redis.prefix),
    handoff: new CheckRunHandoff(redis.redis, redis.prefix),
    log: o.logger,
    ...(o.progressIntervalMs !== undefined ? { progressIntervalMs: o.progressIntervalMs } : {}),
    ...(o.publicBaseUrl !== undefined ? { publicBaseUrl: o.publicBaseUrl } : {}),
  };
  const partial = { git, fake, probot, request, redis, trailDeps };
  const deps: BuildProcessorDeps = {
    github: probot,
    trails: new GitHubTrails(trailDeps),
    registry: o.registry,
    attemptsOf: async () => ({ attemptsMade: 0, attempts: 1 }),
    log: o.logger,
    ...o.extraDeps?.(partial),
  };
  return {
    ...partial,
    deps,
    close: async () => {
      await fake.close();
      await git.close();
      await redis.cleanup();
    },
  };
}

/**
 * The world of one test file: started in the file's `before` (then handed to `started`, which takes the parts the
 * file uses) and closed in its `after`.
 */
export function workerWorldOfFile(o: WorkerWorldOptions, started: (world: WorkerWorld) => void): void {
  let world: WorkerWorld | undefined;
  before(async () => {
    world = await startWorkerWorld(o);
    started(world);
  });
  after(async () => {
    await world?.close();
  });
}
