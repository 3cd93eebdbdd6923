import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BuilderPool, readBuildersFile } from "../../src/builders/index.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { testStack } from "../support/stack/env.js";

const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const stack = testStack();
let dir: string;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
// BUILDKIT_BOT_QUEUE_PREFIX allows no ':', so the command's prefix is one of its own.
const prefix = `builders-cmd-${process.pid}-${Date.now()}`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bkb-builders-cmd-"));
  redisCtx = await redisForTest("builders-cmd");
});
after(async () => {
  const keys = await redisCtx.redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redisCtx.redis.del(...keys);
  await redisCtx?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** The command as an operator runs it, as its own process with the app's environment. */
async function run(args: string[], file: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/app/builders-command.ts", ...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      BUILDKIT_BOT_REDIS_URL: stack.redisUrl,
      BUILDKIT_BOT_QUEUE_PREFIX: prefix,
      BUILDKIT_BOT_REGISTRY: stack.registry,
      BUILDKIT_BOT_BUILDERS_FILE: file,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, output };
}

test("drain and undrain from the command reach a running pool through Redis; status lists the builders", { timeout: 120_000 }, async () => {
  const file = join(dir, "builders.yml");
  await writeFile(file, `builders:\n  - name: engine\n    address: ${stack.buildkitAddr}\n  - name: gone\n    address: tcp://127.0.0.1:1\n    max_concurrent_builds: 2\n`);
  const pool = new BuilderPool({ config: readBuildersFile(file), redis: redisCtx.redis, prefix });

  const drained = await run(["drain", "engine"], file);
  assert.equal(drained.code, 0, drained.output);
  assert.match(drained.output, /engine: draining/);
  assert.equal((await pool.snapshot()).find((b) => b.name === "engine")?.draining, true);

  const status = await run(["status"], file);
  assert.equal(status.code, 0, status.output);
  assert.match(status.output, /^engine\tdocker-engine:\/\/\S+\tdraining\trunning 0\t.*linux\/amd64/m);
  assert.match(status.output, /^gone\ttcp:\/\/127\.0\.0\.1:1\tunavailable \(.+\)\trunning 0\/2\t$/m);

  const undrained = await run(["undrain", "engine"], file);
  assert.equal(undrained.code, 0, undrained.output);
  assert.equal((await pool.snapshot()).find((b) => b.name === "engine")?.draining, false);

  const unknown = await run(["drain", "nope"], file);
  assert.equal(unknown.code, 1);
  assert.match(unknown.output, /no builder is named "nope" \(builders: engine, gone\)/);
  assert.equal((await run(["drain"], file)).code, 2);
});
