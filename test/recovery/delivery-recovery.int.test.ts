import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { Probot, ProbotOctokit } from "probot";
import { startBuildkitBot } from "../../src/app/start-app.js";
import type { RunningApp } from "../../src/app/start-app.js";
import { INSTALLATION_EVENTS } from "../../src/intake/index.js";
import type { EventJob } from "../../src/queue/job-types.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { DeliveryRecovery } from "../../src/recovery/delivery-recovery.js";
import { captureLog, WEBHOOK_SECRET, webEnv } from "../app/app-test-kit.js";
import { freshPrefix } from "../queue/queue-test-kit.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startRedis } from "../support/stack/redis.js";
import type { RedisInstance } from "../support/stack/redis.js";
import { adaptPayload, examplePayload, sendWebhook } from "../support/webhooks.js";

/**
 * Missed-webhook recovery against the fake GitHub's deliveries API and a real web role on its own Redis: deliveries
 * refused while Redis was down are redelivered and stored; one GitHub counts as failed although the app stored it
 * is redelivered and stored once; what succeeded, what the app does not handle and what is already claimed is left.
 */
describe("delivery recovery", { timeout: 120_000 }, () => {
  const creds = createAppCredentials(7402);
  const prefix = freshPrefix();
  let dir: string;
  let redis: RedisInstance;
  let client: Redis;
  let app: RunningApp;
  let github: FakeGitHub;
  let probot: Probot;
  let events: Queue<EventJob>;
  let webhookUrl: string;
  const redelivered: string[] = [];

  const recovery = (): DeliveryRecovery =>
    new DeliveryRecovery({
      github: () => probot.auth(),
      redis: client,
      prefix,
      events: INSTALLATION_EVENTS,
      windowMs: 3_600_000,
      perMinute: 600,
      onRedelivered: (event) => redelivered.push(event),
      log: captureLog().logger,
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-recovery-"));
    redis = await startRedis({ dir });
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    client.on("error", () => {});
    const e = await webEnv(redis.url, prefix);
    app = await startBuildkitBot({}, e.env, { log: captureLog().logger });
    webhookUrl = `http://127.0.0.1:${e.port}/api/github/webhooks`;
    github = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, webhookSecret: WEBHOOK_SECRET, webhookUrl });
    probot = new Probot({
      appId: creds.appId,
      privateKey: creds.privateKeyPem,
      baseUrl: github.url,
      logLevel: "warn",
      Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
    });
    events = new Queue<EventJob>(QueueName.Events, { connection: client, prefix });
    events.on("error", () => {});
  });

  after(async () => {
    await events?.close();
    await app?.stop();
    client?.disconnect();
    await github?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const push = (n: number): Record<string, unknown> => {
    const p = adaptPayload(examplePayload("push", undefined, (x) => x.ref === "refs/heads/master"));
    p.after = n.toString(16).padStart(40, "a");
    return p;
  };
  const storedDeliveries = async (): Promise<string[]> =>
    (await events.getJobs(["waiting", "delayed", "prioritized"]))
      .map((j) => j.data.deliveryId)
      .filter((id) => !id.startsWith("probe-"))
      .sort();
  let probes = 0;
  /** Starts Redis again and waits until the app stores deliveries again (its connection reconnects with a backoff). */
  const restartRedis = async (): Promise<void> => {
    await redis.restart();
    await client.ping();
    // Probes go straight to the app, so the fake GitHub does not list them.
    const probe = (): Promise<{ status: number }> => sendWebhook(webhookUrl, { name: "push", payload: push(0), secret: WEBHOOK_SECRET, deliveryId: `probe-${++probes}` });
    for (let tries = 0; (await probe()).status !== 200; tries++) {
      assert.ok(tries < 100, "the app never stored a delivery again after Redis came back");
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it("redelivers what failed, once; the event queue stores each delivery once", async () => {
    const ok = await github.deliver("push", push(1));
    assert.equal(ok.status, 200);
    // The app stored it, but GitHub saw no answer: failed for GitHub.
    const lost = await github.deliver("push", push(2), { answerLost: true });
    assert.equal(lost.status, 200);

    await redis.stop();
    const refused = await github.deliver("push", push(3));
    assert.equal(refused.status, 503, refused.body);
    // A failed delivery of an event the app does not act on is left alone.
    const ping = await github.deliver("installation_repositories", { action: "added", installation: { id: 1 } });
    assert.equal(ping.status, 200);
    github.hookDeliveries.at(-1)!.status = "Invalid HTTP Response: 500";
    await restartRedis();

    assert.deepEqual(await storedDeliveries(), [ok.deliveryId, lost.deliveryId].sort());
    const pass = await recovery().pass();
    assert.equal(pass.ran, true);
    assert.equal(pass.failed, 2);
    assert.deepEqual(pass.redelivered, [lost.deliveryId, refused.deliveryId], "oldest first");
    assert.deepEqual(redelivered, ["push", "push"]);
    await github.redeliveriesSettled();

    // Each redelivery reached the app with the delivery's own guid and was answered OK; the one it already had
    // stored nothing new.
    const attempts = github.hookDeliveries.filter((d) => d.redelivery);
    assert.deepEqual(attempts.map((d) => [d.guid, d.status]).sort(), [[lost.deliveryId, "OK"], [refused.deliveryId, "OK"]].sort());
    assert.deepEqual(await storedDeliveries(), [ok.deliveryId, lost.deliveryId, refused.deliveryId].sort());

    // Now every delivery has an OK attempt: nothing more to do.
    const again = await recovery().pass();
    assert.deepEqual([again.failed, again.redelivered], [0, []]);
  });

  it("goes on past a redelivery GitHub refuses, saying which", async () => {
    await redis.stop();
    const gone = await github.deliver("push", push(5));
    const next = await github.deliver("push", push(6));
    assert.deepEqual([gone.status, next.status], [503, 503]);
    await restartRedis();
    github.refusedRedeliveries.add(gone.deliveryId);
    const log = captureLog();
    const pass = await new DeliveryRecovery({ github: () => probot.auth(), redis: client, prefix, events: INSTALLATION_EVENTS, windowMs: 3_600_000, perMinute: 600, log: log.logger }).pass();
    assert.deepEqual(pass.redelivered, [next.deliveryId]);
    const warned = log.lines.filter((l) => l.level === 40);
    assert.deepEqual(warned.map((l) => [l.deliveryId, l.msg]), [[gone.deliveryId, "GitHub refused to redeliver a failed webhook delivery"]]);
    assert.match(String(warned[0]!.err), /422/);
    await github.redeliveriesSettled();
    assert.ok((await storedDeliveries()).includes(next.deliveryId));
  });

  it("reads every page of the deliveries list and claims a delivery so it is not redelivered twice at once", async () => {
    // 150 deliveries after a refused one: the refused one is on the list's second page (100 a page, newest first).
    await redis.stop();
    const refused = await github.deliver("push", push(4));
    assert.equal(refused.status, 503);
    await restartRedis();
    for (let i = 0; i < 150; i++) assert.equal((await github.deliver("ping", { zen: "Keep it simple.", hook_id: 1 })).status, 200);

    const calls = github.calls.length;
    const [first, second] = await Promise.all([recovery().pass(), recovery().pass()]);
    // One pass at a time: the other found the lock taken.
    assert.deepEqual([first.ran, second.ran].sort(), [false, true]);
    const ran = first.ran ? first : second;
    assert.deepEqual(ran.redelivered, [refused.deliveryId]);
    const listed = github.calls.slice(calls).filter((c) => c.path === "/app/hook/deliveries");
    assert.ok(listed.length >= 2, `read ${listed.length} pages`);
    assert.ok(listed.slice(1).every((c) => /^v1_\d+$/.test(String(c.query.cursor))), "later pages by cursor");
    await github.redeliveriesSettled();
    assert.ok((await storedDeliveries()).includes(refused.deliveryId));

    // Claimed for 5 minutes: a pass right after does not ask again, even if GitHub still lists it as failed.
    github.hookDeliveries.filter((d) => d.guid === refused.deliveryId).forEach((d) => (d.status = "Invalid HTTP Response: 503"));
    const soon = await recovery().pass();
    assert.equal(soon.redelivered.length, 0);
  });
});
