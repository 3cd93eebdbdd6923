import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import { BuilderPool, parseBuildersFile } from "../../src/builders/index.js";
import type { BuilderCandidate, BuilderChoice, BuildersConfig } from "../../src/builders/index.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { BuildQueue } from "../../src/queue/build-queue.js";
import { createBuildWorker } from "../../src/queue/build-worker.js";
import type { BuildWorker } from "../../src/queue/build-worker.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { createWorkerConnection } from "../../src/queue/redis-connections.js";
import { GitHubTrails } from "../../src/trail/github-trails.js";
import { InFlightBuilds } from "../../src/trail/in-flight-builds.js";
import { LogStore } from "../../src/trail/log-store.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { eventually } from "../queue/queue-test-kit.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import { NO_BUILDKITD_HINT } from "../support/stack/buildkitd-binary.js";
import { testStack } from "../support/stack/env.js";
import { buildJob, captureLog, unique } from "../worker/worker-test-kit.js";

/**
 * Issue 17, review of the fair share: a build whose builders are all full gives its worker slot back (back to its
 * installation's list, no attempt spent) instead of holding it while it waits, so another installation's build that
 * fits another builder runs meanwhile; it runs once its builder frees. The look that finds room takes the slot, so
 * of two processes that look at once only one goes on: the other waits parked, not polling in its worker slot. Real
 * Redis, buildkitd and the Engine, the real queue, worker and build processor, and the fake GitHub.
 */
const stack = testStack();
const A = 81;
const B = 82;
const C = 83;
const creds = createAppCredentials(4303);
const captured = captureLog();

let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let probot: Probot;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;

/** Installations A's and C's builds go to "x" only, B's to "y" only; a full builder answers busy. */
const byInstallation = (key: string, _required: readonly string[], candidates: readonly BuilderCandidate[]): BuilderChoice => {
  const name = key.startsWith(`${A}/`) || key.startsWith(`${C}/`) ? "x" : "y";
  const c = candidates.find((b) => b.name === name && b.available && !b.draining);
  if (!c) return { kind: "unservable", platforms: [] };
  return c.maxConcurrent !== undefined && c.running >= c.maxConcurrent ? { kind: "busy" } : { kind: "chosen", name };
};

function poolFile(): BuildersConfig {
  return parseBuildersFile(
    ["builders:", "  - name: x", `    address: ${stack.buildkitdAddr}`, "    max_concurrent_builds: 1", "  - name: y", `    address: ${stack.buildkitAddr}`].join("\n"),
    "/test/builders.yml",
  );
}

before(async () => {
  git = await startGitServer();
  fake = await startFakeGitHub<GitRepo>({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(A, "owner-a");
  fake.addInstallation(B, "owner-b");
  fake.addInstallation(C, "owner-c");
  probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, log: captured.logger });
  redisCtx = await redisForTest("builder-wait");
});

after(async () => {
  await fake?.close();
  await git?.close();
  await redisCtx?.cleanup();
});

async function newBuild(installationId: number, owner: string, dockerfile = "FROM scratch\nCOPY hello.txt /hello.txt\n"): Promise<{ input: BuildJob; checkRunId: number }> {
  const name = `wait-${unique()}`;
  const request: OctokitRequest = (await probot.auth(installationId)).request;
  const repo = await fake.createRepo(installationId, owner, name, { private: true });
  const sha = await repo.commit({ Dockerfile: dockerfile, "hello.txt": `${name}\n` });
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  const checkRunId = (data as { id: number }).id;
  return { input: buildJob({ installationId, repoId: repo.id, owner, repo: name, private: true, cloneUrl: repo.remote, sha, checkRunId }), checkRunId };
}

/** The real queue, trails and build processor on `pool`, under `prefix`. */
function world(prefix: string, pool: BuilderPool) {
  const { redis } = redisCtx;
  const queue = new BuildQueue({ connection: redis, prefix, supersedeListener: { superseded: async () => undefined } });
  const logs = new LogStore(redis, { prefix: `${prefix}:logs` });
  const trails = new GitHubTrails({
    github: probot,
    budget: new WriteBudget(redis, { prefix: `${prefix}:budget`, pollMs: 20 }),
    logs,
    inFlight: new InFlightBuilds(redis, prefix),
    handoff: new CheckRunHandoff(redis, prefix),
    log: captured.logger,
    progressIntervalMs: 1_000,
  });
  const processor = createBuildProcessor({
    github: probot,
    trails,
    builders: pool,
    registry: { prefix: `${stack.registry}/wait-test`, host: stack.registry },
    log: captured.logger,
    connectTimeoutMs: 3_000,
    attemptsOf: async (buildId) => {
      const job = await queue.queue.getJob(buildId);
      return job ? { attemptsMade: job.attemptsMade, attempts: job.opts.attempts ?? 1 } : undefined;
    },
  });
  return { queue, logs, trails, processor };
}

