import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AppConfigError, loadAppConfig } from "../../src/app/app-config.js";
import { startAppProcess } from "../support/app-process.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { testStack } from "../support/stack/env.js";

const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const TOKEN = "tenant-token-Vb7-never-logged";

describe("BUILDKIT_BOT_TENANTS_FILE at start-up", () => {
  const creds = createAppCredentials(7400);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-tenants-start-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const baseEnv = (tenantsFile: string): NodeJS.ProcessEnv => ({
    APP_ID: String(creds.appId),
    PRIVATE_KEY: creds.privateKeyPem,
    BUILDKIT_BOT_ROLE: "worker",
    // The worker's operator listener (/metrics, /healthz, /readyz) on any free port.
    PORT: "0",
    BUILDKIT_BOT_REDIS_URL: testStack().redisUrl,
    BUILDKIT_BOT_QUEUE_PREFIX: `tenants-start-${process.pid}`,
    BUILDKIT_BOT_REGISTRY: "127.0.0.1:5000",
    BUILDKIT_BOT_TENANTS_FILE: tenantsFile,
    LOG_FORMAT: "json",
  });

  /** Runs the app's entry as a process; resolves its exit code and output. */
  async function runMain(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, ["--import", "tsx", "src/app/main.ts"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    return { code, output };
  }

  it("an invalid file stops the app with exit 1 and file:line: reason", { timeout: 60_000 }, async () => {
    const file = join(dir, "invalid.yml");
    await writeFile(file, "unlisted_accounts: refuse\naccounts:\n  - login: acme\n    fork_policy: sometimes\n");
    const { code, output } = await runMain(baseEnv(file));
    assert.equal(code, 1, output);
    assert.ok(
      output.includes(`buildkit-bot: configuration error: BUILDKIT_BOT_TENANTS_FILE: ${file}:4: accounts[0].fork_policy: must be one of "build", "approve", "never"`),
      output,
    );
  });

  it("a credential variable that is not set stops the app naming the account and the variable, never a value", { timeout: 60_000 }, async () => {
    const file = join(dir, "unset.yml");
    await writeFile(
      file,
      "unlisted_accounts: serve\naccounts:\n  - login: acme\n    registry:\n      prefix: ghcr.io\n      credentials:\n        username: acme-bot\n        password_env: ACME_GHCR_TOKEN\n",
    );
    const { code, output } = await runMain(baseEnv(file));
    assert.equal(code, 1, output);
    assert.ok(output.includes(`${file}:8: accounts[0].registry.credentials.password_env (acme): the environment variable ACME_GHCR_TOKEN is not set`), output);
  });

  it("a valid file starts the app; its configuration log shows the tenants without a credential's value", { timeout: 90_000 }, async () => {
    const file = join(dir, "valid.yml");
    await writeFile(
      file,
      "unlisted_accounts: refuse\naccounts:\n  - login: acme\n    registry:\n      prefix: ghcr.io\n      credentials:\n        username: acme-bot\n        password_env: ACME_GHCR_TOKEN\n",
    );
    const app = await startAppProcess({ env: { ...baseEnv(file), ACME_GHCR_TOKEN: TOKEN }, dir: join(dir, "logs"), name: "tenants" });
    try {
      const output = await app.output();
      const line = output.split("\n").find((l) => l.includes("buildkit-bot configuration"));
      assert.ok(line, output);
      const logged = JSON.parse(line) as { config: { tenants: { file: string; unlistedAccounts: string; accounts: Array<Record<string, unknown>> } } };
      assert.equal(logged.config.tenants.file, file);
      assert.equal(logged.config.tenants.unlistedAccounts, "refuse");
      assert.deepEqual(logged.config.tenants.accounts[0], {
        login: "acme",
        registry: { prefix: "ghcr.io", credentials: { username: "acme-bot", password: "***" } },
        forkPolicy: "build",
      });
      assert.ok(!output.includes(TOKEN));
    } finally {
      await app.stop();
    }
  });
});

describe("loadAppConfig and the tenants file", () => {
  const env = { BUILDKIT_BOT_REDIS_URL: "redis://127.0.0.1:6379", BUILDKIT_BOT_REGISTRY: "127.0.0.1:5000/builds" };

  it("without a file: every account is served from BUILDKIT_BOT_REGISTRY, owner-scoped, with BUILDKIT_BOT_CONFIG_LIMITS", () => {
    const config = loadAppConfig({ ...env, BUILDKIT_BOT_CONFIG_LIMITS: "images=70" });
    const policy = config.tenants.policyFor({ accountLogin: "Acme", installationId: 3 });
    assert.ok(policy.served);
    assert.deepEqual(policy.namespaces, ["127.0.0.1:5000/builds/acme/"]);
    assert.equal(policy.repoConfigLimits.images, 70);
    assert.equal(config.describe().tenants && (config.describe().tenants as { file: unknown }).file, null);
  });

  it("with a file: its config_limits override BUILDKIT_BOT_CONFIG_LIMITS per account", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bkb-tenants-cfg-"));
    try {
      const file = join(dir, "tenants.yml");
      await writeFile(file, "unlisted_accounts: serve\naccounts:\n  - login: big\n    config_limits: { images: 200 }\n");
      const config = loadAppConfig({ ...env, BUILDKIT_BOT_CONFIG_LIMITS: "images=70,tagsPerImage=25", BUILDKIT_BOT_TENANTS_FILE: file });
      const big = config.tenants.policyFor({ accountLogin: "big", installationId: 1 });
      const small = config.tenants.policyFor({ accountLogin: "small", installationId: 2 });
      assert.ok(big.served && small.served);
      assert.equal(big.repoConfigLimits.images, 200);
      assert.equal(big.repoConfigLimits.tagsPerImage, 25);
      assert.equal(small.repoConfigLimits.images, 70);
      const missing = join(dir, "missing.yml");
      assert.throws(
        () => loadAppConfig({ ...env, BUILDKIT_BOT_TENANTS_FILE: missing }),
        (err: unknown) => err instanceof AppConfigError && err.variable === "BUILDKIT_BOT_TENANTS_FILE" && err.message.includes(`${missing}:1: cannot be read (ENOENT)`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
