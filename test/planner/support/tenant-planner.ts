import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Probot, ProbotOctokit } from "probot";
import { DEFAULT_CONFIG_LIMITS } from "../../../src/config/config-limits.js";
import { BudgetedPlannerCheckRuns } from "../../../src/github/budgeted-planner-check-runs.js";
import { OctokitPlannerCheckRuns } from "../../../src/github/planner-check-runs.js";
import { WriteBudget } from "../../../src/github/write-budget.js";
import { plannerProcessor } from "../../../src/planner/planner-processor.js";
import type { BuildJobInput } from "../../../src/queue/build-queue.js";
import type { BuildJob, EventJob } from "../../../src/queue/job-types.js";
import { loadTenants } from "../../../src/tenancy/index.js";
import type { Tenants } from "../../../src/tenancy/index.js";
import { redisForTest } from "../../github/redis-test-keys.js";
import { createAppCredentials } from "../../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../../support/fake-github/index.js";
import type { FakeGitHub } from "../../support/fake-github/index.js";
import { startGitServer } from "../../support/git-server.js";
import type { GitRepo, GitServer } from "../../support/git-server.js";

/**
 * The real planner against the fake GitHub, the git server and Redis, with an operator's tenants file: what the
 * tenancy tests of the planner share. Builds are not queued but collected.
 */
export const TENANT_REGISTRY = "127.0.0.1:5000";

export interface TenantPlannerWorld {
  creds: ReturnType<typeof createAppCredentials>;
  git: GitServer;
  fake: FakeGitHub<GitRepo>;
  redis: Awaited<ReturnType<typeof redisForTest>>;
  /** Loads a tenants file with this text (and these environment variables for its references). */
  tenants(text: string, env?: NodeJS.ProcessEnv): Promise<Tenants>;
  close(): Promise<void>;
}

export async function startTenantPlannerWorld(name: string, appId: number, installations: Record<number, string>): Promise<TenantPlannerWorld> {
  const creds = createAppCredentials(appId);
  const redis = await redisForTest(name);
  const dir = await mkdtemp(join(tmpdir(), `bkb-${name}-`));
  const git = await startGitServer();
  const fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  for (const [id, account] of Object.entries(installations)) fake.addInstallation(Number(id), account);
  let files = 0;
  return {
    creds,
    git,
    fake,
    redis,
    async tenants(text, env = {}) {
      const file = join(dir, `tenants-${++files}.yml`);
      await writeFile(file, text);
      return loadTenants(file, { registry: { prefix: TENANT_REGISTRY, host: TENANT_REGISTRY }, repoConfigLimits: DEFAULT_CONFIG_LIMITS }, env);
    },
    async close() {
      await fake.close();
      await git.close();
      await rm(dir, { recursive: true, force: true });
      await redis.cleanup();
    },
  };
}

/** The planner of `world` under `tenants`, through the budgeted check-run writes; the builds it queues land in `builds`. */
export function tenantPlanner(world: TenantPlannerWorld, tenants: Tenants): { plan: ReturnType<typeof plannerProcessor>; builds: BuildJobInput[] } {
  const probot = new Probot({
    appId: world.creds.appId,
    privateKey: world.creds.privateKeyPem,
    baseUrl: world.fake.url,
    logLevel: "warn",
    Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
  });
  const budget = new WriteBudget(world.redis.redis, { prefix: `${world.redis.prefix}:budget` });
  const builds: BuildJobInput[] = [];
  const plan = plannerProcessor({
    probot,
    redis: world.redis.redis,
    enqueueBuild: async (job) => {
      builds.push(job);
      return { ...job, buildId: `bld-${builds.length}`, attempt: 1, queuedAt: new Date().toISOString() } as BuildJob;
    },
    withdrawBuild: async () => assert.fail("nothing to withdraw"),
    config: { registry: { prefix: TENANT_REGISTRY }, tenants },
    keyPrefix: world.redis.prefix,
    checkRuns: (octokit) => new BudgetedPlannerCheckRuns(new OctokitPlannerCheckRuns(octokit), budget),
  });
  return { plan, builds };
}

/** A push of `sha` to main of `owner/name`, as the push handler stores it. */
export function pushEventJob(
  repo: GitRepo & { id: number },
  push: { installationId: number; owner: string; name: string; sha: string; changedFiles: string[]; deliveryPrefix: string },
): EventJob {
  return {
    deliveryId: `${push.deliveryPrefix}-${push.installationId}-${push.sha}`,
    event: "push",
    reason: "push",
    repository: {
      installationId: push.installationId,
      repoId: repo.id,
      owner: push.owner,
      repo: push.name,
      private: true,
      defaultBranch: "main",
      cloneUrl: `https://github.com/${push.owner}/${push.name}.git`,
    },
    sha: push.sha,
    ref: "refs/heads/main",
    before: "0".repeat(40),
    changedFiles: push.changedFiles,
    receivedAt: new Date().toISOString(),
  };
}
