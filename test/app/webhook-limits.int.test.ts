import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { MAX_WEBHOOK_BYTES } from "../../src/intake/webhook-intake.js";
import { eventJobId } from "../../src/queue/job-ids.js";
import type { EventJob } from "../../src/queue/job-types.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { createProducerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { dropPrefix, freshPrefix } from "../queue/queue-test-kit.js";
import { startAppProcess } from "../support/app-process.js";
import type { AppProcess } from "../support/app-process.js";
import { testStack } from "../support/stack/env.js";
import { BAD_SIGNATURE, filler as zeros, rawPost, slices, webhookHeaders } from "../support/raw-post.js";
import type { RawAnswer } from "../support/raw-post.js";
import { adaptPayload, examplePayload, sendWebhook, signPayload } from "../support/webhooks.js";
import { WEBHOOK_SECRET, webEnv } from "./app-test-kit.js";

const MiB = 1024 * 1024;
const WEBHOOK_PATH = "/hooks/github";

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  assert.ok(kb, "VmRSS in /proc/<pid>/status");
  return Number(kb) * 1024;
}

/** The app's largest RSS while `work` runs (sampled), minus its RSS before. */
async function rssGrowthDuring<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const start = await rssBytes(pid);
  let peak = start;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, await rssBytes(pid));
      await sleep(10);
    }
  })();
  try {
    const result = await work();
    await sleep(200);
    peak = Math.max(peak, await rssBytes(pid));
    return { result, growth: peak - start };
  } finally {
    running = false;
    await sampler;
  }
}

function pushPayload(): Record<string, unknown> {
  return adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
}

/** What a stranger may see in an error answer: a plain message, nothing from inside the app. */
function assertPlainMessage(body: string): void {
  assert.ok(body.length < 300, `a short body: ${body}`);
  assert.doesNotMatch(body, /octokit/i);
  assert.doesNotMatch(body, /installationId/);
  assert.doesNotMatch(body, /\n\s+at /, "no stack frames");
  assert.doesNotMatch(body, /\w*Error:/, "no error names");
  const parsed = JSON.parse(body) as { error?: unknown };
  assert.equal(typeof parsed.error, "string");
}