describe("a build whose builders are all full", { skip: stack.buildkitdBinary ? false : NO_BUILDKITD_HINT, timeout: 300_000 }, () => {
  test("gives its worker slot back, lets another installation's build run on another builder, and runs when its builder frees", { timeout: 240_000 }, async () => {
    const { redis, prefix } = redisCtx;
    const pool = new BuilderPool({ config: poolFile(), redis, prefix, choose: byInstallation, connectTimeoutMs: 3_000, busyPollMs: 50 });
    // Another worker process holds x's only slot.
    const elsewhere = new BuilderPool({ config: poolFile(), redis, prefix, choose: byInstallation, connectTimeoutMs: 3_000 });
    await Promise.all([pool.probe(), elsewhere.probe()]);
    const outside = await elsewhere.acquire({ buildId: "bld-elsewhere", key: `${A}/0/app`, platforms: [] });
    assert.equal(outside.name, "x");

    const { queue, logs, trails, processor } = world(prefix, pool);
    const connection = createWorkerConnection(stack.redisUrl);
    // One worker slot: held by a waiting build, nothing else could run.
    let worker: BuildWorker | undefined;
    try {
      worker = await createBuildWorker({ connection, prefix, concurrency: 1, processor, supersedeListener: trails, leaseTtlMs: 6_000 });
      const a = await newBuild(A, "owner-a");
      const b = await newBuild(B, "owner-b");
      const queuedA = await queue.enqueueBuild(a.input);

      // A's build found x full: it waits parked, listed for a builder, no attempt spent, its check run untouched.
      const snapshot = await eventually(async () => {
        const s = await queue.fairShareSnapshot();
        return s.installations.find((i) => i.installationId === A)?.waitingForBuilder.includes(queuedA.buildId) ? s : undefined;
      }, "A's build to wait for a builder");
      assert.deepEqual(snapshot.installations.find((i) => i.installationId === A)?.running, [], "it gave its slot back");
      // The operations side reads running per builder in the same snapshot: x's one slot, held by the other process.
      assert.deepEqual(snapshot.byBuilder, { x: 1 });
      const parked = await queue.queue.getJob(queuedA.buildId);
      assert.equal(parked?.attemptsMade, 0);
      assert.equal(fake.checkRun(a.checkRunId)?.status, "queued");

      // B's build fits y: it runs in the worker slot A's build left, while x is still full.
      const queuedB = await queue.enqueueBuild(b.input);
      await eventually(async () => ((await queue.queue.getJobState(queuedB.buildId)) === "completed" ? true : undefined), "B's build to complete while x is full", 120_000);
      assert.equal(fake.checkRun(b.checkRunId)?.conclusion, "success");
      assert.notEqual(await queue.queue.getJobState(queuedA.buildId), "completed", "A's build still waits for x");

      // x frees: A's build runs there, in one attempt.
      await outside.release();
      await eventually(async () => ((await queue.queue.getJobState(queuedA.buildId)) === "completed" ? true : undefined), "A's build to complete once x frees", 120_000);
      const run = fake.checkRun(a.checkRunId);
      assert.equal(run?.conclusion, "success");
      assert.ok(!/attempts/.test(run?.output.title ?? ""), `one attempt: ${run?.output.title}`);
      const log = JSON.stringify((await logs.read(queuedA.buildId))?.entries ?? []);
      assert.match(log, /builder: x/);
      const end = await queue.fairShareSnapshot();
      assert.ok(end.installations.every((i) => i.running.length === 0 && i.waitingForBuilder.length === 0), JSON.stringify(end));
      assert.deepEqual(end.byBuilder, {});
      assert.equal((await pool.snapshot()).reduce((n, s) => n + s.running, 0), 0, "every builder slot was given back");
    } finally {
      await outside.release();
      await worker?.close(10_000);
      await queue.close();
      await connection.quit();
    }
  });

  test("builds waiting for the same full builder each run as it frees, one after another, with no sweep to wake them", { timeout: 240_000 }, async () => {
    const prefix = `${redisCtx.prefix}:serial`;
    const pool = new BuilderPool({ config: poolFile(), redis: redisCtx.redis, prefix, choose: byInstallation, connectTimeoutMs: 3_000, busyPollMs: 50 });
    await pool.probe();
    const { queue, processor, trails } = world(prefix, pool);
    const connection = createWorkerConnection(stack.redisUrl);
    let worker: BuildWorker | undefined;
    try {
      // Leases of 10 minutes: the upkeep never runs during the test, so only the ends of builds let the waiting ones through.
      worker = await createBuildWorker({ connection, prefix, concurrency: 2, processor, supersedeListener: trails, leaseTtlMs: 600_000 });
      // C's build holds x while A's three are let through: each finds x full and waits for it.
      const c = await newBuild(C, "owner-c", `FROM ${stack.baseImage}\nRUN echo ${unique()} && sleep 8\nCOPY hello.txt /hello.txt\n`);
      const queuedC = await queue.enqueueBuild(c.input);
      await eventually(async () => ((await pool.snapshot()).find((b) => b.name === "x")?.running === 1 ? true : undefined), "C's build to hold x");
      const builds = [await newBuild(A, "owner-a"), await newBuild(A, "owner-a"), await newBuild(A, "owner-a")];
      const queued: BuildJob[] = [];
      for (const b of builds) queued.push(await queue.enqueueBuild(b.input));
      await eventually(async () => {
        const share = (await queue.fairShareSnapshot()).installations.find((i) => i.installationId === A);
        return share?.waitingForBuilder.length === 3 ? true : undefined;
      }, "A's three builds to wait for x");
      assert.notEqual(await queue.queue.getJobState(queuedC.buildId), "completed", "C's build still runs: its end is what frees x");
      for (const [i, q] of queued.entries()) {
        await eventually(async () => ((await queue.queue.getJobState(q.buildId)) === "completed" ? true : undefined), `build ${i + 1} of 3 on x to complete`, 120_000);
        const run = fake.checkRun(builds[i]!.checkRunId);
        assert.equal(run?.conclusion, "success");
        assert.ok(!/attempts/.test(run?.output.title ?? ""), `one attempt: ${run?.output.title}`);
      }
      assert.equal((await pool.snapshot()).find((b) => b.name === "x")?.running, 0);
    } finally {
      await worker?.close(10_000);
      await queue.close();
      await connection.quit();
    }
  });

  test("two processes that see a builder's last slot free at once: one takes it, the other is told to wait instead of polling in its worker slot", async () => {
    const prefix = `${redisCtx.prefix}:race`;
    const { redis } = redisCtx;
    const one = new BuilderPool({ config: poolFile(), redis, prefix, choose: byInstallation, connectTimeoutMs: 3_000, busyPollMs: 60_000 });
    const two = new BuilderPool({ config: poolFile(), redis, prefix, choose: byInstallation, connectTimeoutMs: 3_000, busyPollMs: 60_000 });
    try {
      await Promise.all([one.probe(), two.probe()]);
      const first = { buildId: `bld-${A}-race-1`, key: `${A}/1/app`, platforms: [] };
      const second = { buildId: `bld-${A}-race-2`, key: `${A}/2/app`, platforms: [] };
      // x has one slot and both look in the same instant: the look takes the slot it finds, so only one goes on.
      const waits = await Promise.all([one.mustWait(first), two.mustWait(second)]);
      assert.equal(waits.filter((w) => w === undefined).length, 1, `one goes on: ${JSON.stringify(waits)}`);
      assert.match(waits.find((w) => w !== undefined) ?? "", /every builder that may take it is running its max_concurrent_builds/);
      const [winner, request] = waits[0] === undefined ? [one, first] : [two, second];
      assert.equal((await one.snapshot()).find((b) => b.name === "x")?.running, 1, "the winner's look holds x's slot");

      // The winner's acquire adopts that slot at once (a poll of a minute would time the test out), still one slot.
      const lease = await winner.acquire(request, AbortSignal.timeout(20_000));
      assert.equal(lease.name, "x");
      assert.equal((await one.snapshot()).find((b) => b.name === "x")?.running, 1);
      await lease.release();
      assert.equal((await one.snapshot()).find((b) => b.name === "x")?.running, 0);

      // A build that looked, took the slot and then went no further (refused, reused…) gives it back.
      assert.equal(await two.mustWait(second), undefined);
      assert.equal((await one.snapshot()).find((b) => b.name === "x")?.running, 1);
      await two.unreserve(second.buildId);
      assert.equal((await one.snapshot()).find((b) => b.name === "x")?.running, 0);
      assert.equal(await one.mustWait(first), undefined, "x is free again for the next look");
      await one.unreserve(first.buildId);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
