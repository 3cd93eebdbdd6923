import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { EventFairness } from "../../src/queue/event-fairness.js";
import { DELIVERY_DEDUPE_MS, EventQueue } from "../../src/queue/event-queue.js";
import { createEventWorker } from "../../src/queue/event-worker.js";
import type { EventJob } from "../../src/queue/job-types.js";
import { eventJobId } from "../../src/queue/job-ids.js";
import { createProducerConnection, createWorkerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { buildInput, dropPrefix, eventually, freshPrefix, redisUrl } from "./queue-test-kit.js";

const NOW = Date.parse("2026-12-04T06:00:00.000Z");

function event(deliveryId: string): EventJob {
  const base = buildInput();
  return { deliveryId, event: "push", reason: "push", repository: base.repository, sha: base.sha, ref: "refs/heads/main", receivedAt: new Date(NOW).toISOString() };
}

/**
 * EventQueue.store hands BullMQ's backend the job record itself instead of calling Queue.add (see its comment). These
 * hold it to what Queue.add stores for the same job and options, against a real Redis, so a BullMQ upgrade that
 * changes the record fails here rather than in production.
 */
describe("events queue: store writes what Queue.add writes", () => {
  let producer: Redis;
  let workerConnection: Redis;
  let prefix: string;
  let events: EventQueue;
  let reference: Queue;

  before(async () => {
    producer = await whenReady(createProducerConnection(redisUrl()));
    workerConnection = createWorkerConnection(redisUrl());
    prefix = freshPrefix();
    // One fairness clock for both, so the stored job gets a known priority.
    events = new EventQueue({ connection: producer, prefix, fairness: new EventFairness({ now: () => NOW }) });
    await events.ready();
    // Queue.add on the same queue, with the options EventQueue gives its queue.
    reference = new Queue(events.queue.name, { connection: producer, prefix, defaultJobOptions: events.queue.defaultJobOptions });
    await reference.waitUntilReady();
  });
  after(async () => {
    await reference.close();
    await events.close();
    await dropPrefix(producer, prefix);
    await producer.quit();
    await workerConnection.quit();
  });

  const key = (suffix: string): string => events.queue.toKey(suffix);

  it("stores the same job hash, priority, deduplication key and event as Queue.add", async () => {
    const ours = event("delivery-ours");
    const theirs = { ...ours, deliveryId: "delivery-theirs" };
    const before = Date.now();
    const { jobId } = await events.store(ours);
    const after = Date.now();
    assert.equal(jobId, eventJobId("delivery-ours"));
    const priority = new EventFairness({ now: () => NOW }).priorityOf(ours.repository.installationId);
    const theirId = eventJobId(theirs.deliveryId);
    await reference.add(theirs.event, theirs, { jobId: theirId, priority, deduplication: { id: theirId, ttl: DELIVERY_DEDUPE_MS } });

    const ourHash = await producer.hgetall(key(jobId));
    const theirHash = await producer.hgetall(key(theirId));
    const ts = Number(ourHash.timestamp);
    assert.ok(ts >= before && ts <= after, `timestamp ${ourHash.timestamp} is the time of the store`);
    // Everything but the delivery (in data and the deduplication id) and the time is the same, field by field.
    const comparable = (hash: Record<string, string>, id: string, deliveryId: string): Record<string, string> => {
      const out: Record<string, string> = {};
      for (const [field, value] of Object.entries(hash)) {
        if (field === "timestamp") continue;
        out[field] = value.replaceAll(id, "<id>").replaceAll(deliveryId, "<delivery>");
      }
      return out;
    };
    assert.deepEqual(comparable(ourHash, jobId, ours.deliveryId), comparable(theirHash, theirId, theirs.deliveryId));
    assert.deepEqual(JSON.parse(ourHash.data ?? ""), ours);
    assert.equal(ourHash.priority, String(priority));

    // Both wait in the prioritized set, ours first (stored first at the same priority).
    const prioritized = await producer.zrange(key("prioritized"), 0, -1);
    assert.deepEqual(prioritized, [jobId, theirId]);
    // The delivery is claimed for as long as Queue.add claims it.
    const ourTtl = await producer.pttl(key(`de:${jobId}`));
    const theirTtl = await producer.pttl(key(`de:${theirId}`));
    assert.ok(ourTtl > DELIVERY_DEDUPE_MS - 60_000 && Math.abs(ourTtl - theirTtl) < 60_000, `deduplication TTLs ${ourTtl} and ${theirTtl}`);
    assert.equal(await producer.get(key(`de:${jobId}`)), jobId);
    // The queue's event stream says "added" for each, with the same fields.
    const added = (await producer.xrange(key("events"), "-", "+")).map(([, fields]) => fields).filter((f) => f[1] === "added");
    assert.deepEqual(
      added.map((f) => f.map((v) => v.replace(jobId, "<id>").replace(theirId, "<id>"))),
      [
        ["event", "added", "jobId", "<id>", "name", "push"],
        ["event", "added", "jobId", "<id>", "name", "push"],
      ],
    );
  });

  it("stores nothing for a redelivery, and the event worker gets the job with its options", async () => {
    const job = event("delivery-redelivered");
    const { jobId } = await events.store(job);
    const again = await events.store(job);
    assert.equal(again.jobId, jobId);
    assert.equal((await producer.zrange(key("prioritized"), 0, -1)).filter((id) => id === jobId).length, 1);

    const processed: EventJob[] = [];
    const worker = await createEventWorker({
      connection: workerConnection,
      prefix,
      concurrency: 1,
      processor: async (data) => {
        processed.push(data);
      },
    });
    const active = new Map<string, { attempts: number | undefined; backoff: unknown; priority: number }>();
    worker.worker.on("active", (j) => active.set(j.id ?? "", { attempts: j.opts.attempts, backoff: j.opts.backoff, priority: j.priority }));
    try {
      await eventually(async () => (processed.some((d) => d.deliveryId === job.deliveryId) ? true : undefined), "the redelivered event to be processed", 10_000);
      assert.deepEqual(
        processed.find((d) => d.deliveryId === job.deliveryId),
        job,
      );
      assert.equal(processed.filter((d) => d.deliveryId === job.deliveryId).length, 1);
      const got = active.get(jobId);
      assert.equal(got?.attempts, events.queue.defaultJobOptions.attempts);
      assert.deepEqual(got?.backoff, events.queue.defaultJobOptions.backoff);
      assert.ok((got?.priority ?? 0) > 0);
    } finally {
      await worker.close();
    }
  });
});
