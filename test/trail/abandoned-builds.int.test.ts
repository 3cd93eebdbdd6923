import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { createWorkerConnection } from "../../src/queue/redis-connections.js";
import { LogStore } from "../../src/trail/log-store.js";
import { GitHubTrails } from "../../src/trail/github-trails.js";
import { InFlightBuilds, reconcileAbandonedBuilds } from "../../src/trail/in-flight-builds.js";
import type { InFlightBuild, JobStateLookup } from "../../src/trail/in-flight-builds.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { testStack } from "../support/stack/env.js";
import { buildJob, unique } from "../worker/worker-test-kit.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";

const stack = testStack();
const creds = createAppCredentials(4302);
const CHILD = fileURLToPath(new URL("./fixtures/hold-job-worker.ts", import.meta.url));
let fake: FakeGitHub;
let request: OctokitRequest;
let probot: Probot;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let queue: Queue<BuildJob>;

before(async () => {
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem });
  fake.addRepository({ installationId: 9, owner: "octo", name: "svc", id: 901 });
  probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, logLevel: "warn" });
  request = (await probot.auth(9)).request;
  redisCtx = await redisForTest("abandoned");
  queue = new Queue<BuildJob>(QueueName.Builds, { connection: redisCtx.connect(), prefix: redisCtx.prefix });
});

after(async () => {
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  await fake?.close();
  await redisCtx?.cleanup();
});

const jobState: JobStateLookup = async (buildId) => {
  const job = await queue.getJob(buildId);
  if (!job) return undefined;
  return { state: await job.getState(), ...(job.failedReason ? { failedReason: job.failedReason } : {}) };
};

test("a build whose worker was SIGKILLed and that BullMQ then fails as stalled gets its check run concluded", { timeout: 120_000 }, async () => {
  const sha = "c0ffee".padEnd(40, "0");
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "octo", repo: "svc", name: "buildkit-bot / app", head_sha: sha, status: "in_progress" });
  const checkRunId = (data as { id: number }).id;
  const job = buildJob({ buildId: `bld-stall-${unique()}`, installationId: 9, repoId: 901, owner: "octo", repo: "svc", private: true, cloneUrl: "http://127.0.0.1:1/octo/svc.git", sha, checkRunId });
  const inFlight = new InFlightBuilds(redisCtx.redis, redisCtx.prefix);
  const logs = new LogStore(redisCtx.redis, { prefix: `${redisCtx.prefix}:logs` });
  const budget = new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget`, pollMs: 20 });
  const handoff = new CheckRunHandoff(redisCtx.redis, redisCtx.prefix);
  await logs.open(job.buildId);
  await queue.add("app", job, { jobId: job.buildId, attempts: 1 });

  // A worker process takes the job (and would have registered it in flight), then dies without a word.
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
    env: { ...process.env, CHILD_REDIS_URL: stack.redisUrl, CHILD_PREFIX: redisCtx.prefix },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes(`active ${job.buildId}`) && resolve());
      child.once("exit", (code) => reject(new Error(`the worker exited early (${code})`)));
    });
    await inFlight.begin(job, undefined);
    assert.deepEqual(await reconcileAbandonedBuilds({ inFlight, jobState, conclude: async () => assert.fail("an active build is not abandoned") }), []);
  } finally {
    child.kill("SIGKILL");
  }

  // Another worker's stall checker finds the lock expired; with no stall allowed, BullMQ fails the job itself.
  const connection = createWorkerConnection(stack.redisUrl);
  const checker = new Worker(QueueName.Builds, async () => assert.fail("the stalled job must not run again"), {
    connection,
    prefix: redisCtx.prefix,
    lockDuration: 1_000,
    stalledInterval: 500,
    maxStalledCount: 0,
  });
  checker.on("error", () => {});
  try {
    const deadline = Date.now() + 60_000;
    while ((await jobState(job.buildId))?.state !== "failed") {
      assert.ok(Date.now() < deadline, "BullMQ failed the stalled job in time");
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await checker.close();
    await connection.quit();
  }
  assert.match((await jobState(job.buildId))?.failedReason ?? "", /stalled more than allowable limit/);

  const concluded = await reconcileAbandonedBuilds({
    inFlight,
    jobState,
    conclude: (entry, message) => new GitHubTrails({ github: probot, budget, logs, inFlight, handoff }).abandoned(entry, message),
  });

  assert.deepEqual(concluded, [job.buildId]);
  const run = fake.checkRun(checkRunId);
  assert.equal(run?.status, "completed");
  assert.equal(run?.conclusion, "failure");
  assert.match(run?.output.summary ?? "", /ended without reporting a result \(job stalled more than allowable limit\): its worker stopped/);
  assert.equal(fake.latestStatus("octo", "svc", sha, "buildkit-bot/app")?.state, "failure");
  assert.deepEqual(await inFlight.list(), [], "no longer in flight");
  assert.equal((await logs.read(job.buildId))?.done, true, "its log is closed");
  // A second pass has nothing left to do.
  assert.deepEqual(await reconcileAbandonedBuilds({ inFlight, jobState, conclude: async () => assert.fail("nothing to conclude") }), []);
});

test("a completed job left in flight is only forgotten; a job that is gone is concluded", { timeout: 60_000 }, async () => {
  const inFlight = new InFlightBuilds(redisCtx.redis, `${redisCtx.prefix}:two`);
  const sha = "beef".padEnd(40, "1");
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "octo", repo: "svc", name: "buildkit-bot / app", head_sha: sha, status: "completed", conclusion: "success" });
  const done = buildJob({ buildId: `bld-done-${unique()}`, installationId: 9, repoId: 901, owner: "octo", repo: "svc", private: true, cloneUrl: "http://127.0.0.1:1/o/s.git", sha, checkRunId: (data as { id: number }).id });
  const gone = buildJob({ ...done, buildId: `bld-gone-${unique()}`, installationId: 9, repoId: 901, owner: "octo", repo: "svc", private: true, cloneUrl: "http://127.0.0.1:1/o/s.git", sha, checkRunId: (data as { id: number }).id });
  await queue.add("app", done, { jobId: done.buildId });
  const connection = createWorkerConnection(stack.redisUrl);
  const w = new Worker(QueueName.Builds, async () => ({ pushedTags: [], durationMs: 0, summary: "ok" }), { connection, prefix: redisCtx.prefix });
  w.on("error", () => {});
  try {
    const deadline = Date.now() + 30_000;
    while ((await jobState(done.buildId))?.state !== "completed") {
      assert.ok(Date.now() < deadline, "the job completed");
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await w.close();
    await connection.quit();
  }
  await inFlight.begin(done, undefined);
  await inFlight.begin(gone, undefined);
  const writesBefore = fake.writes.total;
  const logs = new LogStore(redisCtx.redis, { prefix: `${redisCtx.prefix}:logs` });
  const budget = new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget`, pollMs: 20 });
  const handoff = new CheckRunHandoff(redisCtx.redis, redisCtx.prefix);

  const concluded = await reconcileAbandonedBuilds({ inFlight, jobState, conclude: (entry, message) => new GitHubTrails({ github: probot, budget, logs, inFlight, handoff }).abandoned(entry, message) });

  assert.deepEqual(concluded, [gone.buildId]);
  assert.equal(fake.writes.total, writesBefore, "an already completed check run is not written again");
  assert.deepEqual(await inFlight.list(), []);
});

