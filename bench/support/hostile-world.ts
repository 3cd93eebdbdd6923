import { randomBytes } from "node:crypto";
import { readFile, rm, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { QueueName } from "../../src/queue/queue-names.js";
import { createAppCredentials } from "../../test/support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../../test/support/fake-github/index.js";
import { startGitServer } from "../../test/support/git-server.js";
import type { GitRepo } from "../../test/support/git-server.js";
import { freePort } from "../../test/support/stack/free-port.js";
import { startRedis } from "../../test/support/stack/redis.js";
import type { BatteryTarget } from "../../test/e2e/support/hostile-battery.js";
import { compileApp, startCompiledApp } from "./compiled-app.js";
import type { LoopProbeWindow } from "./loop-probe.js";

const PROBE = resolve(fileURLToPath(new URL("./loop-probe.ts", import.meta.url)));
const INSTALLATION_ID = 4100;

/**
 * The e2e world (private Redis, git server, fake GitHub) around the app compiled and run as production runs it
 * (support/compiled-app.ts: the Dockerfile's node flags, NODE_ENV=production, default log level, key file), in
 * role `all`, with the event-loop probe (support/loop-probe.ts) preloaded through NODE_OPTIONS.
 */
export interface HostileWorld extends BatteryTarget {
  pid: number;
  url: string;
  /** Ends the probe's current window and returns it (the next one starts at once). */
  probeWindow(): Promise<LoopProbeWindow>;
  close(): Promise<void>;
}

export async function startHostileWorld(opts: {
  scratch: string;
  buildkitAddr: string;
  registry: string;
  /** More NODE_OPTIONS for the app, e.g. `--cpu-prof --cpu-prof-dir=…`. */
  nodeOptions?: string;
}): Promise<HostileWorld> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-bench-hostile-"));
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const redis = await startRedis({ dir: join(dir, "redis") });
    cleanups.push(() => redis.stop());
    const git = await startGitServer();
    cleanups.push(() => git.close());
    const creds = createAppCredentials(7100);
    const secret = `whsec-${randomBytes(12).toString("hex")}`;
    const github = await startFakeGitHub<GitRepo>({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, webhookSecret: secret, gitServer: git });
    cleanups.push(() => github.close());
    const owner = "bench-hostile";
    github.addInstallation(INSTALLATION_ID, owner);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const hookUrl = `${url}/api/github/webhooks`;
    github.setWebhookUrl(hookUrl);

    const main = await compileApp(opts.scratch);
    const keyFile = join(dir, "github-app-private-key");
    await writeFile(keyFile, creds.privateKeyPem, { mode: 0o400 });
    const probeFile = join(dir, "loop-probe.json");
    const queuePrefix = "bench-hostile";
    const app = await startCompiledApp(
      main,
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: "production",
        NODE_OPTIONS: `--import=${PROBE}${opts.nodeOptions ? ` ${opts.nodeOptions}` : ""}`,
        BKB_LOOP_PROBE_FILE: probeFile,
        APP_ID: String(creds.appId),
        PRIVATE_KEY_PATH: keyFile,
        WEBHOOK_SECRET: secret,
        HOST: "127.0.0.1",
        PORT: String(port),
        GHE_HOST: new URL(github.url).host,
        GHE_PROTOCOL: "http",
        BUILDKIT_BOT_ROLE: "all",
        BUILDKIT_BOT_REDIS_URL: redis.url,
        BUILDKIT_HOST: opts.buildkitAddr,
        BUILDKIT_BOT_REGISTRY: `${opts.registry}/bench-hostile`,
        BUILDKIT_BOT_PUBLIC_URL: url,
        BUILDKIT_BOT_GIT_URL: git.url,
        BUILDKIT_BOT_QUEUE_PREFIX: queuePrefix,
      },
      join(dir, "logs"),
      "app",
    );
    cleanups.push(() => app.stop());
    await waitReady(url, redis.url, queuePrefix, join(dir, "logs", "app.log"));

    let seq = 0;
    const probeWindow = async (): Promise<LoopProbeWindow> => {
      process.kill(app.pid, "SIGUSR2");
      const deadline = Date.now() + 60_000;
      for (;;) {
        const text = await readFile(probeFile, "utf8").catch(() => "");
        if (text) {
          const window = JSON.parse(text) as LoopProbeWindow;
          if (window.seq > seq) {
            seq = window.seq;
            return window;
          }
        }
        if (Date.now() > deadline) throw new Error(`the loop probe in the app (pid ${app.pid}) wrote nothing to ${probeFile} within 60 s`);
        await sleep(20);
      }
    };
    await probeWindow();

    return { hookUrl, secret, github, installationId: INSTALLATION_ID, owner, pid: app.pid, url, probeWindow, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Until the app answers /ping and its planner and build workers are registered with BullMQ. */
async function waitReady(url: string, redisUrl: string, prefix: string, logFile: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const up = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (up && (await workersRegistered(redis, prefix))) return;
      if (Date.now() > deadline) {
        const log = await readFile(logFile, "utf8").catch(() => "");
        throw new Error(`the compiled app was not ready within 60 s:\n${log.split("\n").slice(-20).join("\n")}`);
      }
      await sleep(200);
    }
  } finally {
    await redis.quit();
  }
}

async function workersRegistered(redis: Redis, prefix: string): Promise<boolean> {
  for (const name of [QueueName.Events, QueueName.Builds]) {
    const queue = new Queue(name, { connection: redis, prefix });
    try {
      if ((await queue.getWorkers()).length === 0) return false;
    } finally {
      await queue.close();
    }
  }
  return true;
}
