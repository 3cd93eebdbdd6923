import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import type { EventJob } from "../../src/queue/job-types.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { testDaemons } from "../support/daemons.js";
import { isFirstRunnableDaemon, startE2E } from "./support/e2e-harness.js";
import type { E2E } from "./support/e2e-harness.js";
import { pushPayload, ZERO_SHA } from "./support/payloads.js";
import { eventually } from "./support/wait.js";

/**
 * Issue 18 point 4: a push refused with 503 while Redis is down is built once Redis is back, with nobody touching
 * GitHub: the app's recovery lists the App's deliveries on the fake GitHub, finds the failed one and asks for its
 * redelivery. A delivery GitHub counts as failed although the app stored it is redelivered and still builds once.
 */

const TIMEOUT = 240_000;
const DOCKERFILE = "FROM scratch\nCOPY a.txt /a.txt\n";
// Registered for the first daemon that can run only: the recovery does not depend on the daemon.
const daemon = testDaemons().find((d) => isFirstRunnableDaemon(d)) ?? testDaemons()[0]!;

describe(`e2e: missed-webhook recovery on ${daemon.name}`, { skip: daemon.skip, timeout: 600_000 }, () => {
  let e2e: E2E;
  let events: Queue<EventJob>;

  before(async () => {
    e2e = await startE2E({ name: "recovery", roles: "all", daemon, logLevel: "warn", env: { BUILDKIT_BOT_REDELIVERY_INTERVAL_SECONDS: "2" } });
    events = new Queue<EventJob>(QueueName.Events, { connection: e2e.redisClient, prefix: e2e.queuePrefix });
    events.on("error", () => {});
  });

  after(async () => {
    await events?.close();
    await e2e?.close();
  });

  const eventJobsOf = async (sha: string): Promise<string[]> =>
    (await events.getJobs(["completed", "failed", "active", "waiting", "delayed", "prioritized"])).filter((j) => j?.data.sha === sha).map((j) => j.data.deliveryId);

  it("a push refused while Redis is down is built after Redis is back, without anyone touching GitHub", { timeout: TIMEOUT }, async () => {
    const repo = await e2e.createRepo("missed", { Dockerfile: DOCKERFILE, "a.txt": "0\n" });
    const sha = await e2e.commit(repo, { "a.txt": "refused while Redis was down\n" });
    const payload = pushPayload(repo, { ref: "refs/heads/main", before: ZERO_SHA, after: sha, files: ["a.txt"] });

    await e2e.redis.stop();
    const refused = await e2e.github.deliver("push", payload);
    assert.equal(refused.status, 503, refused.body);
    await e2e.redis.restart();

    const run = await e2e.completedCheckRun(repo, sha, "buildkit-bot / missed", TIMEOUT);
    assert.equal(run.conclusion, "success", `${run.output.title}\n${run.output.summary}`);
    // The first attempt refused; then redeliveries, the last one OK (one that came while the app was still
    // reconnecting to Redis is answered 503 too, and asked again after two passes).
    const attempts = e2e.github.hookDeliveries.filter((d) => d.guid === refused.deliveryId).map((d) => [d.redelivery, d.status]);
    assert.deepEqual(attempts[0], [false, "Invalid HTTP Response: 503"]);
    assert.deepEqual(attempts.at(-1), [true, "OK"]);
    assert.ok(attempts.length <= 4 && attempts.slice(1).every(([redelivery]) => redelivery === true), JSON.stringify(attempts));
    assert.deepEqual(await eventJobsOf(sha), [refused.deliveryId]);
    assert.equal(e2e.checkRuns(repo, { sha, name: "buildkit-bot / missed" }).length, 1);
    // Counted in the metrics of the process that asked.
    const metrics = await (await fetch(`${e2e.worker.url}/metrics`)).text();
    const counted = /^buildkit_bot_webhook_redeliveries_total\{event="push"\} (\d+)$/m.exec(metrics);
    assert.ok(Number(counted?.[1]) >= attempts.length - 1, `redeliveries counted: ${counted?.[0] ?? "none"}`);
  });

  it("a delivery the app stored but GitHub counts as failed is redelivered and builds once", { timeout: TIMEOUT }, async () => {
    const repo = await e2e.createRepo("lost-answer", { Dockerfile: DOCKERFILE, "a.txt": "0\n" });
    const sha = await e2e.commit(repo, { "a.txt": "answer lost\n" });
    const payload = pushPayload(repo, { ref: "refs/heads/main", before: ZERO_SHA, after: sha, files: ["a.txt"] });
    const lost = await e2e.github.deliver("push", payload, { answerLost: true });
    assert.equal(lost.status, 200, "the app stored it");

    const run = await e2e.completedCheckRun(repo, sha, "buildkit-bot / lost-answer", TIMEOUT);
    assert.equal(run.conclusion, "success");
    // The recovery redelivers it (the app answers 200, storing nothing new).
    await eventually(async () => e2e.github.hookDeliveries.some((d) => d.guid === lost.deliveryId && d.redelivery && d.status === "OK"), "the redelivery");
    await e2e.github.redeliveriesSettled();
    assert.deepEqual(await eventJobsOf(sha), [lost.deliveryId], "one event job");
    assert.equal(e2e.checkRuns(repo, { sha, name: "buildkit-bot / lost-answer" }).length, 1, "one check run: built once");
    assert.equal((await e2e.buildJobs()).filter((j) => j.sha === sha).length, 1, "one build");
  });
});
