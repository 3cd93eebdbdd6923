import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { inspect } from "node:util";
import { fileURLToPath } from "node:url";
import { CONFIG_LIMIT_NAMES, DEFAULT_CONFIG_LIMITS, parseConfigLimits } from "../../src/config/config-limits.js";
import { tenantsSchema } from "../../src/tenancy/tenants-file.js";
import { loadTenants, readTenantsFile, singleRegistryTenants, TENANTS_SCHEMA_URL, TenantsFileError } from "../../src/tenancy/index.js";
import type { ServedTenant, TenancyDefaults, TenantPolicy, Tenants } from "../../src/tenancy/index.js";

const EXAMPLE = resolve(fileURLToPath(new URL("../../deploy/tenants.example.yml", import.meta.url)));
const SECRET_PASSWORD = "pw-Zq81-never-shown";
const SECRET_TOKEN = "ghp_acme_token_never_shown";

const defaults: TenancyDefaults = {
  registry: { prefix: "127.0.0.1:5000/shared", host: "127.0.0.1:5000", credentials: { username: "global", password: "global-pw" } },
  repoConfigLimits: parseConfigLimits("images=60,tagsPerImage=30"),
};

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bkb-tenants-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
async function writeTenants(text: string): Promise<string> {
  const path = join(dir, `tenants-${++files}.yml`);
  await writeFile(path, text);
  return path;
}

function served(policy: TenantPolicy): ServedTenant {
  assert.equal(policy.served, true, policy.served ? "" : policy.reason);
  return policy as ServedTenant;
}

/** Loads `text` expecting a TenantsFileError; returns its message lines. */
async function failures(text: string, env: NodeJS.ProcessEnv = {}): Promise<{ path: string; lines: string[] }> {
  const path = await writeTenants(text);
  try {
    loadTenants(path, defaults, env);
  } catch (err) {
    assert.ok(err instanceof TenantsFileError, String(err));
    assert.equal(err.file, path);
    return { path, lines: err.message.split("\n") };
  }
  assert.fail(`no error for:\n${text}`);
}

describe("the shipped example", () => {
  let tenants: Tenants;
  before(async () => {
    // Its password file is relative to the tenants file: a copy next to a token file of the test's own.
    const copy = join(dir, "example.yml");
    await copyFile(EXAMPLE, copy);
    await writeFile(join(dir, "acme-ghcr-token"), `${SECRET_TOKEN}\n`);
    tenants = loadTenants(copy, defaults, { REGISTRY_PASSWORD: SECRET_PASSWORD });
  });

  it("validates against the shipped schema", () => {
    const file = readTenantsFile(EXAMPLE);
    assert.equal(file.raw.unlisted_accounts, "refuse");
    assert.equal(file.raw.accounts?.length, 2);
  });

  it("gives a listed login its own registry, credential read from its file, namespaces, cap, fork policy and limits", () => {
    const acme = served(tenants.policyFor({ accountLogin: "ACME", installationId: 1 }));
    assert.equal(acme.source, "listed");
    assert.equal(acme.registry.prefix, "ghcr.io");
    assert.equal(acme.registry.host, "ghcr.io");
    assert.deepEqual({ ...acme.registry.credentials }, { username: "acme-bot", password: SECRET_TOKEN });
    assert.deepEqual(acme.namespaces, ["ghcr.io/acme/"]);
    assert.equal(acme.maxConcurrentBuilds, 6);
    assert.equal(acme.forkPolicy, "never");
    // The file's override over BUILDKIT_BOT_CONFIG_LIMITS, which still decides the rest.
    assert.equal(acme.repoConfigLimits.images, 120);
    assert.equal(acme.repoConfigLimits.tagsPerImage, 30);
    assert.equal(acme.repoConfigLimits.fileBytes, DEFAULT_CONFIG_LIMITS.fileBytes);
  });

  it("matches an installation id, which wins over a login entry; the rest comes from defaults", () => {
    const byId = served(tenants.policyFor({ accountLogin: "someone", installationId: 4242 }));
    assert.equal(byId.source, "listed");
    assert.equal(byId.forkPolicy, "build");
    assert.equal(byId.maxConcurrentBuilds, 2);
    assert.equal(byId.registry.prefix, "registry.example.com");
    assert.deepEqual({ ...byId.registry.credentials }, { username: "buildkit-bot", password: SECRET_PASSWORD });
    assert.deepEqual(byId.namespaces, ["registry.example.com/someone/"], "the default namespace is <prefix>/<owner>/");
    assert.equal(byId.repoConfigLimits.images, 60);
    const acmeUnderThatId = served(tenants.policyFor({ accountLogin: "acme", installationId: 4242 }));
    assert.equal(acmeUnderThatId.forkPolicy, "build", "the installation id's entry, not acme's");
  });

  it("refuses an unlisted account, saying why and naming it", () => {
    const refused = tenants.policyFor({ accountLogin: "stranger", installationId: 99 });
    assert.equal(refused.served, false);
    assert.match(refused.served ? "" : refused.reason, /builds only for the accounts its operator lists, and stranger \(installation 99\) is not one of them/);
  });

  it("never shows a credential's value in JSON, inspect or describe()", () => {
    const acme = tenants.policyFor({ accountLogin: "acme", installationId: 1 });
    for (const shown of [JSON.stringify(acme), inspect(acme, { depth: 10 }), JSON.stringify(tenants.describe()), inspect(tenants.describe(), { depth: 10 })]) {
      assert.ok(!shown.includes(SECRET_TOKEN), shown);
      assert.ok(!shown.includes(SECRET_PASSWORD), shown);
      assert.ok(shown.includes("***"), shown);
    }
  });
});

