import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { createBuildWorker } from "../../src/queue/build-worker.js";
import type { BuildWorker } from "../../src/queue/build-worker.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { createWorkerConnection } from "../../src/queue/redis-connections.js";
import { retryJobOptions } from "../../src/queue/retry-policy.js";
import type { RetryPolicy } from "../../src/queue/retry-policy.js";
import { GitHubTrails } from "../../src/trail/github-trails.js";
import { InFlightBuilds } from "../../src/trail/in-flight-builds.js";
import { LogStore } from "../../src/trail/log-store.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { startEngineFaultProxy, failPushes } from "../support/engine-fault-proxy.js";
import type { EngineFaultProxy } from "../support/engine-fault-proxy.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import { jobInState } from "../support/settled-job.js";
import { testStack } from "../support/stack/env.js";
import { buildJob, captureLog, registryDigest, unique } from "../worker/worker-test-kit.js";

/**
 * An Engine that fails a push with a 5xx has failed, not the build: the attempt is transient and the queue tries
 * the build again. Proven on the real Docker Engine of the stack, behind a proxy that answers the first push with
 * the error, and through the real build queue (BullMQ's attempts and our backoff).
 */
const stack = testStack();
const INSTALLATION = 88;
const OWNER = "octo";
const FAST: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 400 };
const creds = createAppCredentials(4402);
const captured = captureLog();
const registry = { prefix: `${stack.registry}/errors-test`, host: stack.registry };

let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let probot: Probot;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let workerConnection: Redis;
let queue: Queue<BuildJob>;

before(async () => {
  git = await startGitServer();
  fake = await startFakeGitHub<GitRepo>({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(INSTALLATION, OWNER);
  probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, log: captured.logger });
  redisCtx = await redisForTest("errors");
  workerConnection = createWorkerConnection(stack.redisUrl);
  queue = new Queue<BuildJob>(QueueName.Builds, { connection: redisCtx.redis, prefix: redisCtx.prefix });
});

after(async () => {
  await queue?.close();
  await workerConnection?.quit();
  await redisCtx?.cleanup();
  await fake?.close();
  await git?.close();
});

/** A pushing build of a fresh repository, its queued check run, and the build queue and worker it runs in. */
async function runThroughQueue(proxy: EngineFaultProxy): Promise<{ job: BuildJob; checkRunId: number; state: string; attemptsMade: number; logs: LogStore }> {
  const name = `engine-5xx-${unique()}`;
  const repo = await fake.createRepo(INSTALLATION, OWNER, name, { private: true });
  const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": `${name}\n` });
  const request = (await probot.auth(INSTALLATION)).request;
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  const checkRunId = (data as { id: number }).id;
  const job = buildJob({
    installationId: INSTALLATION,
    repoId: repo.id,
    owner: OWNER,
    repo: name,
    private: true,
    cloneUrl: repo.remote,
    sha,
    checkRunId,
    image: { tags: [`${registry.prefix}/${OWNER}/${name}:main`], push: true },
  });

  const logs = new LogStore(redisCtx.redis, { prefix: `${redisCtx.prefix}:logs` });
  const trails = new GitHubTrails({
    github: probot,
    budget: new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget`, pollMs: 20 }),
    logs,
    inFlight: new InFlightBuilds(redisCtx.redis, redisCtx.prefix),
    handoff: new CheckRunHandoff(redisCtx.redis, redisCtx.prefix),
    log: captured.logger,
    progressIntervalMs: 1_000,
  });
  const processor = createBuildProcessor({
    github: probot,
    trails,
    buildkitHost: proxy.address,
    registry,
    attemptsOf: async (buildId) => {
      const queued = await queue.getJob(buildId);
      return queued ? { attemptsMade: queued.attemptsMade, attempts: queued.opts.attempts ?? 1 } : undefined;
    },
    log: captured.logger,
  });
  let worker: BuildWorker | undefined;
  try {
    worker = await createBuildWorker({
      connection: workerConnection,
      prefix: redisCtx.prefix,
      concurrency: 1,
      processor,
      supersedeListener: trails,
      retry: FAST,
      log: captured.logger,
    });
    await queue.add(job.buildId, job, { jobId: job.buildId, ...retryJobOptions(FAST) });
    const deadline = Date.now() + 240_000;
    for (;;) {
      const settled = await jobInState(queue, job.buildId, ["completed", "failed"]);
      if (settled) return { job, checkRunId, state: await settled.getState(), attemptsMade: settled.attemptsMade, logs };
      assert.ok(Date.now() < deadline, "the build job settles");
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await worker?.close(10_000);
  }
}

describe("an Engine error during push, on the stack's Docker Engine behind a fault-injecting proxy", { timeout: 600_000 }, () => {
  test("a 500 on the first push fails that attempt only: the queue retries, the image lands in the registry, the check run says 2 attempts", async () => {
    const proxy = await startEngineFaultProxy(stack.dockerSocket, [failPushes(1, 500)]);
    try {
      const { job, checkRunId, state, attemptsMade, logs } = await runThroughQueue(proxy);

      assert.equal(proxy.injected.length, 1, `one push answered with the fault: ${proxy.injected.join(", ")}`);
      assert.match(proxy.injected[0] ?? "", /^POST \/images\/.+\/push\?tag=/);
      assert.equal(proxy.seen.filter((s) => /^POST \/images\/.+\/push/.test(s)).length, 2, "the second attempt pushed again, through to the Engine");
      assert.equal(state, "completed");
      assert.equal(attemptsMade, 2, "one failed attempt, then the one that pushed");

      const digest = await registryDigest(stack.registry, `errors-test/${OWNER}/${job.repository.repo}`, "main");
      assert.match(digest ?? "", /^sha256:[0-9a-f]{64}$/, "the image is in the registry");
      const run = fake.checkRun(checkRunId);
      assert.equal(run?.conclusion, "success");
      assert.match(run?.output.title ?? "", /\(2 attempts\b/);
      assert.ok(run?.output.summary?.includes(digest ?? "-"), "the check run names the pushed digest");
      const log = JSON.stringify((await logs.read(job.buildId))?.entries ?? []);
      assert.match(log, /attempt failed, it will be retried: push .*Docker Engine answered 500/);
    } finally {
      await proxy.close();
    }
  });

  test("a 400 on the push is the request's fault: one attempt, the check run fails", async () => {
    const proxy = await startEngineFaultProxy(stack.dockerSocket, [failPushes(1, 400)]);
    try {
      const { checkRunId, state, attemptsMade } = await runThroughQueue(proxy);

      assert.equal(proxy.injected.length, 1);
      assert.equal(state, "failed");
      assert.equal(attemptsMade, 1, "not retried");
      const run = fake.checkRun(checkRunId);
      assert.equal(run?.conclusion, "failure");
      assert.match(JSON.stringify(run?.output), /Docker Engine answered 400/);
    } finally {
      await proxy.close();
    }
  });
});
