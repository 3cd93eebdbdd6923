import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startBuildkitBot } from "../../src/app/start-app.js";
import type { RunningApp } from "../../src/app/start-app.js";
import { startRedis } from "../support/stack/redis.js";
import type { RedisInstance } from "../support/stack/redis.js";
import { adaptPayload, examplePayload, sendWebhook } from "../support/webhooks.js";
import { captureLog, WEBHOOK_SECRET, webEnv } from "./app-test-kit.js";
import { freshPrefix } from "../queue/queue-test-kit.js";

describe("Redis unavailable", () => {
  let dir: string;
  let redis: RedisInstance | undefined;
  let app: RunningApp | undefined;
  let url: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-redis-down-"));
    redis = await startRedis({ dir });
    const e = await webEnv(redis.url, freshPrefix());
    app = await startBuildkitBot({}, e.env, { log: captureLog().logger });
    url = `http://127.0.0.1:${e.port}/api/github/webhooks`;
  });

  after(async () => {
    await app?.stop();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers a webhook with a quick 503 instead of hanging", async () => {
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
    const ok = await sendWebhook(url, { name: "push", payload, secret: WEBHOOK_SECRET });
    assert.equal(ok.status, 200, "accepted while Redis is up");

    await redis!.stop();
    redis = undefined;
    const started = Date.now();
    const res = await sendWebhook(url, { name: "push", payload, secret: WEBHOOK_SECRET, timeoutMs: 20_000 });
    const elapsed = Date.now() - started;
    assert.equal(res.status, 503, res.body);
    assert.match(res.body, /QueueUnavailableError/);
    assert.ok(res.body.length < 300, "a short body");
    // A hang guard, not a speed target: GitHub gives up after 10 s.
    assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
  });
});
