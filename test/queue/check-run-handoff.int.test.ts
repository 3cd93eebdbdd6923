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

test("give and abandon are set-if-absent: whichever comes first wins, the other learns it", async () => {
  assert.equal(await handoff.give("bld-f", 21), "given");
  assert.equal(await handoff.give("bld-f", 21), "given", "a resent give finds its own value");
  assert.deepEqual(await handoff.abandon("bld-f"), { kind: "created", checkRunId: 21 }, "a run handed first is taken");

  assert.deepEqual(await handoff.abandon("bld-g"), { kind: "abandoned" });
  assert.equal(await handoff.give("bld-g", 22), "abandoned", "a late run does not go to a build given up");
  assert.deepEqual(await handoff.read("bld-g"), { kind: "abandoned" });
});

test("a build's own wait gives it up as soon as the planning that queued it can no longer hand it a run", async () => {
  let asked = 0;
  const started = Date.now();
  const outcome = await handoff.settle("bld-h", {
    timeoutMs: 60_000,
    stillComing: async () => {
      asked++;
      return asked < 2;
    },
  });
  assert.equal(outcome.kind, "lost");
  assert.match(outcome.kind === "lost" ? outcome.why : "", /planning that queued it ended without handing it a check run/);
  assert.equal(asked, 2, "asked once a second until the answer was no");
  assert.ok(Date.now() - started < 60_000, "long before the deadline");
  assert.deepEqual(await handoff.read("bld-h"), { kind: "abandoned" });
  assert.equal(await handoff.give("bld-h", 23), "abandoned");
});

test("a run handed while the planning is still at work reaches the build's wait", async () => {
  const waiting = handoff.settle("bld-i", { timeoutMs: 60_000, stillComing: async () => true });
  await new Promise((r) => setTimeout(r, 1_300));
  assert.equal(await handoff.give("bld-i", 24), "given");
  assert.deepEqual(await waiting, { kind: "created", checkRunId: 24 });
});

test("a build's own wait gives it up at its deadline; another waiter's deadline leaves the build alone", async () => {
  assert.deepEqual(await handoff.settle("bld-j", { timeoutMs: 150 }), { kind: "timeout" });
  assert.deepEqual(await handoff.read("bld-j"), { kind: "pending" }, "a supersede report's wait does not give the build up");
  const outcome = await handoff.settle("bld-j", { timeoutMs: 150, stillComing: async () => true });
  assert.equal(outcome.kind, "lost");
  assert.match(outcome.kind === "lost" ? outcome.why : "", /did not arrive within 0 s/);
  assert.deepEqual(await handoff.read("bld-j"), { kind: "abandoned" });
});

test("an unanswerable stillComing (Redis restarting) counts as maybe: only the deadline ends the wait", async () => {
  const outcome = await handoff.settle("bld-k", {
    timeoutMs: 1_500,
    stillComing: async () => {
      throw new Error("Connection is closed.");
    },
  });
  assert.equal(outcome.kind, "lost");
  assert.match(outcome.kind === "lost" ? outcome.why : "", /did not arrive within/);
});
