import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Redis } from "ioredis";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";
import { createProducerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { dropPrefix, freshPrefix, redisUrl } from "./queue-test-kit.js";

let redis: Redis;
let prefix: string;
let handoff: CheckRunHandoff;

before(async () => {
  redis = await whenReady(createProducerConnection(redisUrl()));
  prefix = freshPrefix();
  handoff = new CheckRunHandoff(redis, prefix);
});
after(async () => {
  await dropPrefix(redis, prefix);
  await redis.quit();
});

test("a run's id given after the wait began reaches the waiter", async () => {
  assert.deepEqual(await handoff.read("bld-a"), { kind: "pending" });
  const waiting = handoff.waitFor("bld-a", { timeoutMs: 10_000 });
  await new Promise((r) => setTimeout(r, 150));
  await handoff.give("bld-a", 4711);
  assert.equal(await waiting, 4711);
  assert.deepEqual(await handoff.read("bld-a"), { kind: "created", checkRunId: 4711 });
  assert.ok((await redis.ttl(`${prefix}:check-run-of:bld-a`)) > 0, "the handoff expires");
});

test("a withdrawn run ends the wait with undefined", async () => {
  const waiting = handoff.waitFor("bld-b", { timeoutMs: 10_000 });
  await handoff.withdraw("bld-b");
  assert.equal(await waiting, undefined);
  assert.deepEqual(await handoff.read("bld-b"), { kind: "withdrawn" });
});

test("a wait ends at its deadline or when its signal fires", async () => {
  const started = Date.now();
  assert.equal(await handoff.waitFor("bld-c", { timeoutMs: 200 }), undefined);
  assert.ok(Date.now() - started >= 200);
  const abort = new AbortController();
  const waiting = handoff.waitFor("bld-c", { signal: abort.signal });
  setTimeout(() => abort.abort(), 50);
  assert.equal(await waiting, undefined);
});

test("of(): a job that holds its run's id needs no lookup", async () => {
  assert.equal(handoff.of({ buildId: "bld-d", checkRunId: 12 }), 12);
  await handoff.give("bld-e", 13);
  assert.equal(await handoff.of({ buildId: "bld-e" }), 13);
});
