import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { startBuildkitBot } from "../../src/app/start-app.js";
import type { RunningApp } from "../../src/app/start-app.js";
import type { BuildJob, EventJob } from "../../src/queue/job-types.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { createProducerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { buildInput, dropPrefix, eventually, freshPrefix, RecordingListener } from "../queue/queue-test-kit.js";
import { testStack } from "../support/stack/env.js";
import { adaptPayload, examplePayload, sendWebhook } from "../support/webhooks.js";
import { captureLog, WEBHOOK_SECRET, webEnv } from "./app-test-kit.js";
import { jobInState } from "../support/settled-job.js";

describe("BUILDKIT_BOT_ROLE=all wiring", () => {
  let app: RunningApp;
  let redis: Redis;
  let prefix: string;
  let builds: Queue<BuildJob>;
  let url: string;
  const planned: EventJob[] = [];
  const built: BuildJob[] = [];

  before(async () => {
    const stack = testStack();
    prefix = freshPrefix();
    const e = await webEnv(stack.redisUrl, prefix);
    app = await startBuildkitBot(
      {
        // Stand-ins for the planner and the build processor written elsewhere.
        planner: (shared) => async (job) => {
          planned.push(job);
          const input = buildInput({ sha: job.sha, ref: job.ref, repository: job.repository, supersedeKey: "" });
          await shared.enqueueBuild(input);
        },
        builder: () => async (job, signal) => {
          assert.equal(signal.aborted, false);
          built.push(job);
          return { pushedTags: job.image.tags, durationMs: 1, summary: "built" };
        },
        supersedeListener: () => new RecordingListener(),
      },
      { ...e.env, BUILDKIT_BOT_ROLE: "all" },
      { log: captureLog().logger },
    );
    url = `http://127.0.0.1:${e.port}/api/github/webhooks`;
    redis = await whenReady(createProducerConnection(stack.redisUrl));
    builds = new Queue<BuildJob>(QueueName.Builds, { connection: redis, prefix });
  });

  after(async () => {
    await app?.stop();
    await builds?.close();
    if (redis) {
      await dropPrefix(redis, prefix);
      await redis.quit();
    }
  });

  it("a push webhook reaches the planner, which queues a build that the build worker runs", async () => {
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
    const res = await sendWebhook(url, { name: "push", payload, secret: WEBHOOK_SECRET });
    assert.equal(res.status, 200);
    const build = await eventually(async () => built[0], "the build to run");
    assert.equal(planned[0]?.deliveryId, res.deliveryId);
    assert.equal(build.sha, payload.after);
    assert.equal(build.attempt, 1);
    const job = await eventually(async () => {
      return jobInState(builds, build.buildId, ["completed"]);
    }, "the build job to complete");
    assert.equal(job.returnvalue.summary, "built");
  });
});
