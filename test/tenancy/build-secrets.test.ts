import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import { loadTenants, secretIdsForRepository, secretsForRepository, singleRegistryTenants, TenantsFileError } from "../../src/tenancy/index.js";
import type { ServedTenant, TenancyDefaults, TenantPolicy } from "../../src/tenancy/index.js";

const NPM_VALUE = "npm_Zx91-never-shown";
const LICENSE_VALUE = "license-Q7-never-shown";
const defaults: TenancyDefaults = { registry: { prefix: "127.0.0.1:5000/b", host: "127.0.0.1:5000" }, repoConfigLimits: DEFAULT_CONFIG_LIMITS };

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bkb-build-secrets-"));
  await writeFile(join(dir, "license.txt"), `${LICENSE_VALUE}\n`);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(text: string, env: NodeJS.ProcessEnv = {}): Promise<ReturnType<typeof loadTenants>> {
  const path = join(dir, `tenants-${++n}.yml`);
  await writeFile(path, text);
  return loadTenants(path, defaults, env);
}

async function refusal(text: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    await load(text, env);
  } catch (err) {
    assert.ok(err instanceof TenantsFileError, String(err));
    return err.message;
  }
  return assert.fail("the file was accepted");
}

function served(policy: TenantPolicy): ServedTenant {
  assert.equal(policy.served, true);
  return policy as ServedTenant;
}

const VALID = [
  "unlisted_accounts: serve",
  "accounts:",
  "  - login: acme",
  "    build_secrets:",
  "      - id: npm_token",
  "        env: ACME_NPM",
  "      - id: license_key",
  "        file: license.txt",
  "        repositories: [App]",
  "  - login: other",
  "",
].join("\n");

describe("build secrets in the tenants file", () => {
  it("resolves env and file references once, per account and per repository", async () => {
    const tenants = await load(VALID, { ACME_NPM: NPM_VALUE });
    const acme = served(tenants.policyFor({ accountLogin: "acme", installationId: 1 }));
    assert.deepEqual(Object.fromEntries(secretsForRepository(acme.buildSecrets, "app")), { npm_token: NPM_VALUE, license_key: LICENSE_VALUE });
    assert.deepEqual(Object.fromEntries(secretsForRepository(acme.buildSecrets, "APP")), { npm_token: NPM_VALUE, license_key: LICENSE_VALUE }, "repository names are case-insensitive");
    assert.deepEqual(secretIdsForRepository(acme.buildSecrets, "web"), ["npm_token"], "license_key is given to app only");
    const other = served(tenants.policyFor({ accountLogin: "other", installationId: 2 }));
    assert.deepEqual(other.buildSecrets, [], "another listed account gets none");
    const unlisted = served(tenants.policyFor({ accountLogin: "stranger", installationId: 3 }));
    assert.deepEqual(unlisted.buildSecrets, [], "an unlisted account gets none");
    assert.deepEqual(served(singleRegistryTenants(defaults).policyFor({ accountLogin: "acme", installationId: 1 })).buildSecrets, []);
  });

  it("never shows a value in JSON, inspect or describe()", async () => {
    const tenants = await load(VALID, { ACME_NPM: NPM_VALUE });
    const acme = served(tenants.policyFor({ accountLogin: "acme", installationId: 1 }));
    const shown = [JSON.stringify(acme), inspect(acme, { depth: 10 }), JSON.stringify(tenants.describe()), inspect(tenants.describe(), { depth: 10 })];
    for (const text of shown) {
      assert.ok(!text.includes(NPM_VALUE) && !text.includes(LICENSE_VALUE), text);
    }
    assert.match(shown[0]!, /"id":"npm_token","value":"\*\*\*"/);
    assert.match(JSON.stringify(tenants.describe()), /"buildSecrets":\["npm_token","license_key"\]/);
  });

  it("refuses an inline value, pointing at env or file", async () => {
    const message = await refusal("unlisted_accounts: serve\naccounts:\n  - login: acme\n    build_secrets:\n      - id: npm_token\n        value: hunter2\n");
    assert.match(message, /:6: accounts\[0\]\.build_secrets\[0\]\.value: build secrets are never written in this file: use env or file/);
    assert.ok(!message.includes("hunter2"));
  });

  it("names the account, the secret and the reference it cannot resolve, never a value", async () => {
    const message = await refusal(
      "unlisted_accounts: serve\naccounts:\n  - login: acme\n    build_secrets:\n      - id: npm_token\n        env: ACME_NPM_MISSING\n      - id: license_key\n        file: nowhere.txt\n",
      { ACME_NPM: NPM_VALUE },
    );
    assert.match(message, /:6: accounts\[0\]\.build_secrets\[0\]\.env \(acme, secret npm_token\): the environment variable ACME_NPM_MISSING is not set/);
    assert.match(message, /:8: accounts\[0\]\.build_secrets\[1\]\.file \(acme, secret license_key\): the file .*nowhere\.txt cannot be read \(ENOENT\)/);
    assert.ok(!message.includes(NPM_VALUE));
  });

  it("refuses both or neither reference, a duplicate id, a reserved id and a bad id, each on its line", async () => {
    const message = await refusal(
      [
        "unlisted_accounts: serve",
        "accounts:",
        "  - login: acme",
        "    build_secrets:",
        "      - id: a",
        "        env: A",
        "        file: a.txt",
        "      - id: b",
        "      - id: a",
        "        env: A",
        "      - id: GIT_AUTH_TOKEN.github.com",
        "        env: A",
        "",
      ].join("\n"),
      { A: "x" },
    );
    assert.match(message, /:5: accounts\[0\]\.build_secrets\[0\]: needs exactly one of env, file \(got env, file\)/);
    assert.match(message, /:8: accounts\[0\]\.build_secrets\[1\]: needs exactly one of env, file \(got none\)/);
    assert.match(message, /:9: accounts\[0\]\.build_secrets\[2\]\.id: "a" is already the id of build_secrets\[0\]/);
    assert.match(message, /:11: accounts\[0\]\.build_secrets\[3\]\.id: "GIT_AUTH_TOKEN\.github\.com" is reserved for git authentication/);
    const bad = await refusal("unlisted_accounts: serve\naccounts:\n  - login: acme\n    build_secrets:\n      - id: has space\n        env: A\n", { A: "x" });
    assert.match(bad, /:5: accounts\[0\]\.build_secrets\[0\]\.id: "has space" is not a build secret id/);
  });

  it("is not a key of `defaults`: an unlisted account never gets a secret", async () => {
    const message = await refusal("unlisted_accounts: serve\ndefaults:\n  build_secrets:\n    - id: a\n      env: A\n", { A: "x" });
    assert.match(message, /:3: defaults\.build_secrets: unknown key/);
  });
});
