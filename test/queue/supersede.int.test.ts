import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { BuildQueue } from "../../src/queue/build-queue.js";
import { createBuildWorker } from "../../src/queue/build-worker.js";
import type { BuildWorker } from "../../src/queue/build-worker.js";
import type { BuildOutcome } from "../../src/queue/build-outcome.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { createProducerConnection, createWorkerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { SupersedeRegistry } from "../../src/queue/supersede-registry.js";
import { supersededMessage } from "../../src/queue/supersede-listener.js";
import { buildInput, dropPrefix, eventually, freshPrefix, RecordingListener, redisUrl } from "./queue-test-kit.js";
import { jobInState } from "../support/settled-job.js";

const FAST = { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 };
const outcome = (job: BuildJob): BuildOutcome => ({ pushedTags: job.image.tags, durationMs: 1, summary: "built" });

describe("supersede of queued builds", () => {
  let producer: Redis;
  let prefix: string;
  let queue: BuildQueue;
  let listener: RecordingListener;

  before(async () => {
    producer = await whenReady(createProducerConnection(redisUrl()));
    prefix = freshPrefix();
    listener = new RecordingListener();
    queue = new BuildQueue({ connection: producer, prefix, supersedeListener: listener, retry: FAST });
  });
  after(async () => {
    await queue.close();
    await dropPrefix(producer, prefix);
    await producer.quit();
  });

  // No worker runs here: a queued build stays parked ("delayed") until a turn lets it through (fair-share.ts).
  it("removes the older queued build of the branch and reports it", async () => {
    const older = await queue.enqueueBuild(buildInput());
    const sibling = await queue.enqueueBuild(buildInput({ sha: older.sha, image: "web" }));
    assert.equal(await (await queue.queue.getJob(older.buildId))?.getState(), "delayed");
    assert.equal(listener.calls.length, 0, "another image of the same commit supersedes nothing");

    const newer = await queue.enqueueBuild(buildInput());
    assert.equal(await queue.queue.getJob(older.buildId), undefined, "older build removed");
    assert.equal(await queue.queue.getJob(sibling.buildId), undefined, "its sibling image too");
    assert.equal(await (await queue.queue.getJob(newer.buildId))?.getState(), "delayed");
    assert.deepEqual(
      listener.calls.map((c) => [c.build.buildId, c.by.sha, c.by.buildId]).sort(),
      [
        [older.buildId, newer.sha, newer.buildId],
        [sibling.buildId, newer.sha, newer.buildId],
      ].sort(),
    );
    assert.equal(supersededMessage(newer.sha), `superseded by ${newer.sha.slice(0, 7)}`);
  });

  it("a push planned after a newer push of the same branch (events planned out of turn) is superseded at once and supersedes nothing", async () => {
    listener.calls.length = 0;
    const key = "22/branch/late";
    const newer = await queue.enqueueBuild(buildInput({ supersedeKey: key, eventReceivedAt: "2026-12-03T12:00:02.000Z" }));
    const late = await queue.enqueueBuild(buildInput({ supersedeKey: key, eventReceivedAt: "2026-12-03T12:00:01.000Z" }));
    assert.equal(await (await queue.queue.getJob(newer.buildId))?.getState(), "delayed", "the newer commit's build stays queued");
    assert.equal(await queue.queue.getJob(late.buildId), undefined, "the older commit's build is never queued");
    assert.deepEqual(listener.calls.map((c) => [c.build.buildId, c.by.sha, c.by.buildId]), [[late.buildId, newer.sha, newer.buildId]]);

    // A rerun of an old commit does not make a later push stale, and a later push still supersedes the newer one.
    const rerun = await queue.enqueueBuild(buildInput({ supersedeKey: key, sha: "d".repeat(40), reason: "rebuild", eventReceivedAt: "2026-12-03T12:00:09.000Z" }));
    const latest = await queue.enqueueBuild(buildInput({ supersedeKey: key, eventReceivedAt: "2026-12-03T12:00:03.000Z" }));
    assert.equal(await (await queue.queue.getJob(latest.buildId))?.getState(), "delayed");
    assert.equal(await queue.queue.getJob(newer.buildId), undefined, "superseded by the latest push");
    assert.deepEqual(
      listener.calls.slice(1).map((c) => c.build.buildId).sort(),
      [newer.buildId, rerun.buildId].sort(),
    );
  });

  it("never supersedes across branches, for tags, or by a rerun of an older commit", async () => {
    listener.calls.length = 0;
    const main = await queue.enqueueBuild(buildInput({ supersedeKey: "22/branch/other" }));
    const pr = await queue.enqueueBuild(buildInput({ supersedeKey: "22/pull/7", reason: "pull_request" }));
    const tag1 = await queue.enqueueBuild(buildInput({ supersedeKey: "", ref: "refs/tags/v1" }));
    const tag2 = await queue.enqueueBuild(buildInput({ supersedeKey: "", ref: "refs/tags/v2" }));
    const oldSha = "d".repeat(40);
    const current = await queue.enqueueBuild(buildInput({ supersedeKey: "22/branch/rr" }));
    const rerun = await queue.enqueueBuild(buildInput({ supersedeKey: "22/branch/rr", sha: oldSha, reason: "rebuild" }));
    for (const b of [main, pr, tag1, tag2, current, rerun]) {
      assert.equal(await (await queue.queue.getJob(b.buildId))?.getState(), "delayed", b.buildId);
    }
    assert.equal(listener.calls.length, 0);
  });

  it("withdraws a queued build: removed, not reported as superseded, and no longer superseded by the next one", async () => {
    listener.calls.length = 0;
    const withdrawn = await queue.enqueueBuild(buildInput({ supersedeKey: "22/branch/wd" }));
    await queue.withdrawBuild(withdrawn.buildId, "its check run could not be created");
    assert.equal(await queue.queue.getJob(withdrawn.buildId), undefined);
    const next = await queue.enqueueBuild(buildInput({ supersedeKey: "22/branch/wd" }));
    assert.equal(await (await queue.queue.getJob(next.buildId))?.getState(), "delayed");
    assert.equal(listener.calls.length, 0);
    await queue.withdrawBuild("bld-that-never-was", "nothing");
  });

  it("gives a rerun of the same build a new attempt and job id", async () => {
    const first = await queue.enqueueBuild(buildInput({ supersedeKey: "", sha: "e".repeat(40) }));
    const again = await queue.enqueueBuild(buildInput({ supersedeKey: "", sha: "e".repeat(40), reason: "rebuild" }));
    assert.equal(again.attempt, first.attempt + 1);
    assert.notEqual(again.buildId, first.buildId);
    assert.ok(again.buildId.endsWith(`-a${again.attempt}`));
  });
});

