import assert from "node:assert/strict";
import { inspect } from "node:util";
import { describe, it } from "node:test";
import { AppConfigError, loadAppConfig } from "../../src/app/app-config.js";

const base = {
  BUILDKIT_BOT_REDIS_URL: "redis://:hunter2@127.0.0.1:6379/0",
  BUILDKIT_BOT_REGISTRY: "ghcr.io/acme",
};

function fails(env: NodeJS.ProcessEnv, variable: string): void {
  assert.throws(
    () => loadAppConfig(env),
    (err: unknown) => err instanceof AppConfigError && err.variable === variable && err.message.startsWith(variable),
  );
}

describe("loadAppConfig", () => {
  it("reads a minimal environment with defaults", () => {
    const c = loadAppConfig({ ...base });
    assert.equal(c.role, "all");
    assert.equal(c.redisUrl, base.BUILDKIT_BOT_REDIS_URL);
    assert.equal(c.buildkitHost, "unix:///run/buildkit/buildkitd.sock");
    assert.deepEqual(c.registry, { prefix: "ghcr.io/acme", host: "ghcr.io" });
    assert.equal(c.workerConcurrency, 2);
    assert.deepEqual(c.github, { host: "github.com", apiBaseUrl: "https://api.github.com", gitBaseUrl: "https://github.com" });
    assert.equal(c.appId, undefined);
  });

  it("does not take Probot's REDIS_URL", () => {
    fails({ REDIS_URL: "redis://127.0.0.1:6379", BUILDKIT_BOT_REGISTRY: "ghcr.io/acme" }, "BUILDKIT_BOT_REDIS_URL");
  });

  it("derives API and git hosts from GHE_HOST", () => {
    const c = loadAppConfig({ ...base, GHE_HOST: "github.example.com" });
    assert.deepEqual(c.github, {
      host: "github.example.com",
      apiBaseUrl: "https://github.example.com/api/v3",
      gitBaseUrl: "https://github.example.com",
    });
    fails({ ...base, GHE_HOST: "https://github.example.com" }, "GHE_HOST");
  });

  it("validates each variable with a message naming it", () => {
    fails({ ...base, BUILDKIT_BOT_REDIS_URL: "http://x" }, "BUILDKIT_BOT_REDIS_URL");
    fails({ ...base, BUILDKIT_BOT_REGISTRY: "https://ghcr.io/acme" }, "BUILDKIT_BOT_REGISTRY");
    fails({ ...base, BUILDKIT_BOT_REGISTRY: "ghcr.io/Acme" }, "BUILDKIT_BOT_REGISTRY");
    fails({ ...base, BUILDKIT_BOT_REGISTRY: undefined }, "BUILDKIT_BOT_REGISTRY");
    fails({ ...base, BUILDKIT_BOT_REGISTRY_USERNAME: "bot" }, "BUILDKIT_BOT_REGISTRY_PASSWORD");
    fails({ ...base, BUILDKIT_BOT_CONCURRENCY: "0" }, "BUILDKIT_BOT_CONCURRENCY");
    fails({ ...base, BUILDKIT_BOT_CONCURRENCY: "two" }, "BUILDKIT_BOT_CONCURRENCY");
    fails({ ...base, BUILDKIT_HOST: "/run/buildkit.sock" }, "BUILDKIT_HOST");
    fails({ ...base, BUILDKIT_BOT_ROLE: "both" }, "BUILDKIT_BOT_ROLE");
    fails({ ...base, BUILDKIT_BOT_PUBLIC_URL: "ftp://x" }, "BUILDKIT_BOT_PUBLIC_URL");
    fails({ ...base, APP_ID: "abc" }, "APP_ID");
  });

  it("requires WEBHOOK_SECRET in production for the roles that take webhooks", () => {
    const production = { ...base, NODE_ENV: "production", BUILDKIT_BOT_PUBLIC_URL: "https://bot.example.com" };
    fails(production, "WEBHOOK_SECRET");
    fails({ ...production, BUILDKIT_BOT_ROLE: "web" }, "WEBHOOK_SECRET");
    assert.equal(loadAppConfig({ ...production, BUILDKIT_BOT_ROLE: "worker" }).role, "worker");
    assert.equal(loadAppConfig({ ...production, WEBHOOK_SECRET: "s3cret" }).role, "all");
  });

  it("takes the repository config limits from BUILDKIT_BOT_CONFIG_LIMITS, refusing a malformed value by name", () => {
    assert.equal(loadAppConfig({ ...base }).repoConfigLimits.images, 50);
    const raised = loadAppConfig({ ...base, BUILDKIT_BOT_CONFIG_LIMITS: "images=120,fileBytes=262144" }).repoConfigLimits;
    assert.equal(raised.images, 120);
    assert.equal(raised.fileBytes, 262_144);
    assert.equal(raised.tagsPerImage, 20);
    fails({ ...base, BUILDKIT_BOT_CONFIG_LIMITS: "images=lots" }, "BUILDKIT_BOT_CONFIG_LIMITS");
    fails({ ...base, BUILDKIT_BOT_CONFIG_LIMITS: "{not json" }, "BUILDKIT_BOT_CONFIG_LIMITS");
    assert.throws(() => loadAppConfig({ ...base, BUILDKIT_BOT_CONFIG_LIMITS: "frobs=1" }), /^AppConfigError: BUILDKIT_BOT_CONFIG_LIMITS: unknown limit "frobs"/);
  });

  it("requires BUILDKIT_BOT_PUBLIC_URL in production, naming the variable and NODE_ENV", () => {
    assert.throws(
      () => loadAppConfig({ ...base, NODE_ENV: "production" }),
      (err: unknown) =>
        err instanceof AppConfigError &&
        err.variable === "BUILDKIT_BOT_PUBLIC_URL" &&
        /^BUILDKIT_BOT_PUBLIC_URL: is required when NODE_ENV=production/.test(err.message),
    );
    fails({ ...base, NODE_ENV: "production", BUILDKIT_BOT_PUBLIC_URL: "  " }, "BUILDKIT_BOT_PUBLIC_URL");
    assert.equal(loadAppConfig({ ...base, NODE_ENV: "production", WEBHOOK_SECRET: "s", BUILDKIT_BOT_PUBLIC_URL: "https://bkb.example.com" }).publicBaseUrl, "https://bkb.example.com");
    assert.equal(loadAppConfig({ ...base, NODE_ENV: "development" }).publicBaseUrl, undefined, "optional outside production");
  });

  it("never shows secrets when logged, stringified or inspected", () => {
    const c = loadAppConfig({
      ...base,
      BUILDKIT_BOT_REGISTRY: "127.0.0.1:5000/acme",
      BUILDKIT_BOT_REGISTRY_USERNAME: "bot",
      BUILDKIT_BOT_REGISTRY_PASSWORD: "s3cr3t-pass",
      BUILDKIT_BOT_PUBLIC_URL: "https://bkb.example.com/",
      APP_ID: "123",
      BUILDKIT_BOT_ROLE: "worker",
      BUILDKIT_BOT_CONCURRENCY: "4",
      BUILDKIT_BOT_ADMIN_TOKEN: "admin-token-0f3b9c2e",
    });
    assert.equal(c.registry.credentials?.password, "s3cr3t-pass", "the value itself stays usable");
    assert.equal(c.adminToken, "admin-token-0f3b9c2e");
    assert.equal(c.registry.host, "127.0.0.1:5000");
    assert.equal(c.publicBaseUrl, "https://bkb.example.com");
    assert.equal(c.appId, 123);
    for (const shown of [JSON.stringify(c), inspect(c, { depth: 10 }), JSON.stringify(c.describe())]) {
      assert.ok(!shown.includes("s3cr3t-pass"), shown);
      assert.ok(!shown.includes("hunter2"), shown);
      assert.ok(!shown.includes("admin-token-0f3b9c2e"), shown);
      assert.ok(shown.includes("***"));
      assert.ok(shown.includes("bot"), "the username is not a secret");
    }
  });

  it("turns the queue view on only with BUILDKIT_BOT_ADMIN_TOKEN, refusing a short one (no default)", () => {
    assert.equal(loadAppConfig({ ...base }).adminToken, undefined);
    assert.equal(loadAppConfig({ ...base }).describe().queueView, "off");
    fails({ ...base, BUILDKIT_BOT_ADMIN_TOKEN: "short" }, "BUILDKIT_BOT_ADMIN_TOKEN");
    assert.deepEqual(loadAppConfig({ ...base, BUILDKIT_BOT_ADMIN_TOKEN: "x".repeat(16) }).describe().queueView, { path: "/admin/queues", password: "***" });
  });

  it("reads the missed-webhook recovery's interval, window and rate, the window within the 3 days deliveries are deduplicated", () => {
    assert.deepEqual(loadAppConfig({ ...base }).redelivery, { intervalMs: 300_000, windowMs: 24 * 3_600_000, perMinute: 30 });
    const c = loadAppConfig({ ...base, BUILDKIT_BOT_REDELIVERY_INTERVAL_SECONDS: "0", BUILDKIT_BOT_REDELIVERY_WINDOW_HOURS: "72", BUILDKIT_BOT_REDELIVERIES_PER_MINUTE: "5" });
    assert.deepEqual(c.redelivery, { intervalMs: 0, windowMs: 72 * 3_600_000, perMinute: 5 });
    assert.equal(c.describe().redelivery, "off");
    fails({ ...base, BUILDKIT_BOT_REDELIVERY_WINDOW_HOURS: "73" }, "BUILDKIT_BOT_REDELIVERY_WINDOW_HOURS");
    fails({ ...base, BUILDKIT_BOT_REDELIVERY_INTERVAL_SECONDS: "often" }, "BUILDKIT_BOT_REDELIVERY_INTERVAL_SECONDS");
    fails({ ...base, BUILDKIT_BOT_REDELIVERIES_PER_MINUTE: "0" }, "BUILDKIT_BOT_REDELIVERIES_PER_MINUTE");
  });
});
