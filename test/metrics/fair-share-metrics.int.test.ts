import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BuilderPool, parseBuildersFile } from "../../src/builders/index.js";
import { metricsRegistry, watchSources } from "../../src/metrics/index.js";
import { FairShare } from "../../src/queue/index.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { parseMetrics, sampleSum } from "../support/metrics-text.js";
import { NO_BUILDKITD_HINT } from "../support/stack/buildkitd-binary.js";
import { testStack } from "../support/stack/env.js";

/**
 * The fair share's snapshot as the metrics read it in a role without a builder pool (web): builds waiting for a
 * builder are counted apart from those waiting for a turn, and the builds running on each builder come from the
 * pool's leases in Redis. Real Redis and the stack's buildkitd.
 */
const stack = testStack();

describe("the fair share in the metrics", { skip: stack.buildkitdAddr ? false : NO_BUILDKITD_HINT }, () => {
  let redisCtx: Awaited<ReturnType<typeof redisForTest>>;

  before(async () => {
    redisCtx = await redisForTest("fair-share-metrics");
  });
  after(async () => {
    await redisCtx?.cleanup();
  });

  it("shows builds waiting for a builder per installation, and running builds per builder without a pool of its own", { timeout: 60_000 }, async () => {
    const { redis, prefix } = redisCtx;
    const fair = new FairShare(redis, prefix);
    const holder = "metrics-test";
    // Installation 5: one build let through that found its builders full, one still waiting for a turn.
    await fair.enqueue(5, 0, "bld-5-blocked", 0);
    await fair.enqueue(5, 0, "bld-5-listed", 0);
    const taken = await fair.take(holder);
    assert.equal(taken?.buildId, "bld-5-blocked");
    assert.equal(await fair.acquire(holder, 5, 0, "bld-5-blocked"), true);
    await fair.block(holder, 5, 0, "bld-5-blocked");
    // A build of another process holds a builder of the pool.
    const pool = new BuilderPool({ config: parseBuildersFile(`builders:\n  - name: metered\n    address: ${stack.buildkitdAddr}\n`, "/test/builders.yml"), redis, prefix, connectTimeoutMs: 3_000 });
    await pool.probe();
    const lease = await pool.acquire({ buildId: "bld-6-elsewhere", key: "6/1/app", platforms: [] });
    const unwatch = watchSources({ fairShare: () => fair.snapshot() });
    try {
      const samples = parseMetrics(await metricsRegistry.metrics());
      const inst = (state: string): number => sampleSum(samples, "buildkit_bot_installation_builds", { installation: "5", state });
      assert.equal(inst("waiting_for_builder"), 1);
      assert.equal(inst("waiting"), 1);
      assert.equal(inst("running"), 0, "the blocked build gave its slot back");
      assert.equal(sampleSum(samples, "buildkit_bot_builder_running_builds", { builder: "metered" }), 1);
    } finally {
      unwatch();
      await lease.release();
      await pool.close();
    }
  });
});