describe("supersede of a running build (same process)", () => {
  let producer: Redis;
  let workerConnection: Redis;
  let prefix: string;
  let queue: BuildQueue;
  let listener: RecordingListener;
  let worker: BuildWorker;
  const started = new Map<string, AbortSignal>();
  const calls = new Map<string, number>();

  before(async () => {
    producer = await whenReady(createProducerConnection(redisUrl()));
    workerConnection = createWorkerConnection(redisUrl());
    prefix = freshPrefix();
    listener = new RecordingListener();
    queue = new BuildQueue({ connection: producer, prefix, supersedeListener: listener, retry: FAST });
    worker = await createBuildWorker({
      connection: workerConnection,
      prefix,
      concurrency: 2,
      supersedeListener: listener,
      retry: FAST,
      cancelGraceMs: 10_000,
      processor: async (job, signal) => {
        calls.set(job.buildId, (calls.get(job.buildId) ?? 0) + 1);
        started.set(job.buildId, signal);
        if (job.image.name !== "slow") return outcome(job);
        // A build that runs until it is told to stop, like a long solve.
        await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("solve aborted")), { once: true }));
        throw new Error("unreachable");
      },
    });
  });
  after(async () => {
    await worker.close(10_000);
    await queue.close();
    await dropPrefix(producer, prefix);
    await producer.quit();
    await workerConnection.quit();
  });

  it("aborts the processor through its signal and fails the job without retry", async () => {
    const running = await queue.enqueueBuild(buildInput({ image: "slow" }));
    const signal = await eventually(async () => started.get(running.buildId), "the slow build to start");
    assert.equal(signal.aborted, false);

    const newer = await queue.enqueueBuild(buildInput({ image: "slow", supersedeKey: running.supersedeKey }));
    await eventually(async () => (signal.aborted ? true : undefined), "the running build's signal to fire");

    const job = await eventually(async () => {
      return jobInState(queue.queue, running.buildId, ["failed"]);
    }, "the superseded job to fail");
    assert.equal(job.failedReason, supersededMessage(newer.sha));
    assert.equal(job.attemptsMade, 1);
    assert.equal(calls.get(running.buildId), 1, "not run again");
    await listener.waitFor(1);
    assert.equal(listener.calls[0]?.build.buildId, running.buildId);
    assert.equal(listener.calls[0]?.by.sha, newer.sha);

    // A withdrawn running build stops the same way, failing with the planner's note and no supersede report.
    await eventually(async () => started.get(newer.buildId), "the newer slow build to start");
    await queue.withdrawBuild(newer.buildId, "its check run could not be created");
    const withdrawn = await eventually(async () => jobInState(queue.queue, newer.buildId, ["failed"]), "the withdrawn build to fail");
    assert.equal(withdrawn.failedReason, "cancelled: its check run could not be created");
    assert.equal(withdrawn.attemptsMade, 1);
    assert.equal(listener.calls.length, 1, "a withdrawal is not a supersede");

    // Let the newer slow build go too, so the worker can close.
    await queue.enqueueBuild(buildInput({ image: "fast", supersedeKey: running.supersedeKey }));
  });
});

