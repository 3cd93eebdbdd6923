import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AppConfigError, installationBuildCap, loadAppConfig } from "../../src/app/app-config.js";

const base = { BUILDKIT_BOT_REDIS_URL: "redis://127.0.0.1:6379/0", BUILDKIT_BOT_REGISTRY: "ghcr.io/acme" };

describe("the per-installation build cap", () => {
  const dir = mkdtempSync(join(tmpdir(), "bkb-cap-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const tenants = (text: string): string => {
    const file = join(dir, `tenants-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(file, text);
    return file;
  };

  it("is the tenants file's entry, else its defaults, else BUILDKIT_BOT_MAX_CONCURRENT_BUILDS, else none", () => {
    const file = tenants("unlisted_accounts: serve\naccounts:\n  - login: acme\n    max_concurrent_builds: 6\n  - installation_id: 77\n");
    const withDefault = loadAppConfig({ ...base, BUILDKIT_BOT_TENANTS_FILE: file, BUILDKIT_BOT_MAX_CONCURRENT_BUILDS: "3" });
    assert.equal(withDefault.maxConcurrentBuilds, 3);
    assert.equal(installationBuildCap(withDefault, { owner: "ACME", installationId: 1 }), 6);
    assert.equal(installationBuildCap(withDefault, { owner: "other", installationId: 77 }), 3);
    assert.equal(installationBuildCap(withDefault, { owner: "unlisted", installationId: 2 }), 3);

    const fileDefaults = tenants("unlisted_accounts: serve\ndefaults:\n  max_concurrent_builds: 2\naccounts:\n  - login: acme\n");
    const c = loadAppConfig({ ...base, BUILDKIT_BOT_TENANTS_FILE: fileDefaults, BUILDKIT_BOT_MAX_CONCURRENT_BUILDS: "5" });
    assert.equal(installationBuildCap(c, { owner: "acme", installationId: 1 }), 2);
    assert.equal(installationBuildCap(c, { owner: "unlisted", installationId: 2 }), 2);

    const none = loadAppConfig({ ...base });
    assert.equal(none.maxConcurrentBuilds, undefined);
    assert.equal(installationBuildCap(none, { owner: "acme", installationId: 1 }), undefined);
  });

  it("refuses a default that is not a count", () => {
    for (const bad of ["0", "-1", "two", "1.5"]) {
      assert.throws(() => loadAppConfig({ ...base, BUILDKIT_BOT_MAX_CONCURRENT_BUILDS: bad }), (err: unknown) => err instanceof AppConfigError && err.variable === "BUILDKIT_BOT_MAX_CONCURRENT_BUILDS");
    }
  });
});
