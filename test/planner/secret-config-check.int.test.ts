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
 * The config check's build-secret rule, through the real planner against the fake GitHub: an id under an image's
 * `secrets` that the operator's tenants file does not give the repository fails the config check with an annotation
 * on that entry's line, and nothing is built; with granted ids only, the queued build job carries the ids, never
 * a value.
 */
const REGISTRY = "127.0.0.1:5000";
const creds = createAppCredentials(7511);
let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let dir: string;

before(async () => {
  redisCtx = await redisForTest("secret-config-check");
  dir = await mkdtemp(join(tmpdir(), "bkb-secretcheck-"));
  git = await startGitServer();
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(32, "acme");
});

after(async () => {
  await fake.close();
  await git.close();
  await rm(dir, { recursive: true, force: true });
  await redisCtx.cleanup();
});

function pushJob(installationId: number, repo: GitRepo & { id: number }, owner: string, name: string, sha: string): EventJob {
  return {
    deliveryId: `secretcheck-${installationId}-${sha}`,
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

const NPM_VALUE = "npm-value-never-in-a-job";

test("an id the tenants file does not give the repository fails the config check on its line; granted ids reach the job as ids only", { timeout: 60_000 }, async () => {
  const tenantsFile = join(dir, "tenants.yml");
  await writeFile(
    tenantsFile,
    "unlisted_accounts: refuse\naccounts:\n  - login: acme\n    build_secrets:\n      - id: npm_token\n        env: NPM\n      - id: license_key\n        env: NPM\n        repositories: [billing]\n",
  );
  const tenants = loadTenants(tenantsFile, { registry: { prefix: REGISTRY, host: REGISTRY }, repoConfigLimits: DEFAULT_CONFIG_LIMITS }, { NPM: NPM_VALUE });
  const repo = await fake.createRepo(32, "acme", "app");
  const config = ["images:", "  - name: api", "    secrets:", "      - npm_token", "      - license_key", "  - name: web", "    secrets: [nope]", ""].join("\n");
  const badSha = await repo.commit({ Dockerfile: "FROM scratch\n", ".github/buildkit-bot.yml": config });

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

  await plan(pushJob(32, repo, "acme", "app", badSha), new AbortController().signal);
  const runs = fake.findCheckRuns({ owner: "acme", repo: "app", sha: badSha });
  assert.deepEqual(runs.map((r) => [r.name, r.conclusion]), [["buildkit-bot / config", "failure"]]);
  assert.equal(builds.length, 0, "nothing is built");
  const annotations = runs[0]!.annotations;
  assert.deepEqual(annotations.map((a) => [a.path, a.start_line, a.annotation_level]), [
    [".github/buildkit-bot.yml", 5, "failure"],
    [".github/buildkit-bot.yml", 7, "failure"],
  ]);
  assert.match(annotations[0]!.message, /images\[0\]\.secrets\[1\]: "license_key" is not a build secret of this repository; the operator's tenants file gives this repository "npm_token"/);
  assert.match(annotations[1]!.message, /images\[1\]\.secrets\[0\]: "nope" is not a build secret/);
  assert.ok(!JSON.stringify(runs).includes(NPM_VALUE));

  const goodSha = await repo.commit({ ".github/buildkit-bot.yml": config.replace("      - license_key\n", "").replace("[nope]", "[]") });
  await plan(pushJob(32, repo, "acme", "app", goodSha), new AbortController().signal);
  assert.deepEqual(builds.map((b) => [b.image.name, b.image.secrets]), [["api", ["npm_token"]], ["web", undefined]]);
  assert.ok(!JSON.stringify(builds).includes(NPM_VALUE), "the job carries ids, never values");
});
