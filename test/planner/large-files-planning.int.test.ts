import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import nock from "nock";
import { OctokitPlannerCheckRuns } from "../../src/github/planner-check-runs.js";
import { runPlannerJob } from "../../src/planner/planner-job.js";
import type { PlannerDeps } from "../../src/planner/planner-job.js";
import type { BuildJobInput } from "../../src/queue/build-queue.js";
import type { EventJob } from "../../src/queue/job-types.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { API, nockGitHub, testOctokit } from "./github-nock.js";

/**
 * Issue 18 point 6: the contents API answers a file over 1 MB with `"encoding": "none"` and no content (GitHub's own
 * shape). A planning that meets one is not a transient failure: a root Dockerfile that size builds with the
 * defaults, a config file that size fails the config check on line 1. Neither file is downloaded.
 */
const gh = nockGitHub();
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
before(async () => {
  redisCtx = await redisForTest("planner-large-files");
});
afterEach(() => gh.assertAllUsed());
after(async () => {
  gh.restore();
  await redisCtx.cleanup();
});

const SHA = "5555555555666666666677777777778888888888";
const NOW = new Date("2026-12-03T09:00:00.000Z");
const CONFIG_PATH = "/repos/acme/big/contents/.github%2Fbuildkit-bot.yml";
const DOCKERFILE_PATH = "/repos/acme/big/contents/Dockerfile";
let n = 0;

function pushJob(): EventJob {
  return {
    deliveryId: `large-${++n}-${Date.now()}`,
    event: "push",
    reason: "push",
    repository: { installationId: 10, repoId: 30, owner: "acme", repo: "big", private: true, defaultBranch: "main", cloneUrl: "https://github.com/acme/big.git" },
    sha: SHA,
    ref: "refs/heads/main",
    before: "0".repeat(40),
    receivedAt: NOW.toISOString(),
  };
}

/** GitHub's answer for a file over 1 MB under the default media type. */
function tooLarge(path: string, size: number): Record<string, unknown> {
  return { type: "file", encoding: "none", content: "", size, name: path.split("/").at(-1), path, sha: "f".repeat(40) };
}

function harness(): { deps: PlannerDeps; builds: BuildJobInput[]; checkRuns: Array<Record<string, unknown>> } {
  const builds: BuildJobInput[] = [];
  const checkRuns: Array<Record<string, unknown>> = [];
  nock(API)
    .post("/repos/acme/big/check-runs", (body: Record<string, unknown>) => {
      checkRuns.push(body);
      return true;
    })
    .reply(201, () => ({ id: 7000 + checkRuns.length }));
  const deps: PlannerDeps = {
    octokit: testOctokit(),
    redis: redisCtx.redis,
    enqueueBuild: async (job) => {
      builds.push(job);
      return { buildId: `bld-${builds.length}` };
    },
    withdrawBuild: async () => {},
    config: { registry: { prefix: "127.0.0.1:5000" } },
    clock: { now: () => NOW },
    checkRuns: new OctokitPlannerCheckRuns(testOctokit(), () => NOW),
    keyPrefix: `${redisCtx.prefix}:${n}`,
  };
  return { deps, builds, checkRuns };
}

test("a root Dockerfile over 1 MB is built with the defaults: one queued check run, one build, no retry", async () => {
  const h = harness();
  nock(API).get(CONFIG_PATH).query({ ref: SHA }).reply(404, { message: "Not Found" });
  nock(API).get(DOCKERFILE_PATH).query({ ref: SHA }).reply(200, tooLarge("Dockerfile", 3 * 1024 * 1024));
  await runPlannerJob(pushJob(), h.deps);
  assert.deepEqual(h.checkRuns.map((r) => [r.name, r.status]), [["buildkit-bot / big", "queued"]]);
  assert.deepEqual(h.builds.map((b) => [b.image.name, b.image.dockerfile]), [["big", "Dockerfile"]]);
});

test("a config file over 1 MB fails the config check on line 1 with the size limit's message, nothing built", async () => {
  const h = harness();
  nock(API).get(CONFIG_PATH).query({ ref: SHA }).reply(200, tooLarge(".github/buildkit-bot.yml", 2_000_000));
  nock(API).get(DOCKERFILE_PATH).query({ ref: SHA }).reply(200, tooLarge("Dockerfile", 3 * 1024 * 1024));
  await runPlannerJob(pushJob(), h.deps);
  assert.equal(h.builds.length, 0);
  assert.equal(h.checkRuns.length, 1);
  const run = h.checkRuns[0]!;
  assert.equal(run.name, "buildkit-bot / config");
  assert.equal(run.conclusion, "failure");
  const output = run.output as { summary: string; annotations: Array<Record<string, unknown>> };
  assert.deepEqual(output.annotations.map((a) => [a.path, a.start_line, a.annotation_level, a.message]), [
    [".github/buildkit-bot.yml", 1, "failure", "the file is 2000000 bytes, over the limit of 65536 bytes"],
  ]);
});
