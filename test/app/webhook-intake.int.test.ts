import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { startBuildkitBot } from "../../src/app/start-app.js";
import type { RunningApp } from "../../src/app/start-app.js";
import { RebuildAction } from "../../src/github/check-run-actions.js";
import { BuildQueue } from "../../src/queue/build-queue.js";
import { eventJobId } from "../../src/queue/job-ids.js";
import { findSecretPath } from "../../src/queue/job-data-guard.js";
import type { EventJob } from "../../src/queue/job-types.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { createProducerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { buildInput, dropPrefix, freshPrefix, RecordingListener } from "../queue/queue-test-kit.js";
import { testStack } from "../support/stack/env.js";
import { adaptPayload, examplePayload, sendWebhook, TEST_REPOSITORY } from "../support/webhooks.js";
import type { WebhookName } from "../support/webhooks.js";
import { captureLog, REGISTRY_PASSWORD, TEST_APP_ID, WEBHOOK_SECRET, webEnv } from "./app-test-kit.js";
import type { CapturedLog } from "./app-test-kit.js";

type Json = Record<string, unknown>;

describe("webhook intake over HTTP (real Probot server, real Redis)", () => {
  let app: RunningApp;
  let redis: Redis;
  let events: Queue<EventJob>;
  let prefix: string;
  let url: string;
  let log: CapturedLog;
  let privateKey: string;

  before(async () => {
    const stack = testStack();
    prefix = freshPrefix();
    const e = await webEnv(stack.redisUrl, prefix);
    privateKey = e.privateKey;
    log = captureLog();
    app = await startBuildkitBot({}, e.env, { log: log.logger });
    assert.equal(app.mode, "running");
    url = `http://127.0.0.1:${e.port}/api/github/webhooks`;
    redis = await whenReady(createProducerConnection(stack.redisUrl));
    events = new Queue<EventJob>(QueueName.Events, { connection: redis, prefix });
  });

  after(async () => {
    await app?.stop();
    await events?.close();
    if (redis) {
      await dropPrefix(redis, prefix);
      await redis.quit();
    }
  });

  async function deliver(name: WebhookName | string, payload: unknown, deliveryId = randomUUID()) {
    const res = await sendWebhook(url, { name, payload, secret: WEBHOOK_SECRET, deliveryId });
    const job = await events.getJob(eventJobId(deliveryId));
    return { res, job, deliveryId };
  }

  it("stores a branch push as one event job and answers 200", async () => {
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
    const { res, job, deliveryId } = await deliver("push", payload);
    assert.equal(res.status, 200, res.body);
    assert.ok(job, "job stored");
    assert.equal(job.data.deliveryId, deliveryId);
    assert.equal(job.data.event, "push");
    assert.equal(job.data.sha, payload.after);
    assert.equal(job.data.ref, "refs/heads/master");
    assert.equal(job.data.repository.installationId, TEST_REPOSITORY.installationId);
    assert.equal(job.data.repository.cloneUrl, "https://github.com/acme/widgets.git");
    assert.ok(!job.id!.includes(":") && !/^\d+$/.test(job.id!));
  });

  it("ignores branch/tag deletions", async () => {
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.deleted === true));
    const { res, job } = await deliver("push", payload);
    assert.equal(res.status, 200);
    assert.equal(job, undefined);
  });

  it("stores pull_request opened/synchronize/reopened, ignores other actions", async () => {
    for (const action of ["opened", "synchronize", "reopened"]) {
      const payload = adaptPayload(examplePayload("pull_request", action, (p) => Boolean(p.installation)));
      const { res, job } = await deliver("pull_request", payload);
      assert.equal(res.status, 200);
      assert.equal(job?.data.pullRequest?.number, (payload.pull_request as Json).number, action);
      assert.equal(job?.data.pullRequest?.fork, false);
    }
    const closed = adaptPayload(examplePayload("pull_request", "closed"));
    const { res, job } = await deliver("pull_request", closed);
    assert.equal(res.status, 200);
    assert.equal(job, undefined);
  });

  it("stores our check runs' rerequests and Rebuild buttons, ignores other apps' runs", async () => {
    const ours = (action: string, identifier?: string): Json => {
      const p = adaptPayload(examplePayload("check_run", action));
      ((p.check_run as Json).app as Json).id = TEST_APP_ID;
      (p.check_run as Json).external_id = "plan:api";
      if (identifier) p.requested_action = { identifier };
      return p;
    };
    const rerun = await deliver("check_run", ours("rerequested"));
    assert.equal(rerun.res.status, 200);
    assert.equal(rerun.job?.data.reason, "rerequested");
    assert.equal(rerun.job?.data.rerun?.externalId, "plan:api");

    const noCache = await deliver("check_run", ours("requested_action", RebuildAction.RebuildNoCache.identifier));
    assert.equal(noCache.job?.data.reason, "rebuild-no-cache");
    assert.equal(noCache.job?.data.rerun?.noCache, true);

    const foreign = ours("rerequested");
    ((foreign.check_run as Json).app as Json).id = TEST_APP_ID + 1;
    const f = await deliver("check_run", foreign);
    assert.equal(f.res.status, 200);
    assert.equal(f.job, undefined);

    const suite = adaptPayload(examplePayload("check_suite", "rerequested"));
    ((suite.check_suite as Json).app as Json).id = TEST_APP_ID;
    const s = await deliver("check_suite", suite);
    assert.equal(s.res.status, 200);
    assert.equal(s.job?.data.event, "check_suite");
  });

  it("refuses a bad signature with a 4xx and stores nothing", async () => {
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
    const deliveryId = randomUUID();
    const res = await sendWebhook(url, { name: "push", payload, secret: "not-the-secret", deliveryId });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    assert.equal(await events.getJob(eventJobId(deliveryId)), undefined);
    assert.equal(await redis.exists(events.toKey(`de:${eventJobId(deliveryId)}`)), 0, "not even the dedupe key");
  });

  it("stores a redelivered webhook once", async () => {
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
    const deliveryId = randomUUID();
    const before = await events.getJobCountByTypes("waiting", "prioritized");
    const first = await deliver("push", payload, deliveryId);
    const second = await deliver("push", payload, deliveryId);
    assert.equal(first.res.status, 200);
    assert.equal(second.res.status, 200);
    assert.equal(await events.getJobCountByTypes("waiting", "prioritized"), before + 1);
    // Even once the event job is gone (taken, then cleaned up by removeOnComplete, which deletes the job's keys and
    // nothing else), the delivery is still recognised for GitHub's 3-day redelivery window.
    const jobId = eventJobId(deliveryId);
    await redis.zrem(events.toKey("prioritized"), jobId);
    await redis.del(events.toKey(jobId));
    assert.equal(await events.getJob(jobId), undefined);
    const third = await deliver("push", payload, deliveryId);
    assert.equal(third.res.status, 200);
    assert.equal(third.job, undefined);
    assert.ok((await redis.pttl(events.toKey(`de:${jobId}`))) > 2.9 * 24 * 3600 * 1000);
  });

  it("stores deliveries that arrive together each once, redeliveries among them included", async () => {
    // The adds of deliveries that arrive together share Redis pipelines (start-app.ts): each still gets its own answer.
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
    const ids = Array.from({ length: 40 }, () => randomUUID());
    const sent = [...ids, ids[0]!, ids[1]!];
    const before = await events.getJobCountByTypes("waiting", "prioritized");
    const answers = await Promise.all(sent.map((deliveryId) => sendWebhook(url, { name: "push", payload, secret: WEBHOOK_SECRET, deliveryId })));
    assert.deepEqual(
      answers.map((r) => r.status),
      sent.map(() => 200),
    );
    assert.equal(await events.getJobCountByTypes("waiting", "prioritized"), before + ids.length);
    for (const id of ids) assert.equal((await events.getJob(eventJobId(id)))?.data.deliveryId, id);
  });

  it("refuses a payload without a repository with 400 and a plain message, storing nothing", async () => {
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
    delete payload.repository;
    const { res, job } = await deliver("push", payload);
    assert.equal(res.status, 400, res.body);
    assert.deepEqual(JSON.parse(res.body), { error: "push payload has no repository" });
    assert.equal(job, undefined);
  });

  it("refuses a payload its handler cannot read with 400, logging the problem", async () => {
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
    payload.ref = "refs/heads/bad..name";
    const { res, job, deliveryId } = await deliver("push", payload);
    assert.equal(res.status, 400, res.body);
    assert.match(res.body, /malformed push payload: ref .* is not a valid ref name/);
    assert.doesNotMatch(res.body, /Error:|\n\s+at /);
    assert.equal(job, undefined);
    const line = log.lines.find((l) => l.deliveryId === deliveryId && typeof l.msg === "string" && l.msg.includes("malformed push payload"));
    assert.ok(line, "a warning names the problem");
  });

  it("acknowledges events it does not handle", async () => {
    const { res } = await deliver("issues", { action: "opened", installation: { id: 1 } });
    assert.equal(res.status, 200);
  });

  it("keeps secrets out of Redis and the logs", async () => {
    // Put a build job next to the event jobs so both kinds of job data are scanned.
    const builds = new BuildQueue({ connection: redis, prefix, supersedeListener: new RecordingListener() });
    await builds.enqueueBuild(buildInput());
    await builds.close();

    const keyMaterial = privateKey.split("\n")[1]!;
    const values: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === "string") values.push((await redis.get(key)) ?? "");
        else if (type === "hash") values.push(...Object.values(await redis.hgetall(key)));
        else if (type === "list") values.push(...(await redis.lrange(key, 0, -1)));
        else if (type === "zset" || type === "set") values.push(...(type === "set" ? await redis.smembers(key) : await redis.zrange(key, 0, -1)));
        else if (type === "stream") values.push(JSON.stringify(await redis.xrange(key, "-", "+")));
      }
    } while (cursor !== "0");
    assert.ok(values.length > 10, "scanned the stored jobs");
    const all = values.join("\n");
    for (const secret of [WEBHOOK_SECRET, REGISTRY_PASSWORD, keyMaterial]) {
      assert.ok(!all.includes(secret), "a secret reached Redis");
      assert.ok(!log.text().includes(secret), "a secret reached the log");
    }
    assert.equal(findSecretPath(values), undefined);
  });
});
