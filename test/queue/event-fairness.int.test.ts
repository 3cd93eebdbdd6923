import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { EventFairness, MAX_LEAD_S } from "../../src/queue/event-fairness.js";
import { EventQueue } from "../../src/queue/event-queue.js";
import { createEventWorker } from "../../src/queue/event-worker.js";
import type { EventWorker } from "../../src/queue/event-worker.js";
import type { EventJob } from "../../src/queue/job-types.js";
import { createProducerConnection, createWorkerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { buildInput, dropPrefix, eventually, freshPrefix, redisUrl } from "./queue-test-kit.js";

const A = 101;
const B = 202;
const C = 303;
const FAST = { attempts: 3, baseDelayMs: 50, maxDelayMs: 100 };

/** A clock the test moves by hand: the order proven below depends on no timing. */
class ManualClock {
  ms = Date.parse("2026-12-03T12:00:00.400Z");
  readonly now = (): number => this.ms;
}

function event(installationId: number, deliveryId: string, over: Partial<EventJob> = {}): EventJob {
  const base = buildInput();
  return {
    deliveryId,
    event: "push",
    reason: "push",
    repository: { ...base.repository, installationId, repoId: installationId * 10 },
    sha: base.sha,
    ref: "refs/heads/main",
    receivedAt: new Date().toISOString(),
    ...over,
  };
}

describe("events queue: fair across installations", () => {
  let producer: Redis;
  let workerConnection: Redis;
  let prefix: string;
  let clock: ManualClock;
  let events: EventQueue;
  let worker: EventWorker | undefined;
  let processed: string[];
  let failOnce: Set<string>;

  before(async () => {
    producer = await whenReady(createProducerConnection(redisUrl()));
    workerConnection = createWorkerConnection(redisUrl());
  });
  after(async () => {
    await producer.quit();
    await workerConnection.quit();
  });

  async function setUp(): Promise<void> {
    prefix = freshPrefix();
    clock = new ManualClock();
    events = new EventQueue({ connection: producer, prefix, retry: FAST, fairness: new EventFairness({ now: clock.now }) });
    await events.ready();
    processed = [];
    failOnce = new Set();
  }
  /** One planner slot, started once everything is queued: the processing log is the queue's order. */
  async function drain(count: number): Promise<void> {
    worker = await createEventWorker({
      connection: workerConnection,
      prefix,
      concurrency: 1,
      retry: FAST,
      processor: async (job) => {
        if (failOnce.delete(job.deliveryId)) throw Object.assign(new Error("GitHub 502"), { name: "HttpError", status: 502 });
        processed.push(job.deliveryId);
      },
    });
    await eventually(async () => (processed.length >= count ? true : undefined), `${count} events processed`, 60_000);
  }
  async function tearDown(): Promise<void> {
    await worker?.close(10_000);
    worker = undefined;
    await events.close();
    await dropPrefix(producer, prefix);
  }

  it("plans B's first event right after A's first, not behind A's backlog of 100", async () => {
    await setUp();
    try {
      for (let i = 0; i < 100; i++) await events.store(event(A, `a-${i}`));
      await events.store(event(B, "b-0"));
      await drain(101);
      assert.equal(processed.indexOf("b-0"), 1, `processing order starts ${processed.slice(0, 5).join(", ")}`);
      // A's own events keep their order.
      assert.deepEqual(
        processed.filter((id) => id.startsWith("a-")),
        Array.from({ length: 100 }, (_, i) => `a-${i}`),
      );
    } finally {
      await tearDown();
    }
  });

  it("alternates installations that both have a backlog, each in its own order", async () => {
    await setUp();
    try {
      for (let i = 0; i < 5; i++) await events.store(event(A, `a-${i}`));
      for (let i = 0; i < 5; i++) await events.store(event(C, `c-${i}`));
      await drain(10);
      assert.deepEqual(processed, ["a-0", "c-0", "a-1", "c-1", "a-2", "c-2", "a-3", "c-3", "a-4", "c-4"]);
    } finally {
      await tearDown();
    }
  });

  it("lets nothing wait forever: a later event never overtakes one whose turn had come", async () => {
    await setUp();
    try {
      for (let i = 0; i < 10; i++) await events.store(event(A, `a-${i}`));
      clock.ms += 4_000; // A's events 0-4 are due now
      await events.store(event(B, "b-0"));
      await drain(11);
      assert.deepEqual(processed.slice(0, 6), ["a-0", "a-1", "a-2", "a-3", "a-4", "b-0"]);
    } finally {
      await tearDown();
    }
  });

  it("keeps dedupe by delivery id and retries", async () => {
    await setUp();
    try {
      for (let i = 0; i < 20; i++) await events.store(event(A, `a-${i}`));
      const first = await events.store(event(B, "b-0"));
      const again = await events.store(event(B, "b-0"));
      assert.equal(again.jobId, first.jobId);
      failOnce.add("b-0");
      await drain(21);
      assert.equal(processed.filter((id) => id === "b-0").length, 1, "stored once, processed once");
      const job = await events.queue.getJob(first.jobId);
      assert.equal(job?.attemptsMade, 2, "one transient failure, then a retry that succeeded");
      // The retry kept B's place: the priority of A's first event, not one behind A's backlog.
      assert.equal(job?.priority, (await events.queue.getJob("ev-a-0"))?.priority);
      assert.ok((job?.priority ?? 0) < ((await events.queue.getJob("ev-a-1"))?.priority ?? 0));
    } finally {
      await tearDown();
    }
  });
});

describe("EventFairness", () => {
  it("never lowers one installation's priority while its events could still wait, up to the lead cap", () => {
    const clock = new ManualClock();
    const fair = new EventFairness({ now: clock.now, maxLeadS: 50 });
    let last = 0;
    for (let i = 0; i < 500; i++) {
      if (i % 7 === 0) clock.ms += 900;
      const p = fair.priorityOf(A);
      assert.ok(p >= last, `event ${i}: ${p} after ${last}`);
      last = p;
    }
    // Capped at 50 s ahead of now: a newcomer goes first, but a later newcomer can no longer overtake it.
    const now = Math.floor(clock.ms / 1000);
    assert.equal(last, ((now + 50) % (2 ** 21 - 1)) + 1);
    assert.equal(fair.priorityOf(B), (now % (2 ** 21 - 1)) + 1);
    assert.ok(MAX_LEAD_S > 0);
  });

  it("forgets installations whose events are all due", () => {
    const clock = new ManualClock();
    const fair = new EventFairness({ now: clock.now });
    for (let i = 0; i < 1_500; i++) fair.priorityOf(i + 1);
    clock.ms += 2_000;
    for (let i = 0; i < 1_000; i++) fair.priorityOf(10_000 + i);
    assert.ok(fair.installations <= 1_000, `${fair.installations} remembered`);
  });
});