describe("policy lookup", () => {
  it("serves unlisted accounts with the defaults when the file says so", async () => {
    const path = await writeTenants("unlisted_accounts: serve\ndefaults:\n  fork_policy: approve\naccounts:\n  - login: acme\n    fork_policy: never\n");
    const tenants = loadTenants(path, defaults, {});
    const other = served(tenants.policyFor({ accountLogin: "Other", installationId: 5 }));
    assert.equal(other.source, "unlisted");
    assert.equal(other.forkPolicy, "approve");
    assert.equal(other.registry, defaults.registry, "no registry in the file: BUILDKIT_BOT_REGISTRY and its credentials");
    assert.deepEqual(other.namespaces, ["127.0.0.1:5000/shared/other/"]);
    assert.equal(other.maxConcurrentBuilds, undefined);
    assert.deepEqual(other.repoConfigLimits, defaults.repoConfigLimits);
    assert.equal(served(tenants.policyFor({ accountLogin: "acme", installationId: 6 })).forkPolicy, "never");
  });

  it("without a file serves everyone from the one registry, owner-scoped", () => {
    const tenants = singleRegistryTenants(defaults);
    const policy = served(tenants.policyFor({ accountLogin: "Acme", installationId: 1 }));
    assert.equal(policy.source, "single-registry");
    assert.deepEqual(policy.namespaces, ["127.0.0.1:5000/shared/acme/"]);
    assert.equal(policy.forkPolicy, "build");
    assert.equal(policy.repoConfigLimits, defaults.repoConfigLimits);
    assert.equal(tenants.file, undefined);
  });

  it("a listed entry's registry replaces the default's as a whole: no credential is carried to another prefix", async () => {
    const path = await writeTenants("unlisted_accounts: refuse\naccounts:\n  - login: acme\n    registry: { prefix: other.example.com }\n");
    const acme = served(loadTenants(path, defaults, {}).policyFor({ accountLogin: "acme", installationId: 1 }));
    assert.equal(acme.registry.prefix, "other.example.com");
    assert.equal(acme.registry.credentials, undefined);
  });
});

