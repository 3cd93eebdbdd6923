import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import nock from "nock";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import type { ConfigLimits } from "../../src/config/config-limits.js";
import { OctokitPlannerCheckRuns } from "../../src/github/planner-check-runs.js";
import { ConfigWorkerPool } from "../../src/planner/config-worker-pool.js";
import { runPlannerJob } from "../../src/planner/planner-job.js";
import type { PlannerDeps } from "../../src/planner/planner-job.js";
import type { BuildJobInput } from "../../src/queue/build-queue.js";
import type { EventJob, RepositoryRef } from "../../src/queue/job-types.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { API, contentsBody, nockGitHub, testOctokit } from "./github-nock.js";
import { SLOW_64K_CONFIG, slowPlanInput } from "./support/slow-config.js";

/**
 * The planner with the app's ConfigWorkerPool: a config read and applied in worker threads plans as on the
 * planner's own thread, and a config that runs past the time limit, in reading or in path filtering, ends in the
 * failed config check run, annotated on line 1 with the limit and its value.
 */

const gh = nockGitHub();
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
const pool = new ConfigWorkerPool({ size: 1 });
before(async () => {
  redisCtx = await redisForTest("planner-isolation");
  await pool.start();
});
afterEach(() => gh.assertAllUsed());
after(async () => {
  gh.restore();
  await pool.close();
  await redisCtx.cleanup();
});

const SHA = "1111111111222222222233333333334444444444";
const BEFORE = "9999999999888888888877777777776666666666";
const NOW = new Date("2026-11-23T08:00:00.000Z");
const repository: RepositoryRef = {
  installationId: 10,
  repoId: 21,
  owner: "acme",
  repo: "shop",
  private: true,
  defaultBranch: "main",
  cloneUrl: "https://github.com/acme/shop.git",
};

let n = 0;
const push = (changedFiles: string[]): EventJob => ({
  deliveryId: `isolation-${++n}-${Date.now()}`,
  event: "push",
  reason: "push",
  repository,
  sha: SHA,
  ref: "refs/heads/main",
  before: BEFORE,
  changedFiles,
  receivedAt: NOW.toISOString(),
});

function harness(limits: ConfigLimits = DEFAULT_CONFIG_LIMITS): { deps: PlannerDeps; builds: BuildJobInput[]; checkRuns: Array<Record<string, unknown>> } {
  const builds: BuildJobInput[] = [];
  const checkRuns: Array<Record<string, unknown>> = [];
  const deps: PlannerDeps = {
    octokit: testOctokit(),
    redis: redisCtx.redis,
    enqueueBuild: async (job) => {
      builds.push(job);
      return { buildId: `bld-${builds.length}` };
    },
    withdrawBuild: async () => {},
    config: { registry: { prefix: "127.0.0.1:5000" }, repoConfigLimits: limits },
    clock: { now: () => NOW },
    checkRuns: new OctokitPlannerCheckRuns(testOctokit(), () => NOW),
    keyPrefix: `${redisCtx.prefix}:${++n}`,
    configWork: pool,
  };
  return { deps, builds, checkRuns };
}

function expect(text: string, checkRuns: Array<Record<string, unknown>>, count: number): void {
  nock(API).get("/repos/acme/shop/contents/.github%2Fbuildkit-bot.yml").query({ ref: SHA }).reply(200, contentsBody(".github/buildkit-bot.yml", text));
  nock(API).get("/repos/acme/shop/contents/Dockerfile").query({ ref: SHA }).reply(404, { message: "Not Found" });
  nock(API)
    .post("/repos/acme/shop/check-runs", (body: Record<string, unknown>) => {
      checkRuns.push(body);
      return true;
    })
    .times(count)
    .reply(201, () => ({ id: 5000 + checkRuns.length }));
}

function configFailure(run: Record<string, unknown> | undefined): Array<[unknown, unknown]> {
  assert.ok(run);
  assert.equal(run.name, "buildkit-bot / config");
  assert.equal(run.conclusion, "failure");
  return (run.output as { annotations: Array<Record<string, unknown>> }).annotations.map((a) => [a.start_line, a.message]);
}

test("through the pool, path filters pick the images to build", async () => {
  const h = harness();
  expect('images:\n  - name: api\n    context: api\n    paths: ["api/**"]\n  - name: web\n    paths: ["web/**"]\n', h.checkRuns, 2);
  await runPlannerJob(push(["api/main.go", "README.md"]), h.deps);
  assert.deepEqual(h.builds.map((b) => b.image.name), ["api"]);
  assert.deepEqual(
    h.checkRuns.map((r) => [r.name, r.status, r.conclusion]),
    [
      ["buildkit-bot / api", "queued", undefined],
      ["buildkit-bot / web", "completed", "neutral"],
    ],
  );
});

test("a config that takes longer than checkTimeMs to read fails the config check on line 1", async () => {
  const h = harness({ ...DEFAULT_CONFIG_LIMITS, checkTimeMs: 5 });
  expect(SLOW_64K_CONFIG, h.checkRuns, 1);
  await runPlannerJob(push(["a"]), h.deps);
  assert.equal(h.builds.length, 0);
  assert.deepEqual(configFailure(h.checkRuns[0]), [[1, "the config took longer than 5 ms to check (limit checkTimeMs = 5)"]]);
});

test("path filtering that takes longer than checkTimeMs fails the config check on line 1, and nothing is built", async () => {
  const slow = slowPlanInput();
  const h = harness({ ...DEFAULT_CONFIG_LIMITS, checkTimeMs: 100 });
  const globs = slow.config.images[0]!.paths.map((p) => JSON.stringify(p)).join(", ");
  expect(`images:\n  - name: app\n    paths: [${globs}]\n`, h.checkRuns, 1);
  const overTime = pool.stats().overTime;
  await runPlannerJob(push([...slow.changedFiles!]), h.deps);
  assert.equal(h.builds.length, 0);
  assert.deepEqual(configFailure(h.checkRuns[0]), [[1, "the config took longer than 100 ms to check (limit checkTimeMs = 100)"]]);
  assert.equal(pool.stats().overTime, overTime + 1);
});
