import { test } from "node:test";
import assert from "node:assert/strict";
import { isInNamespaces, namespaceViolations, OutsideNamespacesError, repositoryOf } from "../../src/tenancy/index.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import { namespaceIssues } from "../../src/planner/namespace-check.js";
import { assertInNamespaces, policyOfJob, registryUses, TenantRefusedError } from "../../src/worker/namespace-guard.js";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import { singleRegistryTenants } from "../../src/tenancy/index.js";
import type { BuildRequest } from "../../src/buildkit/build-request.js";
import type { BuildJob } from "../../src/queue/job-types.js";

const ACME = ["reg.example.com/builds/acme/"];

test("a reference is inside a namespace only when its repository lies strictly under it, as written", () => {
  const cases: Array<[string, boolean]> = [
    ["reg.example.com/builds/acme/app", true],
    ["reg.example.com/builds/acme/app:main", true],
    ["reg.example.com/builds/acme/app/api:buildcache-main", true],
    ["reg.example.com/builds/acme/app@sha256:" + "a".repeat(64), true],
    // the namespace itself, a sibling whose name starts alike, another tenant
    ["reg.example.com/builds/acme", false],
    ["reg.example.com/builds/acme:latest", false],
    ["reg.example.com/builds/acme-corp/app", false],
    ["reg.example.com/builds/acmex/app", false],
    ["reg.example.com/builds/other/app:main", false],
    // path tricks and case tricks are not references a registry takes as written: never inside
    ["reg.example.com/builds/acme/../other/app", false],
    ["reg.example.com/builds/acme/./app", false],
    ["reg.example.com/builds/acme//app", false],
    ["reg.example.com/builds/ACME/app", false],
    ["REG.example.com/builds/acme/app", false],
    // another host with the same path
    ["evil.example.com/builds/acme/app", false],
    ["reg.example.com:5000/builds/acme/app", false],
    // no host at all (Docker Hub's short form)
    ["acme/app", false],
    ["", false],
  ];
  for (const [ref, inside] of cases) assert.equal(isInNamespaces(ref, ACME), inside, ref);
  assert.equal(repositoryOf("127.0.0.1:5000/acme/app:main"), "127.0.0.1:5000/acme/app");
  assert.equal(isInNamespaces("127.0.0.1:5000/acme/app:main", ["127.0.0.1:5000/acme/", "127.0.0.1:5000/shared/acme/"]), true);
  assert.equal(isInNamespaces("127.0.0.1:5000/shared/acme/x", ["127.0.0.1:5000/acme/", "127.0.0.1:5000/shared/acme/"]), true);
});

test("the config check puts one annotation on the line of each repository or cache.ref outside, naming the namespaces", () => {
  const text = [
    "images:",
    "  - name: api",
    "    repository: reg.example.com/builds/other/api",
    "  - name: web",
    "    repository: reg.example.com/builds/acme/web",
    "    cache:",
    "      ref: reg.example.com/builds/other/web:buildcache",
    "  - name: ok",
    "    cache:",
    "      ref: reg.example.com/builds/acme/ok-cache",
    "  - name: sneaky",
    "    cache:",
    "      ref: reg.example.com/builds/acme-corp/cache",
    "",
  ].join("\n");
  const issues = namespaceIssues(parseRepoConfig(text), ACME);
  assert.deepEqual(
    issues.map((i) => [i.line, i.message.split(";")[0]]),
    [
      [3, 'images[0].repository: "reg.example.com/builds/other/api" is outside the account\'s namespaces'],
      [7, 'images[1].cache.ref: "reg.example.com/builds/other/web:buildcache" is outside the account\'s namespaces'],
      [13, 'images[3].cache.ref: "reg.example.com/builds/acme-corp/cache" is outside the account\'s namespaces'],
    ],
  );
  for (const issue of issues) assert.match(issue.message, /may only push to and read caches from reg\.example\.com\/builds\/acme\//);
  assert.deepEqual(namespaceIssues(parseRepoConfig("images:\n  - name: a\n"), ACME), []);
});

function job(installationId: number, owner: string): BuildJob {
  return {
    buildId: "b1",
    attempt: 1,
    reason: "push",
    repository: { installationId, repoId: 1, owner, repo: "app", private: false, defaultBranch: "main", cloneUrl: "https://github.invalid/x.git" },
    sha: "a".repeat(40),
    gitRef: "a".repeat(40),
    image: { name: "app", context: "", dockerfile: "Dockerfile", platforms: [], buildArgs: {}, tags: [], push: true, cache: { imports: [] } },
    supersedeKey: "1:branch:main",
    noCache: false,
    fork: false,
    queuedAt: new Date(0).toISOString(),
  };
}

test("the worker's guard: namespaces come from the policy by installation, and every push, cache export and import is checked", () => {
  const tenants = singleRegistryTenants({ registry: { prefix: "127.0.0.1:5000/builds", host: "127.0.0.1:5000" }, repoConfigLimits: DEFAULT_CONFIG_LIMITS });
  const policy = policyOfJob(tenants, job(7, "acme"));
  assert.deepEqual(policy.namespaces, ["127.0.0.1:5000/builds/acme/"]);
  const request: BuildRequest = {
    context: { type: "git", remote: "https://github.invalid/x.git", ref: "main" },
    output: { type: "image", names: ["127.0.0.1:5000/builds/acme/app:main", "127.0.0.1:5000/builds/other/app:main"], push: true },
    cacheExports: [{ type: "registry", attrs: { ref: "127.0.0.1:5000/builds/other/app:buildcache-main", mode: "max" } }],
    cacheImports: [{ type: "registry", attrs: { ref: "127.0.0.1:5000/builds/acme/app:buildcache-main" } }, { type: "registry", attrs: { ref: "127.0.0.1:5000/builds/other/app:buildcache-main" } }],
  };
  assert.equal(registryUses(request).length, 5);
  assert.deepEqual(
    namespaceViolations(registryUses(request), policy.namespaces).map((v) => `${v.use} ${v.ref}`),
    ["push 127.0.0.1:5000/builds/other/app:main", "cache export 127.0.0.1:5000/builds/other/app:buildcache-main", "cache import 127.0.0.1:5000/builds/other/app:buildcache-main"],
  );
  assert.throws(
    () => assertInNamespaces(request, policy),
    (err: unknown) => err instanceof OutsideNamespacesError && /outside the namespaces of acme \(127\.0\.0\.1:5000\/builds\/acme\/\): push 127\.0\.0\.1:5000\/builds\/other\/app:main/.test(err.message),
  );
  assertInNamespaces({ ...request, output: { type: "image", names: ["127.0.0.1:5000/builds/acme/app:main"], push: true }, cacheExports: [], cacheImports: [] }, policy);
});

test("the worker refuses a job of an account the tenants do not serve", () => {
  const tenants = {
    file: "tenants.yml",
    policyFor: (account: { accountLogin: string; installationId: number }) => ({ served: false as const, account, reason: "not listed" }),
    describe: () => ({}),
  };
  assert.throws(() => policyOfJob(tenants, job(9, "stranger")), (err: unknown) => err instanceof TenantRefusedError && err.message === "refused: not listed");
});
