import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { createProducerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { dropPrefix, freshPrefix } from "../queue/queue-test-kit.js";
import { startAppProcess } from "../support/app-process.js";
import type { AppProcess } from "../support/app-process.js";
import { testStack } from "../support/stack/env.js";
import { webEnv } from "./app-test-kit.js";

/** Probot's logging variables reach the logger of every role, the worker's included (it has no `run()`). */
describe("LOG_FORMAT and LOG_LEVEL_IN_STRING", () => {
  let dir: string;
  let redis: Redis;
  let prefix: string;
  const apps: AppProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-log-format-"));
    prefix = freshPrefix();
    redis = await whenReady(createProducerConnection(testStack().redisUrl));
  });

  after(async () => {
    for (const app of apps) await app.stop();
    await dropPrefix(redis, prefix);
    await redis.quit();
    await rm(dir, { recursive: true, force: true });
  });

  for (const role of ["worker", "all"] as const) {
    it(`BUILDKIT_BOT_ROLE=${role}: every line on stdout is a JSON record, the level as a string`, { timeout: 120_000 }, async () => {
      const { env } = await webEnv(testStack().redisUrl, prefix);
      const app = await startAppProcess({
        dir,
        name: role,
        env: { ...env, BUILDKIT_BOT_ROLE: role, LOG_LEVEL: "info", LOG_FORMAT: "json", LOG_LEVEL_IN_STRING: "true", BUILDKIT_HOST: testStack().buildkitAddr },
        ready: /buildkit-bot configuration/,
      });
      apps.push(app);
      // Read while it runs: main.ts announces a SIGTERM on the console, outside the logger.
      const lines = (await readFile(app.stdoutFile, "utf8")).split("\n").filter((l) => l.trim() !== "");
      await app.stop();
      assert.ok(lines.length > 0, "the app logged");
      const records = lines.map((line) => {
        try {
          return JSON.parse(line) as { level?: unknown; msg?: unknown };
        } catch {
          assert.fail(`not a JSON log line: ${line}`);
        }
      });
      const config = records.find((r) => r.msg === "buildkit-bot configuration");
      assert.ok(config, `the configuration line is among ${lines.length} JSON lines`);
      assert.equal(config.level, "info");
    });
  }
});