describe("an invalid file is refused with file:line: reason", () => {
  const cases: Array<{ what: string; text: string; line: number; reason: RegExp; env?: NodeJS.ProcessEnv }> = [
    { what: "YAML syntax", text: "unlisted_accounts: serve\naccounts:\n  - login: acme\n   fork_policy: never\n", line: 4, reason: /YAML syntax error/ },
    { what: "empty file", text: "", line: 1, reason: /the file is empty/ },
    { what: "no unlisted_accounts", text: "defaults:\n  fork_policy: build\n", line: 1, reason: /missing required key "unlisted_accounts"/ },
    { what: "unknown key", text: "unlisted_accounts: serve\naccounts:\n  - login: acme\n    fork_polcy: never\n", line: 4, reason: /accounts\[0\]\.fork_polcy: unknown key; allowed keys: login, installation_id/ },
    {
      what: "an inline password",
      text: "unlisted_accounts: serve\ndefaults:\n  registry:\n    prefix: ghcr.io\n    credentials:\n      username: bot\n      password: hunter2\n",
      line: 7,
      reason: /defaults\.registry\.credentials\.password: credentials are never written in this file: use password_env or password_file/,
    },
    { what: "fork policy", text: "unlisted_accounts: serve\ndefaults:\n  fork_policy: sometimes\n", line: 3, reason: /defaults\.fork_policy: must be one of "build", "approve", "never" \(got "sometimes"\)/ },
    { what: "unlisted_accounts value", text: "unlisted_accounts: maybe\n", line: 1, reason: /unlisted_accounts: must be one of "serve", "refuse"/ },
    { what: "registry prefix", text: "unlisted_accounts: serve\ndefaults:\n  registry: { prefix: 'https://ghcr.io/Acme' }\n", line: 3, reason: /defaults\.registry\.prefix: "https:\/\/ghcr\.io\/Acme" is not a registry prefix/ },
    { what: "namespace without its slash", text: "unlisted_accounts: serve\naccounts:\n  - login: acme\n    namespaces:\n      - ghcr.io/acme\n", line: 5, reason: /accounts\[0\]\.namespaces\[0\]: "ghcr\.io\/acme" is not a namespace/ },
    { what: "namespaces in defaults", text: "unlisted_accounts: serve\ndefaults:\n  namespaces: [ghcr.io/all/]\n", line: 3, reason: /defaults\.namespaces: unknown key/ },
    { what: "an account without login or id", text: "unlisted_accounts: serve\naccounts:\n  - fork_policy: never\n", line: 3, reason: /accounts\[0\]: an account needs `login`, `installation_id` or both/ },
    { what: "a login that is not one", text: "unlisted_accounts: serve\naccounts:\n  - login: acme_corp\n", line: 3, reason: /accounts\[0\]\.login: "acme_corp" is not a GitHub login/ },
    { what: "max_concurrent_builds 0", text: "unlisted_accounts: serve\naccounts:\n  - login: acme\n    max_concurrent_builds: 0\n", line: 4, reason: /accounts\[0\]\.max_concurrent_builds: must be at least 1 \(got 0\)/ },
    { what: "unknown config limit", text: "unlisted_accounts: serve\ndefaults:\n  config_limits:\n    frobs: 3\n", line: 4, reason: /defaults\.config_limits\.frobs: unknown key; allowed keys: fileBytes/ },
    { what: "a heap for the config check too small to start a thread", text: "unlisted_accounts: serve\ndefaults:\n  config_limits:\n    checkMemoryMb: 8\n", line: 4, reason: /defaults\.config_limits\.checkMemoryMb: must be at least 16 \(got 8\)/ },
    { what: "a config limit that is not a count", text: "unlisted_accounts: serve\ndefaults:\n  config_limits:\n    images: lots\n", line: 4, reason: /defaults\.config_limits\.images: must be integer/ },
    { what: "duplicate login (any case)", text: "unlisted_accounts: serve\naccounts:\n  - login: acme\n  - login: ACME\n", line: 4, reason: /accounts\[1\]\.login: "ACME" is already listed at accounts\[0\] \(line 3\)/ },
    { what: "duplicate installation id", text: "unlisted_accounts: serve\naccounts:\n  - installation_id: 7\n  - login: b\n    installation_id: 7\n", line: 5, reason: /accounts\[1\]\.installation_id: 7 is already listed at accounts\[0\] \(line 3\)/ },
    {
      what: "overlapping namespaces",
      text: "unlisted_accounts: serve\naccounts:\n  - login: a\n    namespaces: [ghcr.io/shared/]\n  - login: b\n    namespaces:\n      - ghcr.io/shared/b/\n",
      line: 7,
      reason: /accounts\[1\]\.namespaces\[0\]: "ghcr\.io\/shared\/b\/" overlaps "ghcr\.io\/shared\/" of accounts\[0\] \(line 3\)/,
    },
    {
      what: "two passwords",
      text: "unlisted_accounts: serve\naccounts:\n  - login: a\n    registry:\n      prefix: ghcr.io\n      credentials:\n        username: a\n        password_env: A\n        password_file: a.txt\n",
      line: 7,
      reason: /accounts\[0\]\.registry\.credentials: needs exactly one of password_env, password_file \(got password_env, password_file\)/,
    },
    {
      what: "no password",
      text: "unlisted_accounts: serve\naccounts:\n  - login: a\n    registry:\n      prefix: ghcr.io\n      credentials: { username: a }\n",
      line: 6,
      reason: /needs exactly one of password_env, password_file \(got none\)/,
    },
    {
      what: "a variable that is not set",
      text: "unlisted_accounts: serve\naccounts:\n  - login: acme\n    registry:\n      prefix: ghcr.io\n      credentials:\n        username: bot\n        password_env: ACME_TOKEN\n",
      line: 8,
      reason: /accounts\[0\]\.registry\.credentials\.password_env \(acme\): the environment variable ACME_TOKEN is not set/,
    },
    {
      what: "a file that cannot be read",
      text: "unlisted_accounts: serve\naccounts:\n  - installation_id: 12\n    registry:\n      prefix: ghcr.io\n      credentials:\n        username_env: USER_VAR\n        password_file: missing-token\n",
      line: 8,
      env: { USER_VAR: "bot" },
      reason: /accounts\[0\]\.registry\.credentials\.password_file \(installation 12\): the file .*\/missing-token cannot be read \(ENOENT\)/,
    },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      const { path, lines } = await failures(c.text, c.env);
      const first = lines[0]!;
      assert.ok(first.startsWith(`${path}:${c.line}: `), `expected ${path}:${c.line}: …, got ${lines.join("\n")}`);
      assert.match(first, c.reason);
    });
  }

  it("lists every problem, one line each, in file order", async () => {
    const { path, lines } = await failures("unlisted_accounts: serve\naccounts:\n  - login: a\n    fork_policy: x\n  - login: b\n    max_concurrent_builds: -1\n");
    assert.deepEqual(lines.map((l) => l.slice(0, l.indexOf(": "))), [`${path}:4`, `${path}:6`]);
  });

  it("names the file when it cannot be read", () => {
    const missing = join(dir, "nope.yml");
    assert.throws(() => loadTenants(missing, defaults, {}), (err: unknown) => err instanceof TenantsFileError && err.message === `${missing}:1: cannot be read (ENOENT)`);
  });

  it("never puts a resolved value in a message", async () => {
    // One credential resolves, the other does not: the error names references only.
    const { lines } = await failures(
      "unlisted_accounts: serve\naccounts:\n  - login: a\n    registry:\n      prefix: ghcr.io\n      credentials: { username_env: SET_USER, password_env: UNSET_PASSWORD }\n",
      { SET_USER: "visible-user-value", UNSET_PASSWORD: "" },
    );
    assert.ok(!lines.join("\n").includes("visible-user-value"));
    assert.match(lines.join("\n"), /UNSET_PASSWORD is not set/);
  });
});

describe("the shipped schema", () => {
  it("lists every repository-config limit under config_limits (editors see what the code accepts)", async () => {
    const schema = JSON.parse(await readFile(TENANTS_SCHEMA_URL, "utf8")) as { $defs: { config_limits: { properties: Record<string, unknown> } } };
    assert.deepEqual(Object.keys(schema.$defs.config_limits.properties), [...CONFIG_LIMIT_NAMES]);
    assert.deepEqual(schema.$defs.config_limits.properties, (tenantsSchema() as typeof schema).$defs.config_limits.properties, "the shipped file says what the code enforces");
  });
});
