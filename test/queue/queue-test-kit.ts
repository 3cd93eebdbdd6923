import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { BuildJobInput } from "../../src/queue/build-queue.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import type { SupersededBy, SupersedeListener } from "../../src/queue/supersede-listener.js";
import { testStack } from "../support/stack/env.js";

/** Shared pieces of the queue integration tests (not a test file itself). */

export function redisUrl(): string {
  return testStack().redisUrl;
}

/** A prefix no other test uses; everything under it is deleted by `dropPrefix`. */
export function freshPrefix(): string {
  return `bkbt-${randomUUID().slice(0, 8)}`;
}

export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
}

export class RecordingListener implements SupersedeListener {
  readonly calls: Array<{ build: BuildJob; by: SupersededBy }> = [];
  private waiters: Array<() => void> = [];
  async superseded(build: BuildJob, by: SupersededBy): Promise<void> {
    this.calls.push({ build, by });
    for (const w of this.waiters.splice(0)) w();
  }
  async waitFor(count: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.calls.length < count) {
      if (Date.now() > deadline) throw new Error(`the listener saw ${this.calls.length} of ${count} calls`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }
}

let counter = 0;

/** A build job as the planner would hand it over; `over` adjusts fields. */
export function buildInput(over: Partial<Omit<BuildJobInput, "image">> & { image?: string } = {}): BuildJobInput {
  counter++;
  const sha = over.sha ?? `${counter.toString(16).padStart(8, "0")}${"c".repeat(32)}`;
  const { image: imageName, ...rest } = over;
  return {
    reason: "push",
    repository: {
      installationId: 11,
      repoId: 22,
      owner: "acme",
      repo: "widgets",
      private: false,
      defaultBranch: "main",
      cloneUrl: "https://github.com/acme/widgets.git",
    },
    sha,
    gitRef: sha,
    image: {
      name: imageName ?? "api",
      context: "",
      dockerfile: "Dockerfile",
      platforms: ["linux/amd64"],
      buildArgs: {},
      tags: [`127.0.0.1:5000/acme/${imageName ?? "api"}:main`],
      push: true,
      cache: { imports: [] },
    },
    checkRunId: 1000 + counter,
    supersedeKey: "22/branch/main",
    noCache: false,
    fork: false,
    ref: "refs/heads/main",
    ...rest,
  };
}

/** Polls until `check` returns a value (not undefined) or the timeout passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