describe("webhook intake limits on the real app process (web role, real Redis)", () => {
  let dir: string;
  let app: AppProcess;
  let redis: Redis;
  let events: Queue<EventJob>;
  let prefix: string;
  let hookUrl: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-webhook-limits-"));
    prefix = freshPrefix();
    const { env } = await webEnv(testStack().redisUrl, prefix);
    app = await startAppProcess({ dir, env: { ...env, WEBHOOK_PATH } });
    hookUrl = `${app.url!}${WEBHOOK_PATH}`;
    redis = await whenReady(createProducerConnection(testStack().redisUrl));
    events = new Queue<EventJob>(QueueName.Events, { connection: redis, prefix });
    // Warm up the paths a delivery takes, so their one-off allocations do not count as growth below.
    for (let i = 0; i < 3; i++) await sendWebhook(hookUrl, { name: "push", payload: pushPayload(), secret: WEBHOOK_SECRET });
  });

  after(async () => {
    await app?.stop();
    await events?.close();
    if (redis) {
      await dropPrefix(redis, prefix);
      await redis.quit();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("refuses a 100 MB unsigned body with a declared length with 413 before reading it", { timeout: 60_000 }, async (t) => {
    const total = 100 * MiB;
    // Once first, so the refusal path's one-off allocations (code loaded on first use) do not count as growth.
    await rawPost(hookUrl, webhookHeaders("push", BAD_SIGNATURE, { "content-length": String(total) }), zeros(MiB));
    const { result, growth } = await rssGrowthDuring(app.pid, () =>
      rawPost(hookUrl, webhookHeaders("push", BAD_SIGNATURE, { "content-length": String(total) }), zeros(total)),
    );
    assert.equal(result.status, 413, result.body);
    assertPlainMessage(result.body);
    assert.ok(result.bytesSent < total / 2, `the app stopped the upload (client sent ${result.bytesSent} bytes)`);
    t.diagnostic(`RSS growth ${(growth / MiB).toFixed(1)} MiB, client sent ${result.bytesSent} bytes before the answer`);
    // What Node reads and discards after the answer (the few MB already in the socket buffers) is garbage until
    // the next scavenge; a body read in full would show as 100 MB or more.
    assert.ok(growth < 16 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  it("stops reading a chunked unsigned body at the limit and answers 413", { timeout: 60_000 }, async () => {
    const total = 100 * MiB;
    const result = await rawPost(hookUrl, webhookHeaders("push", BAD_SIGNATURE), zeros(total));
    assert.equal(result.status, 413, result.body);
    assertPlainMessage(result.body);
    assert.ok(result.bytesSent >= MAX_WEBHOOK_BYTES, `read up to the limit (client sent ${result.bytesSent} bytes)`);
    assert.ok(result.bytesSent < total, `and no further (client sent ${result.bytesSent} bytes)`);
    // The app is still answering.
    const ok = await sendWebhook(hookUrl, { name: "push", payload: pushPayload(), secret: WEBHOOK_SECRET });
    assert.equal(ok.status, 200, ok.body);
  });

  it("refuses a correctly signed 26 MiB body with 413 and stores nothing", { timeout: 60_000 }, async () => {
    const payload = pushPayload();
    payload.padding = "x".repeat(26 * MiB);
    const body = Buffer.from(JSON.stringify(payload));
    const headers = webhookHeaders("push", signPayload(WEBHOOK_SECRET, body.toString()), { "content-length": String(body.length) });
    const result = await rawPost(hookUrl, headers, slices(body));
    assert.equal(result.status, 413, result.body);
    assertPlainMessage(result.body);
    const deliveryId = String(headers["x-github-delivery"]);
    assert.equal(await events.getJob(eventJobId(deliveryId)), undefined);
  });

  it("refuses a bad signature with 400 and the handlers never run", async () => {
    const deliveryId = randomUUID();
    const res = await sendWebhook(hookUrl, { name: "push", payload: pushPayload(), secret: "not-the-secret", deliveryId });
    assert.equal(res.status, 400, res.body);
    assertPlainMessage(res.body);
    assert.equal(await events.getJob(eventJobId(deliveryId)), undefined);
    assert.equal(await redis.exists(events.toKey(`de:${eventJobId(deliveryId)}`)), 0, "not even the dedupe key");
  });

  it("answers a signed body that is not JSON with 400 and a plain message", async () => {
    const body = "this is { not json";
    const headers = webhookHeaders("push", signPayload(WEBHOOK_SECRET, body));
    const res = await fetch(hookUrl, { method: "POST", headers: headers as Record<string, string>, body });
    const text = await res.text();
    assert.equal(res.status, 400, text);
    assertPlainMessage(text);
    assert.equal(await events.getJob(eventJobId(String(headers["x-github-delivery"]))), undefined);
  });

  it("answers signed payloads of the wrong shape with 400 and a plain message", async () => {
    const withoutInstallation = pushPayload();
    delete withoutInstallation.installation;
    const withoutRepository = pushPayload();
    delete withoutRepository.repository;
    const oddInstallation = pushPayload();
    oddInstallation.installation = { id: "4242" };
    const cases: Array<[string, string, unknown]> = [
      ["push without installation", "push", withoutInstallation],
      ["push without repository", "push", withoutRepository],
      ["push with a string installation id", "push", oddInstallation],
      ["push that is a JSON array", "push", [pushPayload()]],
      ["pull_request that is a string", "pull_request", "opened"],
      ["check_run without check_run", "check_run", { action: "rerequested", installation: { id: 1 }, repository: {} }],
    ];
    for (const [what, name, payload] of cases) {
      const res = await sendWebhook(hookUrl, { name, payload, secret: WEBHOOK_SECRET });
      assert.equal(res.status, 400, `${what}: ${res.body}`);
      assertPlainMessage(res.body);
      assert.equal(await events.getJob(eventJobId(res.deliveryId)), undefined, what);
    }
  });

  it("keeps answering ping webhooks and /ping while a big body streams in", { timeout: 60_000 }, async () => {
    let open!: () => void;
    const gate = { at: 10 * MiB, open: new Promise<void>((done) => (open = done)) };
    const big = rawPost(hookUrl, webhookHeaders("push", BAD_SIGNATURE), zeros(20 * MiB, 64 * 1024, gate));
    try {
      for (let i = 0; i < 3; i++) {
        const ping = await sendWebhook(hookUrl, { name: "ping", payload: { zen: "Keep it logically awesome.", hook_id: 1 }, secret: WEBHOOK_SECRET });
        assert.equal(ping.status, 200, ping.body);
        const res = await fetch(`${app.url!}/ping`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "PONG");
      }
    } finally {
      open();
    }
    const result = await big;
    assert.equal(result.status, 400, "the big body still gets its own answer once complete");
  });

  it("answers 503 with Retry-After when large bodies in flight hold the memory budget, and recovers", { timeout: 60_000 }, async () => {
    let open!: () => void;
    const gate = { at: MiB, open: new Promise<void>((done) => (open = done)) };
    const length = String(MAX_WEBHOOK_BYTES);
    const holder = rawPost(hookUrl, webhookHeaders("push", BAD_SIGNATURE, { "content-length": length }), zeros(MAX_WEBHOOK_BYTES, 64 * 1024, gate));
    try {
      // The first reservation happens when its headers arrive; wait until a second one is refused.
      let refused: RawAnswer | undefined;
      for (let i = 0; i < 50 && !refused; i++) {
        const second = await rawPost(hookUrl, webhookHeaders("push", BAD_SIGNATURE, { "content-length": length }), zeros(MAX_WEBHOOK_BYTES));
        if (second.status === 503) refused = second;
        else await sleep(100);
      }
      assert.ok(refused, "a second 25 MiB body is refused while the first is in flight");
      assert.ok(Number(refused.headers["retry-after"]) > 0, "with Retry-After");
      assertPlainMessage(refused.body);
      // Small deliveries still fit next to the held body.
      const small = await sendWebhook(hookUrl, { name: "push", payload: pushPayload(), secret: WEBHOOK_SECRET });
      assert.equal(small.status, 200, small.body);
    } finally {
      open();
    }
    assert.equal((await holder).status, 400);
    // Once answered, the held bytes are back in the budget.
    const again = await rawPost(hookUrl, webhookHeaders("push", BAD_SIGNATURE, { "content-length": length }), zeros(MAX_WEBHOOK_BYTES));
    assert.equal(again.status, 400, again.body);
  });

  it("still turns a normal signed push into exactly one event job", async () => {
    const before = await events.getJobCountByTypes("waiting", "prioritized");
    const res = await sendWebhook(hookUrl, { name: "push", payload: pushPayload(), secret: WEBHOOK_SECRET });
    assert.equal(res.status, 200, res.body);
    const job = await events.getJob(eventJobId(res.deliveryId));
    assert.equal(job?.data.deliveryId, res.deliveryId);
    assert.equal(await events.getJobCountByTypes("waiting", "prioritized"), before + 1);
  });

  it("leaves other routes alone: unknown paths 404, GET on the webhook path is not a delivery", async () => {
    const other = await fetch(`${app.url!}/api/github/webhooks`, { method: "POST", body: "{}" });
    assert.equal(other.status, 404, "the default path is not the webhook path when WEBHOOK_PATH is set");
    const get = await fetch(hookUrl);
    assert.equal(get.status, 404);
  });
});
