import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { BuildQueue } from "../../src/queue/build-queue.js";
import { createProducerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { supersededMessage } from "../../src/queue/supersede-listener.js";
import { buildInput, dropPrefix, eventually, freshPrefix, RecordingListener, redisUrl } from "./queue-test-kit.js";
import { jobInState } from "../support/settled-job.js";

const CHILD = fileURLToPath(new URL("./fixtures/child-build-worker.ts", import.meta.url));

describe("cancel message across processes", () => {
  let producer: Redis;
  let prefix: string;
  let queue: BuildQueue;
  let child: ChildProcess;
  const lines: string[] = [];

  before(async () => {
    producer = await whenReady(createProducerConnection(redisUrl()));
    prefix = freshPrefix();
    queue = new BuildQueue({ connection: producer, prefix, supersedeListener: new RecordingListener(), retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 } });
    child = spawn(process.execPath, ["--import", "tsx", CHILD], {
      env: { ...process.env, CHILD_REDIS_URL: redisUrl(), CHILD_PREFIX: prefix },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buffer = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      lines.push(...parts);
    });
    await eventually(async () => (lines.includes("ready") ? true : undefined), "the child worker to be ready", 60_000);
  });

  after(async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    await queue.close();
    await dropPrefix(producer, prefix);
    await producer.quit();
  });

  it("reaches the worker process running the superseded build, which aborts it", async () => {
    const running = await queue.enqueueBuild(buildInput({ image: "slow" }));
    await eventually(async () => (lines.includes(`started ${running.buildId}`) ? true : undefined), "the child to start the build");

    const newer = await queue.enqueueBuild(buildInput({ image: "fast", supersedeKey: running.supersedeKey }));
    await eventually(
      async () => (lines.some((l) => l.startsWith(`aborted ${running.buildId} `)) ? true : undefined),
      "the child to abort the build",
    );
    assert.ok(lines.includes(`aborted ${running.buildId} ${supersededMessage(newer.sha)}`), lines.join("\n"));

    const job = await eventually(async () => {
      return jobInState(queue.queue, running.buildId, ["failed"]);
    }, "the job to fail");
    assert.equal(job.failedReason, supersededMessage(newer.sha));
    assert.equal(job.attemptsMade, 1);
    await eventually(async () => (lines.includes(`reported ${running.buildId} ${newer.sha}`) ? true : undefined), "the report");
    assert.equal(lines.filter((l) => l === `started ${running.buildId}`).length, 1, "not retried");
  });
});
