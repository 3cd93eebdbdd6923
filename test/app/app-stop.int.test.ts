import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { createProducerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { dropPrefix, freshPrefix } from "../queue/queue-test-kit.js";
import { testStack } from "../support/stack/env.js";

/**
 * The app's stop leaves nothing running: started with its planner (so its config-check threads run) and stopped,
 * the process ends by itself. A thread left running would keep it alive.
 */
test("after the app stops, its process ends by itself: the config-check threads are closed with it", { timeout: 120_000 }, async () => {
  const stack = testStack();
  const prefix = freshPrefix();
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./support/stop-child.ts", import.meta.url)), stack.redisUrl, prefix], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  clearTimeout(killer);
  const redis = await whenReady(createProducerConnection(stack.redisUrl));
  await dropPrefix(redis, prefix);
  await redis.quit();
  assert.equal(signal, null, `still running 90 s after it was started (something kept it alive):\n${output}`);
  assert.equal(code, 0, output);
  const lines = output.trim().split("\n");
  assert.deepEqual(JSON.parse(lines.at(-2)!), { mode: "running", threads: 2 });
  assert.equal(lines.at(-1), "stopped");
});
