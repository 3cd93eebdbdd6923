import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Probot, ProbotOctokit } from "probot";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import { BudgetedPlannerReporter } from "../../src/github/budgeted-planner-reporter.js";
import { OctokitPlannerCheckRuns } from "../../src/github/planner-check-runs.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { plannerProcessor } from "../../src/planner/planner-processor.js";
import type { BuildJobInput } from "../../src/queue/build-queue.js";
import type { BuildJob, EventJob } from "../../src/queue/job-types.js";
import { loadTenants } from "../../src/tenancy/index.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";

/**
 * The config check's namespace rule, through the real planner against the fake GitHub: a `repository:` or
 * `cache.ref` aimed outside the account's namespaces fails the config check with an annotation on its line naming
 * the namespaces allowed, and nothing is built; the same config inside them builds.
 */
const REGISTRY = "127.0.0.1:5000";
const creds = createAppCredentials(7510);
let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let dir: string;

before(async () => {
  redisCtx = await redisForTest("namespace-config-check");
  dir = await mkdtemp(join(tmpdir(), "bkb-nscheck-"));
  git = await startGitServer();
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(31, "acme");
});

after(async () => {
  await fake.close();
  await git.close();
  await rm(dir, { recursive: true, force: true });
  await redisCtx.cleanup();
});

function pushJob(installationId: number, repo: GitRepo & { id: number }, owner: string, name: string, sha: string): EventJob {
  return {
    deliveryId: `nscheck-${installationId}-${sha}`,
    event: "push",
    reason: "push",
    repository: {
      installationId,
      repoId: repo.id,
      owner,
      repo: name,
      private: true,
      defaultBranch: "main",
      cloneUrl: `https://github.com/${owner}/${name}.git`,
    },
    sha,
    ref: "refs/heads/main",
    before: "0".repeat(40),
    changedFiles: ["Dockerfile", ".github/buildkit-bot.yml"],
    receivedAt: new Date().toISOString(),
  };
}

test("repository: and cache.ref outside the account's namespaces fail the config check on their lines; nothing is built", { timeout: 60_000 }, async () => {
  const tenantsFile = join(dir, "tenants.yml");
  await writeFile(tenantsFile, "unlisted_accounts: refuse\naccounts:\n  - login: acme\n    namespaces: [127.0.0.1:5000/acme/, 127.0.0.1:5000/shared/acme/]\n");
  const tenants = loadTenants(tenantsFile, { registry: { prefix: REGISTRY, host: REGISTRY }, repoConfigLimits: DEFAULT_CONFIG_LIMITS }, {});
  const repo = await fake.createRepo(31, "acme", "app");
  const escaping = [
    "images:",
    "  - name: api",
    "    repository: 127.0.0.1:5000/other/api",
    "  - name: web",
    "    repository: 127.0.0.1:5000/shared/acme/web",
    "    cache:",
    "      ref: 127.0.0.1:5000/other/web:buildcache",
    "",
  ].join("\n");
  const badSha = await repo.commit({ Dockerfile: "FROM scratch\n", ".github/buildkit-bot.yml": escaping });

  const probot = new Probot({
    appId: creds.appId,
    privateKey: creds.privateKeyPem,
    baseUrl: fake.url,
    logLevel: "warn",
    Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
  });
  const budget = new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget` });
  const builds: BuildJobInput[] = [];
  const plan = plannerProcessor({
    probot,
    redis: redisCtx.redis,
    enqueueBuild: async (job) => {
      builds.push(job);
      return { ...job, buildId: `bld-${builds.length}`, attempt: 1, queuedAt: new Date().toISOString() } as BuildJob;
    },
    withdrawBuild: async () => assert.fail("nothing to withdraw"),
    config: { registry: { prefix: REGISTRY }, tenants },
    keyPrefix: redisCtx.prefix,
    reporter: (octokit) => new BudgetedPlannerReporter(new OctokitPlannerCheckRuns(octokit), budget),
  });

  await plan(pushJob(31, repo, "acme", "app", badSha), new AbortController().signal);
  const runs = fake.findCheckRuns({ owner: "acme", repo: "app", sha: badSha });
  assert.deepEqual(runs.map((r) => [r.name, r.conclusion]), [["buildkit-bot / config", "failure"]]);
  assert.equal(builds.length, 0, "nothing is built");
  const annotations = runs[0]!.annotations;
  assert.deepEqual(annotations.map((a) => [a.path, a.start_line, a.annotation_level]), [
    [".github/buildkit-bot.yml", 3, "failure"],
    [".github/buildkit-bot.yml", 7, "failure"],
  ]);
  assert.match(annotations[0]!.message, /images\[0\]\.repository: "127\.0\.0\.1:5000\/other\/api" is outside the account's namespaces/);
  assert.match(annotations[1]!.message, /images\[1\]\.cache\.ref: "127\.0\.0\.1:5000\/other\/web:buildcache" is outside/);
  for (const a of annotations) assert.match(a.message, /may only push to and read caches from 127\.0\.0\.1:5000\/acme\/, 127\.0\.0\.1:5000\/shared\/acme\//);

  // Inside the namespaces (an extra one of the tenants file included), the same images are planned and queued.
  const fixed = escaping.replace("127.0.0.1:5000/other/api", "127.0.0.1:5000/acme/api").replace("127.0.0.1:5000/other/web:buildcache", "127.0.0.1:5000/shared/acme/web:buildcache");
  const goodSha = await repo.commit({ ".github/buildkit-bot.yml": fixed });
  await plan(pushJob(31, repo, "acme", "app", goodSha), new AbortController().signal);
  assert.deepEqual(builds.map((b) => b.image.tags[0]), ["127.0.0.1:5000/acme/api:main", "127.0.0.1:5000/shared/acme/web:main"]);
  assert.equal(builds[1]!.image.cache.export, "127.0.0.1:5000/shared/acme/web:buildcache");
});
