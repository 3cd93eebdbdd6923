import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createProducerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { dropPrefix } from "../queue/queue-test-kit.js";
import { startAppProcess } from "../support/app-process.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { freePort } from "../support/stack/free-port.js";
import { testStack } from "../support/stack/env.js";
import { CommandError, runCommand } from "../support/stack/run-command.js";
import { adaptPayload, examplePayload } from "../support/webhooks.js";
import { REPO_ROOT, healthcheckArgv, resolvedModel, writeEnvFile } from "./compose-model.js";

/**
 * Issue 13: the real app process started the way docker-compose.yml starts it — NODE_ENV=production, the App's key
 * only as the file PRIVATE_KEY_PATH — against the stack's Redis and the fake GitHub.
 */

const INSTALLATION_ID = 7301;

describe("the app as the compose file runs it (NODE_ENV=production)", () => {
  const stack = testStack();
  const creds = createAppCredentials(7300);
  const webhookSecret = "deploy-test-webhook-secret";
  let dir: string;
  let keyFile: string;
  let github: FakeGitHub;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-production-"));
    keyFile = join(dir, "github-app-private-key");
    await writeFile(keyFile, creds.privateKeyPem, { mode: 0o400 });
    github = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, webhookSecret });
    github.addInstallation(INSTALLATION_ID, "deploy-owner");
  });

  after(async () => {
    await github?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const productionEnv = (port: number): NodeJS.ProcessEnv => ({
    NODE_ENV: "production",
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    APP_ID: String(creds.appId),
    PRIVATE_KEY_PATH: keyFile,
    WEBHOOK_SECRET: webhookSecret,
    GHE_HOST: new URL(github.url).host,
    GHE_PROTOCOL: "http",
    BUILDKIT_BOT_ROLE: "all",
    // The healthcheck is /readyz: ready once a builder answers.
    BUILDKIT_HOST: stack.buildkitAddr,
    BUILDKIT_BOT_REDIS_URL: stack.redisUrl,
    BUILDKIT_BOT_QUEUE_PREFIX: `deploy-${process.pid}-${port}`,
    BUILDKIT_BOT_REGISTRY: `${stack.registry}/deploy`,
    BUILDKIT_BOT_PUBLIC_URL: `http://127.0.0.1:${port}`,
  });

  it("refuses to start without BUILDKIT_BOT_PUBLIC_URL, naming the variable", { timeout: 60_000 }, async () => {
    const env = { ...productionEnv(await freePort()), BUILDKIT_BOT_PUBLIC_URL: undefined };
    const child = spawn(process.execPath, ["--import", "tsx", "src/app/main.ts"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 1, output);
    assert.match(output, /configuration error: BUILDKIT_BOT_PUBLIC_URL: is required when NODE_ENV=production/);
  });

  it("refuses to start when PRIVATE_KEY_PATH names no file, naming the variable and the path", { timeout: 60_000 }, async () => {
    const missing = join(dir, "not-mounted.pem");
    const env = { ...productionEnv(await freePort()), PRIVATE_KEY_PATH: missing };
    const child = spawn(process.execPath, ["--import", "tsx", "src/app/main.ts"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 1, output);
    assert.ok(output.includes(`configuration error: PRIVATE_KEY_PATH: cannot read ${missing}: ENOENT`), output);
  });

  it("signs GitHub requests with the key file at PRIVATE_KEY_PATH, and the compose healthcheck follows the app", { timeout: 120_000 }, async () => {
    const envFile = join(dir, "deploy.env");
    await writeEnvFile(envFile, { APP_ID: "1", WEBHOOK_SECRET: "x", BUILDKIT_BOT_PUBLIC_URL: "https://x.test", PRIVATE_KEY_FILE: keyFile });
    const probe = healthcheckArgv((await resolvedModel(envFile)).services.app!)!;
    const port = await freePort();
    const app = await startAppProcess({ env: productionEnv(port), dir: join(dir, "logs") });
    const healthcheck = async (): Promise<number> => {
      assert.equal(probe[0], "node");
      try {
        await runCommand(process.execPath, probe.slice(1), { env: { PATH: process.env.PATH, PORT: String(port) }, timeoutMs: 10_000 });
        return 0;
      } catch (err) {
        if (err instanceof CommandError) return err.exitCode ?? -1;
        throw err;
      }
    };
    try {
      // Ready once the builder pool's first probe has answered.
      const ready = Date.now() + 30_000;
      while ((await healthcheck()) !== 0 && Date.now() < ready) await new Promise((r) => setTimeout(r, 500));
      assert.equal(await healthcheck(), 0, "healthy while the app runs");

      github.setWebhookUrl(`${app.url}/api/github/webhooks`);
      const payload = adaptPayload(examplePayload("push", undefined, (p) => String(p.ref).startsWith("refs/heads/")), {
        installationId: INSTALLATION_ID,
        repoId: 990001,
        owner: "deploy-owner",
        name: "deployed",
      });
      const delivery = await github.deliver("push", payload);
      assert.ok(delivery.status >= 200 && delivery.status < 300, delivery.body);

      // The planner asks for an installation token, which the fake GitHub mints only for a JWT its public key verifies.
      const deadline = Date.now() + 60_000;
      const tokenCalls = () => github.calls.filter((c) => c.method === "POST" && /\/app\/installations\/\d+\/access_tokens$/.test(c.path));
      while (tokenCalls().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const calls = tokenCalls();
      assert.ok(calls.length > 0, `no installation token was asked for:\n${await app.output()}`);
      assert.equal(calls[0]!.status, 201, `the App JWT was refused:\n${JSON.stringify(calls)}`);
      assert.ok(github.tokens.size > 0);
      const output = await app.output();
      assert.ok(!output.includes(creds.privateKeyPem.split("\n")[1]!), "the key never reaches the logs");
    } finally {
      assert.equal(await app.stop(), 0);
      const redis = await whenReady(createProducerConnection(stack.redisUrl));
      await dropPrefix(redis, String(app.env.BUILDKIT_BOT_QUEUE_PREFIX));
      await redis.quit();
    }
    assert.notEqual(await healthcheck(), 0, "unhealthy once the app is gone");
  });
});
