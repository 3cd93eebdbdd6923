import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { daemonCapabilities, daemonProfile } from "../../src/buildkit/index.js";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import { loadTenants } from "../../src/tenancy/index.js";
import type { ServedTenant } from "../../src/tenancy/index.js";
import { buildRequestForJob } from "../../src/worker/build-request-for-job.js";
import { buildSecretsOfJob, isForkJob, UngrantedSecretError } from "../../src/worker/secret-guard.js";
import { buildJob } from "./worker-test-kit.js";

const BUILDKITD = daemonCapabilities(daemonProfile("buildkitd"), "v0.24.0");
const registry = { prefix: "r.example/b", host: "r.example" };

function acmePolicy(): ServedTenant {
  const dir = mkdtempSync(join(tmpdir(), "bkb-secret-guard-"));
  try {
    writeFileSync(
      join(dir, "t.yml"),
      "unlisted_accounts: serve\naccounts:\n  - login: acme\n    build_secrets:\n      - id: npm_token\n        env: NPM\n      - id: license_key\n        env: LICENSE\n        repositories: [billing]\n",
    );
    const policy = loadTenants(join(dir, "t.yml"), { registry, repoConfigLimits: DEFAULT_CONFIG_LIMITS }, { NPM: "npm-value", LICENSE: "license-value" }).policyFor({ accountLogin: "acme", installationId: 5 });
    assert.ok(policy.served);
    return policy;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const jobFor = (repo: string, secrets: string[] | undefined, extra: Partial<Parameters<typeof buildJob>[0]> = {}): ReturnType<typeof buildJob> =>
  buildJob({ installationId: 5, repoId: 1, owner: "acme", repo, private: true, cloneUrl: `https://github.com/acme/${repo}.git`, sha: "a".repeat(40), ...(secrets ? { image: { secrets } } : {}), ...extra });

describe("the worker's build-secret guard", () => {
  const policy = acmePolicy();

  it("gives the listed ids their values from the account's policy", () => {
    assert.deepEqual(buildSecretsOfJob(jobFor("billing", ["npm_token", "license_key"]), policy), { npm_token: "npm-value", license_key: "license-value" });
    assert.deepEqual(buildSecretsOfJob(jobFor("app", ["npm_token"]), policy), { npm_token: "npm-value" });
    assert.deepEqual(buildSecretsOfJob(jobFor("app", undefined), policy), {}, "a job listing none mounts none");
  });

  it("refuses an id given only to another repository, and an id nobody has, naming them", () => {
    assert.throws(() => buildSecretsOfJob(jobFor("app", ["npm_token", "license_key", "ghost"]), policy), (err: unknown) => {
      assert.ok(err instanceof UngrantedSecretError);
      assert.deepEqual(err.ids, ["license_key", "ghost"]);
      assert.match(err.message, /the build secrets "license_key", "ghost" are not granted to acme\/app/);
      assert.ok(!err.message.includes("value"));
      return true;
    });
  });

  it("treats a job whose pull request comes from another repository as a fork, flag or not", () => {
    const pr = { number: 2, headRef: "x", headSha: "a".repeat(40), baseRef: "main", baseSha: "b".repeat(40), headRepoFullName: "mallory/app", fork: false };
    const job = jobFor("app", ["npm_token"], { pullRequest: pr });
    assert.equal(job.fork, false);
    assert.equal(isForkJob(job), true);
    assert.throws(() => buildSecretsOfJob(job, policy), /a fork's pull request gets no build secrets/);
    assert.equal(isForkJob(jobFor("app", undefined, { pullRequest: { ...pr, headRepoFullName: "ACME/app" } })), false);
  });

  it("the request of a fork's job never carries build secrets, whatever it is given", () => {
    const fork = buildRequestForJob(jobFor("app", undefined, { fork: true }), { registry, capabilities: BUILDKITD, buildSecrets: { npm_token: "npm-value" } });
    assert.equal(fork.request.secrets, undefined);
    const own = buildRequestForJob(jobFor("app", ["npm_token"]), { registry, capabilities: BUILDKITD, buildSecrets: { npm_token: "npm-value" } });
    assert.deepEqual(own.request.secrets, { npm_token: "npm-value" });
  });
});
