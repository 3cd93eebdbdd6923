import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { BuildJob } from "../../../src/queue/job-types.js";
import { QueueName } from "../../../src/queue/queue-names.js";
import { startAppProcess } from "../../support/app-process.js";
import type { AppProcess, AppProcessOptions } from "../../support/app-process.js";
import { createAppCredentials } from "../../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../../support/fake-github/index.js";
import type { FakeCheckRun, FakeGitHub, FakeStatus } from "../../support/fake-github/index.js";
import { startGitServer } from "../../support/git-server.js";
import type { GitRepo, GitServer } from "../../support/git-server.js";
import { engineDaemon, testDaemons } from "../../support/daemons.js";
import type { TestDaemon } from "../../support/daemons.js";
import { testStack } from "../../support/stack/env.js";
import type { TestStack } from "../../support/stack/env.js";
import { engineRequest } from "../../support/stack/engine-api.js";
import { freePort } from "../../support/stack/free-port.js";
import { startRedis } from "../../support/stack/redis.js";
import type { RedisInstance } from "../../support/stack/redis.js";
import type { TestRepository } from "../../support/webhooks.js";
import { pullRequestPayload, pushPayload, ZERO_SHA } from "./payloads.js";
import type { PullRequestFields } from "./payloads.js";
import { eventually } from "./wait.js";

/**
 * One end-to-end world: a private Redis, the git server, the fake GitHub (as a GitHub Enterprise host, so the app
 * reaches it through GHE_HOST), and the real app as child processes — `all` in one process, or `split` into a web
 * and a worker process. The BuildKit daemon is the one the test names (the stack's standalone buildkitd or its
 * Docker Engine, see test/support/daemons.ts); the registry comes from the shared test stack unless the test brings
 * its own.
 */

export interface E2EOptions {
  /** Short label: names the temp dir, the repository owner and the registry path. */
  name: string;
  /** The daemon the app builds on (its BUILDKIT_HOST). Default: the stack's Docker Engine, as before daemons were a parameter (the benches). */
  daemon?: TestDaemon;
  /** `all` (default): one process; `split`: a web process and a worker process. */
  roles?: "all" | "split";
  /** Default: the shared stack's registry, without credentials. */
  registry?: { addr: string; username?: string; password?: string };
  /** Extra variables for the app (they win over the harness's). */
  env?: Record<string, string>;
  /** Default `info`. */
  logLevel?: string;
  /** How the app is run (default: this checkout's sources through tsx); see AppProcessOptions.command. */
  app?: AppProcessOptions["command"];
}

export interface E2ERepo extends TestRepository {
  fullName: string;
  git: GitRepo;
  /** Head of each branch as the test pushed it. */
  heads: Map<string, string>;
}

export interface Delivery {
  sha: string;
  deliveryId: string;
  status: number;
}

