import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { BuildQueue } from "../../src/queue/build-queue.js";
import { createBuildWorker } from "../../src/queue/build-worker.js";
import type { BuildWorker } from "../../src/queue/build-worker.js";
import type { BuildOutcome } from "../../src/queue/build-outcome.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { createProducerConnection, createWorkerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { buildInput, dropPrefix, eventually, freshPrefix, RecordingListener, redisUrl } from "./queue-test-kit.js";
import { jobInState } from "../support/settled-job.js";

const FAST = { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 };
const WHY = "the merge group was dequeued";
const outcome = (job: BuildJob): BuildOutcome => ({ pushedTags: job.image.tags, durationMs: 1, summary: "built" });

// A destroyed merge group's builds end the way superseded ones do, with GitHub's reason instead of a newer commit.
describe("cancelUnder (a destroyed merge group)", () => {
  let producer: Redis;
  let workerConnection: Redis;
  let prefix: string;
  let queue: BuildQueue;
  let listener: RecordingListener;
  let worker: BuildWorker | undefined;
  const started = new Map<string, AbortSignal>();

  before(async () => {
    producer = await whenReady(createProducerConnection(redisUrl()));
    workerConnection = createWorkerConnection(redisUrl());
    prefix = freshPrefix();
    listener = new RecordingListener();
    queue = new BuildQueue({ connection: producer, prefix, supersedeListener: listener, retry: FAST });
  });
  after(async () => {
    await worker?.close(10_000);
    await queue.close();
    await dropPrefix(producer, prefix);
    await producer.quit();
    await workerConnection.quit();
  });

  it("removes the queued builds under the key and reports them with the reason; other keys are untouched", async () => {
    const key = "22/branch/gh-readonly-queue/main/pr-7-" + "f".repeat(40);
    const queued = await queue.enqueueBuild(buildInput({ supersedeKey: key }));
    const sibling = await queue.enqueueBuild(buildInput({ supersedeKey: key, sha: queued.sha, image: "web" }));
    const other = await queue.enqueueBuild(buildInput({ supersedeKey: "22/branch/main" }));

    const results = await queue.cancelUnder(key, WHY);
    assert.deepEqual(results.map((r) => [r.buildId, r.action]).sort(), [[queued.buildId, "removed"], [sibling.buildId, "removed"]].sort());
    assert.equal(await queue.queue.getJob(queued.buildId), undefined);
    assert.equal(await queue.queue.getJob(sibling.buildId), undefined);
    assert.equal(await (await queue.queue.getJob(other.buildId))?.getState(), "delayed");
    assert.deepEqual(listener.calls.map((c) => [c.build.buildId, c.by.note]).sort(), [[queued.buildId, WHY], [sibling.buildId, WHY]].sort());
    assert.deepEqual(await queue.cancelUnder(key, WHY), [], "nothing is left under the key");
  });

  it("aborts a running build, which fails with the reason and is reported once", async () => {
    listener.calls.length = 0;
    worker = await createBuildWorker({
      connection: workerConnection,
      prefix,
      concurrency: 2,
      supersedeListener: listener,
      retry: FAST,
      cancelGraceMs: 10_000,
      processor: async (job, signal) => {
        started.set(job.buildId, signal);
        if (job.image.name !== "slow") return outcome(job);
        await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("solve aborted")), { once: true }));
        throw new Error("unreachable");
      },
    });
    const key = "22/branch/gh-readonly-queue/main/pr-8-" + "e".repeat(40);
    const running = await queue.enqueueBuild(buildInput({ supersedeKey: key, image: "slow" }));
    const signal = await eventually(async () => started.get(running.buildId), "the slow build to start");

    const results = await queue.cancelUnder(key, WHY);
    assert.deepEqual(results, [{ buildId: running.buildId, action: "cancel-sent" }]);
    await eventually(async () => (signal.aborted ? true : undefined), "the running build's signal to fire");
    const job = await eventually(async () => jobInState(queue.queue, running.buildId, ["failed"]), "the cancelled job to fail");
    assert.equal(job.failedReason, WHY);
    assert.equal(job.attemptsMade, 1);
    await listener.waitFor(1);
    assert.equal(listener.calls[0]?.build.buildId, running.buildId);
    assert.equal(listener.calls[0]?.by.note, WHY);
  });
});
