import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { CheckRunLedger } from "../../src/queue/check-run-ledger.js";
import type { PlannerLookup, RunSlot } from "../../src/queue/check-run-ledger.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { createProducerConnection, createWorkerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { dropPrefix, freshPrefix, redisUrl } from "./queue-test-kit.js";

let redis: Redis;
let prefix: string;
let ledger: CheckRunLedger;
let events: Queue;
let lookup: PlannerLookup;

const slot = (image: string): RunSlot => ({ installationId: 7, owner: "octo", repo: "svc", repoId: 70, sha: "a".repeat(40), image });

before(async () => {
  redis = await whenReady(createProducerConnection(redisUrl()));
  prefix = freshPrefix();
  ledger = new CheckRunLedger(redis, prefix);
  events = new Queue(QueueName.Events, { connection: redis, prefix });
  lookup = async (id) => {
    const job = await events.getJob(id);
    if (!job) return undefined;
    return { state: await job.getState(), ...(job.processedOn !== undefined ? { processedOn: job.processedOn } : {}) };
  };
});
after(async () => {
  await events.close();
  await dropPrefix(redis, prefix);
  await redis.quit();
});

test("a planning seen through strikes itself out; one cut short stays listed, and its retry knows", async () => {
  assert.deepEqual(await ledger.open(slot("app"), "ev-1"), { again: false });
  await ledger.close(slot("app"), "ev-1");
  assert.equal(await ledger.entry(slot("app")), undefined, "nothing left once the run was handed over");
  assert.deepEqual(await ledger.list(), []);

  assert.deepEqual(await ledger.open(slot("api"), "ev-2"), { again: false });
  // The attempt dies here; its retry notes the slot again.
  assert.deepEqual(await ledger.open(slot("api"), "ev-2"), { again: true });
  assert.deepEqual(await ledger.open(slot("api"), "ev-3"), { again: false }, "another event's planning is not a retry");
  await ledger.close(slot("api"), "ev-3");
  assert.deepEqual(await ledger.list(), [{ slot: slot("api"), planners: ["ev-2"] }], "the interrupted planning keeps the slot listed");
  await ledger.remove(slot("api"));
  assert.deepEqual(await ledger.list(), []);
});

test("mayStillHand: only the attempt of a planning that began before the build was queued, while it runs", async () => {
  let release!: () => void;
  const hold = new Promise<void>((r) => (release = r));
  let processedOn = 0;
  const connection = createWorkerConnection(redisUrl());
  const worker = new Worker(
    QueueName.Events,
    async (job) => {
      processedOn = job.processedOn ?? 0;
      await hold;
    },
    { connection, prefix },
  );
  try {
    await events.add("push", {}, { jobId: "ev-9" });
    await ledger.open(slot("web"), "ev-9");
    const build = { repoId: 70, sha: "a".repeat(40), image: "web" };
    for (let i = 0; i < 200 && processedOn === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(processedOn > 0, "the planner took the event job");

    assert.equal(await ledger.mayStillHand({ ...build, queuedAt: new Date(processedOn + 5).toISOString() }, lookup), true, "queued by the running attempt");
    assert.equal(await ledger.mayStillHand({ ...build, queuedAt: new Date(processedOn - 5_000).toISOString() }, lookup), false, "queued by an earlier attempt");
    assert.equal(await ledger.mayStillHand({ ...build, image: "other", queuedAt: new Date().toISOString() }, lookup), false, "no planning noted for the slot");

    release();
    for (let i = 0; i < 200 && (await lookup("ev-9"))?.state !== "completed"; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(await ledger.mayStillHand({ ...build, queuedAt: new Date(processedOn + 5).toISOString() }, lookup), false, "the planning has finished");
  } finally {
    release();
    await worker.close();
    await connection.quit();
  }
});
