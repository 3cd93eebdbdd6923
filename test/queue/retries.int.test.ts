import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { StepFailedError } from "../../src/buildkit/errors.js";
import { BuildQueue } from "../../src/queue/build-queue.js";
import { createBuildWorker } from "../../src/queue/build-worker.js";
import type { BuildWorker } from "../../src/queue/build-worker.js";
import { EventQueue } from "../../src/queue/event-queue.js";
import { createEventWorker } from "../../src/queue/event-worker.js";
import type { EventWorker } from "../../src/queue/event-worker.js";
import type { EventJob } from "../../src/queue/job-types.js";
import { TransientError } from "../../src/errors/index.js";
import { createProducerConnection, createWorkerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { buildInput, dropPrefix, eventually, freshPrefix, RecordingListener, redisUrl } from "./queue-test-kit.js";
import { jobInState } from "../support/settled-job.js";

const FAST = { attempts: 4, baseDelayMs: 100, maxDelayMs: 400 };

describe("build retries", () => {
  let producer: Redis;
  let workerConnection: Redis;
  let prefix: string;
  let queue: BuildQueue;
  let worker: BuildWorker;
  const attemptTimes = new Map<string, number[]>();

  before(async () => {
    producer = await whenReady(createProducerConnection(redisUrl()));
    workerConnection = createWorkerConnection(redisUrl());
    prefix = freshPrefix();
    const listener = new RecordingListener();
    queue = new BuildQueue({ connection: producer, prefix, supersedeListener: listener, retry: FAST });
    worker = await createBuildWorker({
      connection: workerConnection,
      prefix,
      concurrency: 2,
      supersedeListener: listener,
      retry: FAST,
      processor: async (job) => {
        const times = attemptTimes.get(job.buildId) ?? [];
        times.push(Date.now());
        attemptTimes.set(job.buildId, times);
        if (job.image.name === "flaky" && times.length < 3) throw new TransientError("registry answered 503");
        if (job.image.name === "broken") throw new StepFailedError("RUN make failed with exit code 2", "RUN make", 2, ["make: *** [all] Error 2"]);
        return { pushedTags: job.image.tags, durationMs: 1, summary: "built" };
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

  const settled = (id: string) =>
    eventually(async () => {
      return jobInState(queue.queue, id, ["completed", "failed"]);
    }, `job ${id} to settle`);

  it("retries a transient failure with backoff until it succeeds", async () => {
    const b = await queue.enqueueBuild(buildInput({ image: "flaky", supersedeKey: "" }));
    const job = await settled(b.buildId);
    assert.equal(await job.getState(), "completed");
    assert.equal(job.attemptsMade, 3, "two failed attempts, then success");
    assert.deepEqual(job.returnvalue, { pushedTags: b.image.tags, durationMs: 1, summary: "built" });
    const times = attemptTimes.get(b.buildId) ?? [];
    assert.equal(times.length, 3);
    // Backoff delays are at least half the exponential ceiling: 100·2^0/2 and 100·2^1/2.
    assert.ok(times[1]! - times[0]! >= 50, `first retry waited ${times[1]! - times[0]!} ms`);
    assert.ok(times[2]! - times[1]! >= 100, `second retry waited ${times[2]! - times[1]!} ms`);
  });

  it("never retries a failed build step", async () => {
    const b = await queue.enqueueBuild(buildInput({ image: "broken", supersedeKey: "" }));
    const job = await settled(b.buildId);
    assert.equal(await job.getState(), "failed");
    assert.equal(job.attemptsMade, 1);
    assert.match(job.failedReason, /StepFailedError: RUN make failed with exit code 2/);
    assert.equal(attemptTimes.get(b.buildId)?.length, 1);
  });
});

describe("event worker", () => {
  it("runs the planner function per event job, retrying only transient failures", async () => {
    const producer = await whenReady(createProducerConnection(redisUrl()));
    const workerConnection = createWorkerConnection(redisUrl());
    const prefix = freshPrefix();
    const events = new EventQueue({ connection: producer, prefix, retry: FAST });
    await events.ready();
    const seen: Array<{ deliveryId: string; n: number }> = [];
    let worker: EventWorker | undefined;
    try {
      worker = await createEventWorker({
        connection: workerConnection,
        prefix,
        concurrency: 1,
        retry: FAST,
        processor: async (job: EventJob) => {
          const n = seen.filter((s) => s.deliveryId === job.deliveryId).length + 1;
          seen.push({ deliveryId: job.deliveryId, n });
          if (job.deliveryId === "flaky" && n === 1) throw Object.assign(new Error("GitHub 502"), { name: "HttpError", status: 502 });
          if (job.deliveryId === "bad") throw new Error("config file is invalid");
        },
      });
      const base = buildInput();
      const event = (deliveryId: string): EventJob => ({
        deliveryId,
        event: "push",
        reason: "push",
        repository: base.repository,
        sha: base.sha,
        ref: "refs/heads/main",
        receivedAt: new Date().toISOString(),
      });
      const flaky = await events.store(event("flaky"));
      const bad = await events.store(event("bad"));
      const state = (id: string) =>
        eventually(async () => {
          const j = await jobInState(events.queue, id, ["completed", "failed"]);
          return j ? { s: await j.getState(), attemptsMade: j.attemptsMade } : undefined;
        }, id);
      assert.deepEqual(await state(flaky.jobId), { s: "completed", attemptsMade: 2 });
      assert.deepEqual(await state(bad.jobId), { s: "failed", attemptsMade: 1 });
    } finally {
      await worker?.close(10_000);
      await events.close();
      await dropPrefix(producer, prefix);
      await producer.quit();
      await workerConnection.quit();
    }
  });
});