export interface E2E {
  readonly dir: string;
  readonly stack: TestStack;
  /** The daemon the app builds on. */
  readonly daemon: TestDaemon;
  readonly redis: RedisInstance;
  /** A client of the app's Redis, for assertions and the leak scan. */
  readonly redisClient: Redis;
  readonly git: GitServer;
  readonly github: FakeGitHub<GitRepo>;
  readonly appId: number;
  readonly privateKeyPem: string;
  readonly webhookSecret: string;
  readonly installationId: number;
  readonly owner: string;
  /** Where images go: `<registry>/<path>`. */
  readonly registryPrefix: string;
  readonly registry: { addr: string; username?: string; password?: string };
  readonly queuePrefix: string;
  /** Serves webhooks and the log pages. */
  readonly web: AppProcess;
  /** Runs the planner and the builds (the same process as `web` with roles `all`); its `url` serves /metrics, /healthz and /readyz. */
  readonly worker: AppProcess;
  readonly apps: readonly AppProcess[];
  createRepo(name: string, files: Record<string, string>, opts?: { private?: boolean }): Promise<E2ERepo>;
  /** Commits `files` on `branch` (default main) and delivers the signed push webhook. */
  push(repo: E2ERepo, files: Record<string, string>, opts?: { branch?: string; deliveryId?: string }): Promise<Delivery>;
  /** Commits on `branch` without telling the app (e.g. a PR's head before the pull_request delivery). */
  commit(repo: E2ERepo, files: Record<string, string>, opts?: { branch?: string }): Promise<string>;
  /** Every build job BullMQ still holds (any state), oldest first. */
  buildJobs(): Promise<BuildJob[]>;
  /** Sends a signed delivery; fails unless the app answers 2xx. */
  deliver(event: string, payload: unknown, deliveryId?: string): Promise<Delivery & { body: string }>;
  pullRequest(repo: E2ERepo, pr: PullRequestFields): Promise<Delivery>;
  checkRuns(repo: E2ERepo, filter?: { sha?: string; name?: string }): FakeCheckRun[];
  /** Waits for the named check run of `sha` to complete. */
  completedCheckRun(repo: E2ERepo, sha: string, name: string, timeoutMs?: number): Promise<FakeCheckRun>;
  /** Waits for the commit status `buildkit-bot/<image>` to leave `pending` (it follows the check run's final update). */
  finalStatus(repo: E2ERepo, sha: string, image: string, timeoutMs?: number): Promise<FakeStatus>;
  /** Whether the planner and build workers are registered with BullMQ (e.g. again after a restart). */
  workersReady(): Promise<boolean>;
  /**
   * Stops the worker process (SIGTERM), and starts it again with `env` over its environment, e.g. another
   * BUILDKIT_HOST; waits until it is ready.
   */
  restartWorker(env: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

const INSTALLATION_ID = 4100;

/** Starts the world; call `close()` in `after` (it stops everything it started, by PID). */
export async function startE2E(opts: E2EOptions): Promise<E2E> {
  const stack = testStack();
  const daemon = opts.daemon ?? engineDaemon(stack);
  if (daemon.skip) throw new Error(`startE2E: ${daemon.name} cannot run here: ${daemon.skip}`);
  const label = opts.name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  const dir = await mkdtemp(join(tmpdir(), `bkb-e2e-${label}-`));
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    if (process.env.BKB_KEEP_E2E !== "1") await rm(dir, { recursive: true, force: true });
  };

  try {
    const redis = await startRedis({ dir: join(dir, "redis") });
    cleanups.push(() => redis.stop());
    const redisClient = new Redis(redis.url, { maxRetriesPerRequest: 3, lazyConnect: false });
    cleanups.push(() => redisClient.quit());
    const git = await startGitServer();
    cleanups.push(() => git.close());
    const unique = randomBytes(3).toString("hex");
    const registry = opts.registry ?? { addr: stack.registry };
    const registryPrefix = `${registry.addr}/e2e-${label}-${unique}`;
    // Runs after the apps have stopped: the images the builds left in the shared Engine's store go (a standalone
    // buildkitd keeps no image store, only its cache).
    if (daemon.kind === "docker-engine") cleanups.push(() => untagImages(stack.dockerSocket, registryPrefix));

    const creds = createAppCredentials(5000 + Math.floor(Math.random() * 1000));
    const webhookSecret = `whsec-${randomBytes(12).toString("hex")}`;
    const github = await startFakeGitHub<GitRepo>({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, webhookSecret, gitServer: git });
    cleanups.push(() => github.close());
    const owner = `e2e-${label}`;
    github.addInstallation(INSTALLATION_ID, owner);

    const queuePrefix = `e2e-${label}`;
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    github.setWebhookUrl(`${publicUrl}/api/github/webhooks`);

    const env: Record<string, string> = {
      APP_ID: String(creds.appId),
      PRIVATE_KEY: creds.privateKeyPem,
      WEBHOOK_SECRET: webhookSecret,
      GHE_HOST: new URL(github.url).host,
      GHE_PROTOCOL: "http",
      HOST: "127.0.0.1",
      LOG_LEVEL: opts.logLevel ?? "info",
      LOG_FORMAT: "json",
      BUILDKIT_BOT_REDIS_URL: redis.url,
      BUILDKIT_HOST: daemon.address,
      BUILDKIT_BOT_REGISTRY: registryPrefix,
      BUILDKIT_BOT_PUBLIC_URL: publicUrl,
      BUILDKIT_BOT_GIT_URL: git.url,
      BUILDKIT_BOT_QUEUE_PREFIX: queuePrefix,
      ...(registry.username !== undefined ? { BUILDKIT_BOT_REGISTRY_USERNAME: registry.username } : {}),
      ...(registry.password !== undefined ? { BUILDKIT_BOT_REGISTRY_PASSWORD: registry.password } : {}),
      ...opts.env,
    };

    const workersReady = async (): Promise<boolean> => {
      for (const name of [QueueName.Events, QueueName.Builds]) {
        const queue = new Queue(name, { connection: redisClient, prefix: queuePrefix });
        try {
          if ((await queue.getWorkers()).length === 0) return false;
        } finally {
          await queue.close();
        }
      }
      return true;
    };
    const httpUp = async (): Promise<boolean> => {
      const res = await fetch(`${publicUrl}/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return true;
    };

    const apps: AppProcess[] = [];
    let web: AppProcess;
    let worker: AppProcess;
    const stopApp = (app: AppProcess) => () => app.stop(30_000);
    if (opts.roles === "split") {
      web = await startAppProcess({ name: "web", command: opts.app, dir: join(dir, "logs"), env: { ...env, PORT: String(port), BUILDKIT_BOT_ROLE: "web" }, ready: httpUp });
      apps.push(web);
      cleanups.push(stopApp(web));
      worker = await startAppProcess({ name: "worker", command: opts.app, dir: join(dir, "logs"), env: { ...env, BUILDKIT_BOT_ROLE: "worker", PORT: String(await freePort()) }, ready: workersReady });
      apps.push(worker);
      cleanups.push(stopApp(worker));
    } else {
      web = await startAppProcess({
        name: "app",
        command: opts.app,
        dir: join(dir, "logs"),
        env: { ...env, PORT: String(port), BUILDKIT_BOT_ROLE: "all" },
        ready: async () => (await httpUp()) && (await workersReady()),
      });
      worker = web;
      apps.push(web);
      cleanups.push(stopApp(web));
    }

    const deliver: E2E["deliver"] = async (event, payload, deliveryId) => {
      const res = await github.deliver(event, payload, deliveryId ? { deliveryId } : {});
      if (res.status < 200 || res.status > 299) throw new Error(`the app answered ${res.status} to the ${event} delivery: ${res.body}`);
      const sha = (payload as { after?: string }).after ?? "";
      return { sha, deliveryId: res.deliveryId, status: res.status, body: res.body };
    };

    const e2e: E2E = {
      dir,
      stack,
      daemon,
      redis,
      redisClient,
      git,
      github,
      appId: creds.appId,
      privateKeyPem: creds.privateKeyPem,
      webhookSecret,
      installationId: INSTALLATION_ID,
      owner,
      registryPrefix,
      registry,
      queuePrefix,
      web,
      worker,
      apps,
      async createRepo(name, files, o = {}) {
        const isPrivate = o.private ?? true;
        const git = await github.createRepo(INSTALLATION_ID, owner, name, { private: isPrivate });
        await git.commit(files, { message: "initial commit" });
        const repo: E2ERepo = {
          installationId: INSTALLATION_ID,
          repoId: git.id,
          owner,
          name,
          private: isPrivate,
          defaultBranch: "main",
          fullName: `${owner}/${name}`,
          git,
          heads: new Map(),
        };
        // The initial commit is not announced: the first push() delivers a push creating the branch.
        repo.heads.set("main", ZERO_SHA);
        return repo;
      },
      async push(repo, files, o = {}) {
        const branch = o.branch ?? "main";
        const before = repo.heads.get(branch) ?? ZERO_SHA;
        const sha = await repo.git.commit(files, { branch, message: `change ${Object.keys(files).join(", ")}` });
        repo.heads.set(branch, sha);
        const payload = pushPayload(repo, { ref: `refs/heads/${branch}`, before, after: sha, files: Object.keys(files) });
        const d = await deliver("push", payload, o.deliveryId);
        return { sha, deliveryId: d.deliveryId, status: d.status };
      },
      async commit(repo, files, o = {}) {
        const branch = o.branch ?? "main";
        const sha = await repo.git.commit(files, { branch, message: `change ${Object.keys(files).join(", ")}` });
        repo.heads.set(branch, sha);
        return sha;
      },
      async buildJobs() {
        const queue = new Queue<BuildJob>(QueueName.Builds, { connection: redisClient, prefix: queuePrefix });
        try {
          const jobs = await queue.getJobs(["active", "waiting", "delayed", "prioritized", "completed", "failed", "wait"]);
          return jobs.filter((j) => j !== undefined).map((j) => j.data).sort((a, b) => a.queuedAt.localeCompare(b.queuedAt));
        } finally {
          await queue.close();
        }
      },
      deliver,
      async pullRequest(repo, pr) {
        const d = await deliver("pull_request", pullRequestPayload(repo, pr));
        return { sha: pr.head.sha, deliveryId: d.deliveryId, status: d.status };
      },
      checkRuns(repo, filter = {}) {
        return github.findCheckRuns({ owner: repo.owner, repo: repo.name, ...filter });
      },
      async completedCheckRun(repo, sha, name, timeoutMs = 120_000) {
        return eventually(
          async () => github.findCheckRuns({ owner: repo.owner, repo: repo.name, sha, name }).find((c) => c.status === "completed"),
          `check run "${name}" of ${repo.fullName}@${sha.slice(0, 7)} to complete`,
          { timeoutMs, describe: () => describeRuns(github, repo) },
        );
      },
      async finalStatus(repo, sha, image, timeoutMs = 60_000) {
        return eventually(
          async () => {
            const status = github.latestStatus(repo.owner, repo.name, sha, `buildkit-bot/${image}`);
            return status && status.state !== "pending" ? status : undefined;
          },
          `the final status of ${image} on ${repo.fullName}@${sha.slice(0, 7)}`,
          { timeoutMs, describe: () => JSON.stringify(github.statusHistory(repo.owner, repo.name, sha)) },
        );
      },
      workersReady,
      async restartWorker(overrides) {
        await worker.stop(30_000);
        // AppProcess starts again with the environment object it was given: change it in place.
        Object.assign(worker.env, overrides);
        await worker.restart();
      },
      close: cleanup,
    };
    return e2e;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Whether `daemon` is the first daemon that runs: scenarios that never reach a daemon (webhook intake, config
 * checks) run in that daemon's suite only, not once per daemon.
 */
export function isFirstRunnableDaemon(daemon: TestDaemon): boolean {
  return testDaemons().find((d) => d.skip === false)?.kind === daemon.kind;
}

/** Every check run of a repository in one line each, for failure messages. */
export function describeRuns(github: FakeGitHub<GitRepo>, repo: { owner: string; name: string }): string {
  const runs = github.findCheckRuns({ owner: repo.owner, repo: repo.name });
  if (runs.length === 0) return `no check runs on ${repo.owner}/${repo.name}`;
  return runs
    .map((r) => `#${r.id} ${r.name} @${r.head_sha.slice(0, 7)} ${r.status}/${r.conclusion ?? "-"}: ${r.output.title ?? ""}`)
    .join("\n");
}

/** Removes every tag under `prefix` from the Engine's image store (the image goes with its last tag). */
async function untagImages(socket: string, prefix: string): Promise<void> {
  const { status, body } = await engineRequest(socket, "/v1.41/images/json");
  if (status !== 200) return;
  const images = JSON.parse(body) as Array<{ RepoTags?: string[] | null }>;
  for (const tag of images.flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(`${prefix}/`))) {
    await engineRequest(socket, `/v1.41/images/${encodeURIComponent(tag)}`, { method: "DELETE", timeoutMs: 30_000 });
  }
}
