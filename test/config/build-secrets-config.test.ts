import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/config-error.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import { planImages } from "../../src/planner/plan.js";
import type { PlanInput } from "../../src/planner/plan.js";
import type { ImagePlan } from "../../src/queue/job-types.js";
import { secretGrantIssues } from "../../src/planner/secret-check.js";
import { loadTenants } from "../../src/tenancy/index.js";
import type { BuildSecretGrant } from "../../src/tenancy/index.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";

const CONFIG = ["images:", "  - name: api", "    secrets:", "      - npm_token", "      - license_key", "  - name: web", "    secrets: [npm_token]", "  - name: plain", ""].join("\n");

function issuesOf(text: string): string[] {
  try {
    parseRepoConfig(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.line}: ${i.message}`);
  }
  return assert.fail("the config was accepted");
}

/** Grants as the tenants file makes them (values never matter to the config check). */
function grantsOf(secrets: string): readonly BuildSecretGrant[] {
  const dir = mkdtempSync(join(tmpdir(), "bkb-secrets-config-"));
  try {
    writeFileSync(join(dir, "t.yml"), `unlisted_accounts: refuse\naccounts:\n  - login: acme\n    build_secrets:\n${secrets}`);
    const tenants = loadTenants(join(dir, "t.yml"), { registry: { prefix: "r.example/b", host: "r.example" }, repoConfigLimits: DEFAULT_CONFIG_LIMITS }, { V: "value" });
    const policy = tenants.policyFor({ accountLogin: "acme", installationId: 1 });
    assert.ok(policy.served);
    return policy.buildSecrets;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("images[].secrets in the repository config", () => {
  it("keeps the ids and the line of each entry", () => {
    const [api, web, plain] = parseRepoConfig(CONFIG).images;
    assert.deepEqual(api?.secrets, ["npm_token", "license_key"]);
    assert.deepEqual(api?.secretLines, [4, 5]);
    assert.deepEqual(web?.secrets, ["npm_token"]);
    assert.deepEqual(web?.secretLines, [7]);
    assert.equal(plain?.secrets, undefined);
  });

  it("refuses a bad id, a repeated id and a value instead of a list, on their lines", () => {
    assert.deepEqual(issuesOf("images:\n  - name: a\n    secrets: [\"has space\"]\n"), [
      `3: images[0].secrets[0]: "has space" is not a build secret id (letters, digits, '_', '.' and '-', at most 64 characters)`,
    ]);
    assert.deepEqual(issuesOf("images:\n  - name: a\n    secrets:\n      - x\n      - x\n"), ['5: images[0].secrets: "x" is listed twice']);
    assert.match(issuesOf("images:\n  - name: a\n    secrets: npm_token\n")[0]!, /^3: images\[0\]\.secrets: must be a list/);
  });
});

describe("the grant check (main thread, after the parse)", () => {
  const config = parseRepoConfig(CONFIG);

  it("fails each id the tenants file does not give the repository, on the line of its entry", () => {
    const grants = grantsOf("      - id: npm_token\n        env: V\n      - id: license_key\n        env: V\n        repositories: [billing]\n");
    const issues = secretGrantIssues(config, grants, "shop");
    assert.deepEqual(
      issues.map((i) => `${i.path}:${i.line}: ${i.message}`),
      [
        `.github/buildkit-bot.yml:5: images[0].secrets[1]: "license_key" is not a build secret of this repository; the operator's tenants file gives this repository "npm_token"`,
      ],
    );
    assert.deepEqual(secretGrantIssues(config, grants, "billing"), [], "the repository it is given to passes");
  });

  it("an account without secrets fails every listed id", () => {
    const issues = secretGrantIssues(config, [], "shop");
    assert.deepEqual(
      issues.map((i) => i.line),
      [4, 5, 7],
    );
    assert.match(issues[0]!.message, /gives this repository no build secrets/);
  });
});

describe("the plan carries ids only, and none for a fork", () => {
  const config = parseRepoConfig("images:\n  - name: api\n    secrets: [npm_token]\n");
  const input = (fork: boolean): PlanInput => ({
    target: { kind: "pull_request", number: 3, baseRef: "main", fork },
    sha: "a".repeat(40),
    owner: "acme",
    repoName: "shop",
    defaultBranch: "main",
    config,
    registryPrefix: "r.example/b",
    latestAllowed: false,
  });
  const planOf = (fork: boolean): ImagePlan => {
    const [decision] = planImages(input(fork));
    assert.ok(decision?.kind === "build", "the image is built");
    return decision.plan;
  };

  it("a same-repository pull request's plan lists the ids", () => {
    assert.deepEqual(planOf(false).secrets, ["npm_token"]);
  });

  it("a fork's plan lists none", () => {
    assert.equal(planOf(true).secrets, undefined);
  });
});
