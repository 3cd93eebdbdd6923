import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { createProducerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { dropPrefix, freshPrefix } from "../queue/queue-test-kit.js";
import { testStack } from "../support/stack/env.js";
import { REGISTRY_PASSWORD, WEBHOOK_SECRET, webEnv } from "./app-test-kit.js";

const MAIN = fileURLToPath(new URL("../../src/app/main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("process entry", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops cleanly on ${signal}`, async () => {
      const stack = testStack();
      const prefix = freshPrefix();
      const { env, port, privateKey } = await webEnv(stack.redisUrl, prefix);
      const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, BUILDKIT_BOT_ROLE: "all", LOG_LEVEL: "info" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (c: Buffer) => (output += c.toString()));
      child.stderr.on("data", (c: Buffer) => (output += c.toString()));
      const redis = await whenReady(createProducerConnection(stack.redisUrl));
      try {
        const deadline = Date.now() + 60_000;
        for (;;) {
          assert.equal(child.exitCode, null, `exited early:\n${output}`);
          const res = await fetch(`http://127.0.0.1:${port}/ping`).catch(() => undefined);
          if (res?.status === 200) break;
          assert.ok(Date.now() < deadline, `never answered /ping:\n${output}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        const exited = once(child, "exit");
        child.kill(signal);
        const [code] = (await exited) as [number | null];
        assert.equal(code, 0, output);
        assert.match(output, /buildkit-bot configuration/, "the configuration is logged at start");
        for (const secret of [REGISTRY_PASSWORD, WEBHOOK_SECRET, privateKey.split("\n")[1]!]) {
          assert.ok(!output.includes(secret), "a secret reached the process output");
        }
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, "exit");
          child.kill("SIGKILL");
          await exited;
        }
        await dropPrefix(redis, prefix);
        await redis.quit();
      }
    });
  }
});