test("builds that started before their check run was handed over: concluded through the handoff, or left alone when withdrawn", { timeout: 60_000 }, async () => {
  const inFlight = new InFlightBuilds(redisCtx.redis, `${redisCtx.prefix}:three`);
  const handoff = new CheckRunHandoff(redisCtx.redis, redisCtx.prefix);
  const logs = new LogStore(redisCtx.redis, { prefix: `${redisCtx.prefix}:logs` });
  const budget = new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget`, pollMs: 20 });
  const sha = "feed".padEnd(40, "2");
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "octo", repo: "svc", name: "buildkit-bot / app", head_sha: sha, status: "in_progress" });
  const checkRunId = (data as { id: number }).id;
  const fields = { installationId: 9, repoId: 902, owner: "octo", repo: "svc", private: true, cloneUrl: "http://127.0.0.1:1/o/l.git", sha };
  const handed = buildJob({ ...fields, buildId: `bld-handed-${unique()}` });
  const withdrawn = buildJob({ ...fields, buildId: `bld-withdrawn-${unique()}` });
  const pending = buildJob({ ...fields, buildId: `bld-pending-${unique()}` });
  for (const job of [handed, withdrawn, pending]) {
    await logs.open(job.buildId);
    await inFlight.begin(job, undefined);
  }
  await handoff.give(handed.buildId, checkRunId);
  await handoff.withdraw(withdrawn.buildId);
  const conclude = (entry: InFlightBuild, message: string): Promise<void> => new GitHubTrails({ github: probot, budget, logs, inFlight, handoff }).abandoned(entry, message);

  // None of the three jobs exists in the queue: all count as gone.
  const concluded = await reconcileAbandonedBuilds({ inFlight, jobState, conclude });

  assert.deepEqual(concluded.sort(), [handed.buildId, withdrawn.buildId].sort());
  assert.equal(fake.checkRun(checkRunId)?.conclusion, "failure", "the handed-over run is concluded");
  const statuses = fake.calls.filter((c) => c.method === "POST" && c.path === `/repos/octo/svc/statuses/${sha}`);
  assert.equal(statuses.length, 1, "one failure status, from the handed-over build: the withdrawn one writes nothing");
  assert.equal((await logs.read(withdrawn.buildId))?.done, true, "the withdrawn build's log is closed");
  assert.deepEqual((await inFlight.list()).map((e) => e.buildId), [pending.buildId], "a run still being created is waited for");

  // Once the planner hands it over, the next pass concludes it.
  const second = (await request("POST /repos/{owner}/{repo}/check-runs", { owner: "octo", repo: "svc", name: "buildkit-bot / app", head_sha: sha, status: "queued" })).data as { id: number };
  await handoff.give(pending.buildId, second.id);
  assert.deepEqual(await reconcileAbandonedBuilds({ inFlight, jobState, conclude }), [pending.buildId]);
  assert.equal(fake.checkRun(second.id)?.conclusion, "failure");
});
