import assert from "node:assert/strict";
import { test } from "node:test";
import { releaseConfigThreadsWhileBuilding } from "../../src/app/config-threads-while-building.js";
import { ConfigWorkerPool } from "../../src/planner/config-worker-pool.js";
import type { BuildJob, BuildOutcome } from "../../src/queue/index.js";

/** A build that runs until the test ends it. */
function controllableBuild(): { run: () => Promise<BuildOutcome>; end: () => void; fail: () => void } {
  let end!: () => void;
  let fail!: () => void;
  const done = new Promise<BuildOutcome>((resolve, reject) => {
    end = () => resolve({ pushedTags: [], durationMs: 0, summary: "built" });
    fail = () => reject(new Error("the build failed"));
  });
  return { run: () => done, end, fail };
}

test("a worker holds no fresh config thread while any build runs, and has one ready again after the last", async () => {
  const pool = new ConfigWorkerPool({ size: 2, idleMs: 50 });
  try {
    await pool.start();
    assert.equal(pool.liveThreads, 1, "one fresh thread ready before any build");
    const builds = [controllableBuild(), controllableBuild()];
    let next = 0;
    const processor = releaseConfigThreadsWhileBuilding(() => builds[next++]!.run(), pool);
    const job = {} as BuildJob;
    const signal = new AbortController().signal;

    const first = processor(job, signal);
    assert.equal(pool.liveThreads, 0, "the fresh thread was let go when the build started");
    const second = processor(job, signal).catch((err: Error) => err);
    builds[0]!.end();
    await first;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(pool.liveThreads, 0, "none started while the second build still runs");
    builds[1]!.fail();
    assert.match(String(await second), /the build failed/);
    assert.equal(pool.liveThreads, 1, "a fresh thread is started once the last build has ended, failed or not");
    assert.equal(pool.stats().started, 2);
  } finally {
    await pool.close();
  }
});

test("the wrapped processor gets the build's job, signal and slot as they were given", async () => {
  const seen: unknown[][] = [];
  const processor = releaseConfigThreadsWhileBuilding(
    async (...args) => {
      seen.push(args);
      return { pushedTags: [], durationMs: 0, summary: "built" };
    },
    { keepWarm: () => undefined },
  );
  const job = {} as BuildJob;
  const signal = new AbortController().signal;
  const slot = { free: () => undefined };
  await processor(job, signal, slot);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]![0], job);
  assert.equal(seen[0]![1], signal);
  assert.equal(seen[0]![2], slot, "the slot reaches the build, so it can give it back once pushed");
});
