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
 * The tenants file's `unlisted_accounts: refuse`, through the real planner against the fake GitHub: a refused
 * account's push gets one neutral check run saying why and no build; a listed account's push builds as usual.
 */
const REGISTRY = "127.0.0.1:5000";
const creds = createAppCredentials(7500);
let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let dir: string;

before(async () => {
  redisCtx = await redisForTest("refused-account");
  dir = await mkdtemp(join(tmpdir(), "bkb-refused-"));
  git = await startGitServer();
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(31, "acme");
  fake.addInstallation(32, "stranger");
});

after(async () => {
  await fake.close();
  await git.close();
  await rm(dir, { recursive: true, force: true });
  await redisCtx.cleanup();
});

function pushJob(installationId: number, repo: GitRepo & { id: number }, owner: string, name: string, sha: string): EventJob {
  return {
    deliveryId: `refused-${installationId}-${sha}`,
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
    changedFiles: ["Dockerfile"],
    receivedAt: new Date().toISOString(),
  };
}

test("an unlisted account is refused with one neutral check run and no build; a listed one builds", { timeout: 60_000 }, async () => {
  const tenantsFile = join(dir, "tenants.yml");
  await writeFile(tenantsFile, "unlisted_accounts: refuse\naccounts:\n  - login: acme\n");
  const tenants = loadTenants(tenantsFile, { registry: { prefix: REGISTRY, host: REGISTRY }, repoConfigLimits: DEFAULT_CONFIG_LIMITS }, {});

  const acmeRepo = await fake.createRepo(31, "acme", "app");
  const acmeSha = await acmeRepo.commit({ Dockerfile: "FROM scratch\n" });
  const strangerRepo = await fake.createRepo(32, "stranger", "app");
  const strangerSha = await strangerRepo.commit({ Dockerfile: "FROM scratch\n" });
  const emptyRepo = await fake.createRepo(32, "stranger", "notes");
  const emptySha = await emptyRepo.commit({ "README.md": "no Dockerfile here\n" });

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

  await plan(pushJob(32, strangerRepo, "stranger", "app", strangerSha), new AbortController().signal);
  const refused = fake.findCheckRuns({ owner: "stranger", repo: "app", sha: strangerSha });
  assert.equal(refused.length, 1, JSON.stringify(refused));
  assert.equal(refused[0]!.name, "buildkit-bot");
  assert.equal(refused[0]!.status, "completed");
  assert.equal(refused[0]!.conclusion, "neutral");
  assert.equal(refused[0]!.output.title, "Not built: this account is not served");
  assert.match(refused[0]!.output.summary ?? "", /builds only for the accounts its operator lists, and stranger \(installation 32\) is not one of them/);
  assert.equal(builds.length, 0, "a refused account gets no build");

  // A repository of the refused account with nothing to build gets no check run at all (no noise on every commit).
  await plan(pushJob(32, emptyRepo, "stranger", "notes", emptySha), new AbortController().signal);
  assert.equal(fake.findCheckRuns({ owner: "stranger", repo: "notes" }).length, 0);

  await plan(pushJob(31, acmeRepo, "acme", "app", acmeSha), new AbortController().signal);
  const served = fake.findCheckRuns({ owner: "acme", repo: "app", sha: acmeSha });
  assert.deepEqual(served.map((r) => [r.name, r.status]), [["buildkit-bot / app", "queued"]]);
  assert.equal(builds.length, 1);
  assert.deepEqual(builds[0]!.image.tags, [`${REGISTRY}/acme/app:main`, `${REGISTRY}/acme/app:sha-${acmeSha.slice(0, 7)}`, `${REGISTRY}/acme/app:latest`]);
  assert.equal(builds[0]!.image.cache.export, `${REGISTRY}/acme/app:buildcache-main`, "the cache ref follows the owner-scoped image");
});
