import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BuilderPool, parseBuildersFile } from "../../src/builders/index.js";
import { metricsRegistry, recordFailover } from "../../src/metrics/index.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { parseMetrics, sampleSum } from "../support/metrics-text.js";
import { NO_BUILDKITD_HINT } from "../support/stack/buildkitd-binary.js";
import { testStack } from "../support/stack/env.js";
import { tcpPipe } from "../support/tcp-pipe.js";
import type { TcpPipe } from "../support/tcp-pipe.js";

/**
 * Failovers reach the metrics: a builder that answered its probe refuses the build's connection (the build goes to the
 * next builder), then the builder the build got dies under it. Two real builders: the stack's buildkitd, once behind
 * a pipe that can be taken down.
 */
const stack = testStack();
const skip = stack.buildkitdAddr ? false : NO_BUILDKITD_HINT;

describe("builder failovers in the metrics", { skip }, () => {
  let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
  let pipe: TcpPipe;

  before(async () => {
    redisCtx = await redisForTest("failover-metrics");
    pipe = await tcpPipe(stack.buildkitdAddr as string);
  });

  after(async () => {
    await pipe?.close();
    await redisCtx?.cleanup();
  });

  const failovers = async (builder: string, kind: string): Promise<number> => sampleSum(parseMetrics(await metricsRegistry.metrics()), "buildkit_bot_builder_failovers_total", { builder, kind });

  it("counts a refused connection against the builder that refused, and a lost build against the one it was lost on", { timeout: 120_000 }, async () => {
    const config = parseBuildersFile(
      `health: { interval_seconds: 3600, failures_before_unavailable: 2 }\nbuilders:\n  - name: flaky\n    address: ${pipe.address}\n  - name: steady\n    address: ${stack.buildkitdAddr}\n`,
      "/test/builders.yml",
    );
    const before = { refused: await failovers("flaky", "refused"), lost: await failovers("steady", "lost") };
    const pool = new BuilderPool({
      config,
      redis: redisCtx.redis,
      prefix: redisCtx.prefix,
      connectTimeoutMs: 3_000,
      onFailover: recordFailover,
      // flaky first whenever it is available: the refusal is certain.
      choose: (_key, _required, candidates) => {
        const usable = ["flaky", "steady"].map((n) => candidates.find((c) => c.name === n)).find((c) => c?.available && !c.draining);
        return usable ? { kind: "chosen", name: usable.name } : { kind: "unservable", platforms: [] };
      },
    });
    try {
      await pool.probe();
      assert.deepEqual((await pool.snapshot()).map((b) => [b.name, b.available]), [["flaky", true], ["steady", true]]);
      await pipe.down();
      const request = { buildId: "b-failover", key: "1/2/app", platforms: [] };
      const lease = await pool.acquire(request);
      try {
        assert.equal(lease.name, "steady");
        assert.deepEqual(lease.skipped.map((s) => s.name), ["flaky"]);
      } finally {
        await lease.release();
      }
      await pool.lost(request, "steady", "the connection was cut mid-build");
      assert.equal((await failovers("flaky", "refused")) - before.refused, 1);
      assert.equal((await failovers("steady", "lost")) - before.lost, 1);
      assert.equal(await failovers("steady", "refused"), 0);
    } finally {
      await pool.close();
    }
  });
});