describe("supersede racing a worker's pickup", () => {
  it("a build superseded before its worker started it fails at start and is reported", async () => {
    const producer = await whenReady(createProducerConnection(redisUrl()));
    const workerConnection = createWorkerConnection(redisUrl());
    const prefix = freshPrefix();
    const listener = new RecordingListener();
    const queue = new BuildQueue({ connection: producer, prefix, supersedeListener: listener, retry: FAST });
    let worker: BuildWorker | undefined;
    const ran: string[] = [];
    try {
      const queued = await queue.enqueueBuild(buildInput());
      // The supersede step registered a newer build, but the queued job was not removed in time
      // (a worker took it between the state check and the removal): only the marker is left.
      const newerSha = "f".repeat(40);
      await new SupersedeRegistry(producer, prefix).register(queued.supersedeKey, "bld-newer", newerSha, true, Date.now());

      worker = await createBuildWorker({
        connection: workerConnection,
        prefix,
        concurrency: 1,
        supersedeListener: listener,
        retry: FAST,
        processor: async (job) => {
          ran.push(job.buildId);
          return outcome(job);
        },
      });
      const job = await eventually(async () => {
        return jobInState(queue.queue, queued.buildId, ["failed"]);
      }, "the superseded job to fail at start");
      assert.equal(job.failedReason, supersededMessage(newerSha));
      assert.equal(job.attemptsMade, 1);
      assert.deepEqual(ran, [], "the processor never ran");
      await listener.waitFor(1);
      assert.deepEqual(listener.calls[0]?.by, { sha: newerSha, buildId: "bld-newer" });
    } finally {
      await worker?.close(10_000);
      await queue.close();
      await dropPrefix(producer, prefix);
      await producer.quit();
      await workerConnection.quit();
    }
  });
});

describe("a processor that ignores its AbortSignal", () => {
  it("is abandoned after the grace period and its job still fails as superseded", async () => {
    const producer = await whenReady(createProducerConnection(redisUrl()));
    const workerConnection = createWorkerConnection(redisUrl());
    const prefix = freshPrefix();
    const listener = new RecordingListener();
    const queue = new BuildQueue({ connection: producer, prefix, supersedeListener: listener, retry: FAST });
    const started: string[] = [];
    let worker: BuildWorker | undefined;
    try {
      worker = await createBuildWorker({
        connection: workerConnection,
        prefix,
        concurrency: 2,
        supersedeListener: listener,
        retry: FAST,
        cancelGraceMs: 300,
        processor: async (job) => {
          started.push(job.buildId);
          if (job.image.name === "stubborn") await new Promise((resolve) => setTimeout(resolve, 20_000).unref());
          return outcome(job);
        },
      });
      const stubborn = await queue.enqueueBuild(buildInput({ image: "stubborn" }));
      await eventually(async () => (started.includes(stubborn.buildId) ? true : undefined), "the stubborn build to start");
      const newer = await queue.enqueueBuild(buildInput({ image: "quick", supersedeKey: stubborn.supersedeKey }));
      const job = await eventually(async () => {
        return jobInState(queue.queue, stubborn.buildId, ["failed"]);
      }, "the stubborn job to be failed");
      assert.equal(job.failedReason, supersededMessage(newer.sha));
      assert.equal(job.attemptsMade, 1);
      await listener.waitFor(1);
    } finally {
      await worker?.close(10_000);
      await queue.close();
      await dropPrefix(producer, prefix);
      await producer.quit();
      await workerConnection.quit();
    }
  });
});
