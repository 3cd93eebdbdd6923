import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import nock from "nock";
import { OctokitPlannerCheckRuns } from "../../src/github/planner-check-runs.js";
import { decodeExternalId } from "../../src/planner/external-id.js";
import { runPlannerJob } from "../../src/planner/planner-job.js";
import type { PlannerDeps } from "../../src/planner/planner-job.js";
import type { BuildJobInput } from "../../src/queue/build-queue.js";
import type { EventJob, PullRequestRef, RepositoryRef } from "../../src/queue/job-types.js";
import { isTransientError, TransientError } from "../../src/errors/index.js";
import { RepoReadError } from "../../src/github/repo-reader.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { freePort } from "../support/stack/free-port.js";
import { API, contentsBody, nockGitHub, testOctokit } from "./github-nock.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";

const gh = nockGitHub();
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
before(async () => {
  redisCtx = await redisForTest("planner-job");
});
afterEach(() => gh.assertAllUsed());
after(async () => {
  gh.restore();
  await redisCtx.cleanup();
});

const SHA = "1111111111222222222233333333334444444444";
const BEFORE = "9999999999888888888877777777776666666666";
const PREFIX = "127.0.0.1:5000";
/** Owner-scoped: `<prefix>/<owner>/<repo>`. */
const SHOP = `${PREFIX}/acme/shop`;
const CONFIG_PATH = "/repos/acme/shop/contents/.github%2Fbuildkit-bot.yml";
const NOW = new Date("2026-11-23T08:00:00.000Z");

const repository: RepositoryRef = {
  installationId: 10,
  repoId: 20,
  owner: "acme",
  repo: "shop",
  private: true,
  defaultBranch: "main",
  cloneUrl: "https://github.com/acme/shop.git",
};

let deliveries = 0;
function pushJob(ref: string, extra: Partial<EventJob> = {}): EventJob {
  return {
    deliveryId: `delivery-${++deliveries}-${Date.now()}`,
    event: "push",
    reason: "push",
    repository,
    sha: SHA,
    ref,
    before: BEFORE,
    receivedAt: NOW.toISOString(),
    ...extra,
  };
}

function prRef(extra: Partial<PullRequestRef> = {}): PullRequestRef {
  return {
    number: 12,
    headRef: "feature/cart",
    headSha: SHA,
    baseRef: "main",
    baseSha: BEFORE,
    headRepoFullName: "acme/shop",
    fork: false,
    ...extra,
  };
}

function prJob(pr: PullRequestRef): EventJob {
  return {
    deliveryId: `delivery-${++deliveries}-${Date.now()}`,
    event: "pull_request",
    reason: "pull_request",
    repository,
    sha: pr.headSha,
    pullRequest: pr,
    receivedAt: NOW.toISOString(),
  };
}

interface Harness {
  deps: PlannerDeps;
  builds: BuildJobInput[];
  withdrawn: string[];
  checkRuns: Array<Record<string, unknown>>;
}

let checkRunIds = 1000;
let harnesses = 0;
/** A fresh Redis key space per test (under the cleaned-up prefix): claims of one test must not leak into the next. */
function harness(): Harness {
  const builds: BuildJobInput[] = [];
  const withdrawn: string[] = [];
  const checkRuns: Array<Record<string, unknown>> = [];
  // Every check run POST is recorded; each test says how many it expects (nock fails on extra or missing ones).
  const deps: PlannerDeps = {
    octokit: testOctokit(),
    redis: redisCtx.redis,
    enqueueBuild: async (job) => {
      builds.push(job);
      return { buildId: `bld-${builds.length}` };
    },
    withdrawBuild: async (buildId) => {
      withdrawn.push(buildId);
    },
    config: { registry: { prefix: PREFIX } },
    clock: { now: () => NOW },
    checkRuns: new OctokitPlannerCheckRuns(testOctokit(), () => NOW),
    keyPrefix: `${redisCtx.prefix}:${++harnesses}`,
  };
  return { deps, builds, withdrawn, checkRuns };
}

function handoffOf(h: Harness): CheckRunHandoff {
  return new CheckRunHandoff(redisCtx.redis, h.deps.keyPrefix ?? "bkb");
}

function expectCheckRuns(h: Harness, count: number): void {
  nock(API)
    .post("/repos/acme/shop/check-runs", (body: Record<string, unknown>) => {
      h.checkRuns.push(body);
      return true;
    })
    .times(count)
    .reply(201, () => ({ id: ++checkRunIds }));
}

function expectConfig(ref: string, text: string | undefined): void {
  const scope = nock(API).get(CONFIG_PATH).query({ ref });
  if (text === undefined) scope.reply(404, { message: "Not Found" });
  else scope.reply(200, contentsBody(".github/buildkit-bot.yml", text));
}

function expectDockerfile(ref: string, exists: boolean): void {
  const scope = nock(API).get("/repos/acme/shop/contents/Dockerfile").query({ ref });
  if (exists) scope.reply(200, contentsBody("Dockerfile", "FROM scratch\n"));
  else scope.reply(404, { message: "Not Found" });
}

const MULTI = `images:
  - name: api
    context: api
    paths: ["api/**", "!**/*.md"]
  - name: web
    context: web
    paths: ["web/**"]
`;

test("push to the default branch without a config builds the root Dockerfile", async () => {
  const h = harness();
  expectConfig(SHA, undefined);
  expectDockerfile(SHA, true);
  expectCheckRuns(h, 1);
  await runPlannerJob(pushJob("refs/heads/main"), h.deps);

  assert.equal(h.checkRuns.length, 1);
  const run = h.checkRuns[0]!;
  assert.equal(run.name, "buildkit-bot / shop");
  assert.equal(run.status, "queued");
  assert.equal(run.head_sha, SHA);
  assert.deepEqual(decodeExternalId(String(run.external_id)), { image: "shop", target: { kind: "branch", branch: "main" } });
  assert.equal(run.details_url, undefined);

  assert.equal(h.builds.length, 1);
  const b = h.builds[0]!;
  // Queued while its run was being created: the run's id is handed over by build id.
  assert.equal(b.checkRunId, undefined);
  assert.deepEqual(await handoffOf(h).read("bld-1"), { kind: "created", checkRunId: checkRunIds });
  assert.equal(b.gitRef, SHA);
  assert.equal(b.sha, SHA);
  assert.equal(b.ref, "refs/heads/main");
  assert.equal(b.fork, false);
  assert.equal(b.noCache, false);
  assert.equal(b.reason, "push");
  assert.equal(b.supersedeKey, "20/branch/main");
  assert.equal(b.queuedAt, NOW.toISOString());
  assert.deepEqual(b.image, {
    name: "shop",
    context: "",
    dockerfile: "Dockerfile",
    platforms: [],
    buildArgs: {},
    // A default-branch image carries max provenance unless its config says otherwise.
    attestations: { provenance: "max" },
    tags: [`${SHOP}:main`, `${SHOP}:sha-1111111`, `${SHOP}:latest`],
    push: true,
    cache: { imports: [`${SHOP}:buildcache-main`], export: `${SHOP}:buildcache-main` },
    ifBranchMoved: { branch: "main", tags: [`${SHOP}:sha-1111111`] },
  });
  assert.match(
    (run.output as { summary: string }).summary,
    /`127\.0\.0\.1:5000\/acme\/shop:main`, `127\.0\.0\.1:5000\/acme\/shop:latest` only if `main` still points at this commit when the build is done/,
  );
});

test("a push to another branch: its branch tag too moves only if the branch is still at the commit", async () => {
  const h = harness();
  expectConfig(SHA, "images:\n  - name: api\n    push:\n      branches: [main, release]\n");
  expectCheckRuns(h, 1);
  await runPlannerJob(pushJob("refs/heads/release"), h.deps);
  assert.deepEqual(h.builds[0]!.image.tags, [`${SHOP}:release`, `${SHOP}:sha-1111111`]);
  assert.deepEqual(h.builds[0]!.image.ifBranchMoved, { branch: "release", tags: [`${SHOP}:sha-1111111`] });
});

test("a same-repository pull request's plan follows its branch too; a tag push has no branch check", async () => {
  const h = harness();
  expectConfig(SHA, "images:\n  - name: api\n    push:\n      pull_requests: true\n");
  expectCheckRuns(h, 1);
  await runPlannerJob(prJob(prRef({ number: 12 })), h.deps);
  assert.deepEqual(h.builds[0]!.image.tags, [`${SHOP}:pr-12`]);
  assert.deepEqual(h.builds[0]!.image.ifBranchMoved, { branch: "feature/cart", tags: [] });

  expectConfig(SHA, undefined);
  expectDockerfile(SHA, true);
  expectCheckRuns(h, 1);
  await runPlannerJob(pushJob("refs/tags/v1.0.0", { before: "0".repeat(40) }), h.deps);
  assert.equal(h.builds[1]!.image.ifBranchMoved, undefined);
});

test("no config and no Dockerfile: nothing is built and no check run is made", async () => {
  const h = harness();
  expectConfig(SHA, undefined);
  expectDockerfile(SHA, false);
  await runPlannerJob(pushJob("refs/heads/main"), h.deps);
  assert.equal(h.builds.length, 0);
});

test("an invalid config: one failed config check run annotated on the line, nothing built", async () => {
  const h = harness();
  expectConfig(SHA, "images:\n  - name: api\n    platforms:\n      - linux/amd64\n      - linux\n");
  expectCheckRuns(h, 1);
  await runPlannerJob(pushJob("refs/heads/main"), h.deps);
  assert.equal(h.builds.length, 0);
  const run = h.checkRuns[0]!;
  assert.equal(run.name, "buildkit-bot / config");
  assert.equal(run.conclusion, "failure");
  const output = run.output as { summary: string; annotations: Array<Record<string, unknown>> };
  assert.match(output.summary, /images\[0\]\.platforms\[1\]: "linux" is not a valid platform .* — line 5/);
  assert.deepEqual(output.annotations.map((a) => [a.path, a.start_line, a.end_line, a.annotation_level]), [
    [".github/buildkit-bot.yml", 5, 5, "failure"],
  ]);
});

test("a GitHub failure reading the config is transient and creates nothing", async () => {
  const h = harness();
  nock(API).get(CONFIG_PATH).query({ ref: SHA }).reply(500, { message: "boom" });
  await assert.rejects(runPlannerJob(pushJob("refs/heads/main"), h.deps), (err: unknown) => err instanceof RepoReadError && err.status === 500 && isTransientError(err));
  assert.equal(h.builds.length, 0);
});

test("path filters with the payload's file list: a queued run for api, a neutral one for web", async () => {
  const h = harness();
  expectConfig(SHA, MULTI);
  expectCheckRuns(h, 2);
  await runPlannerJob(pushJob("refs/heads/main", { changedFiles: ["api/main.go", "README.md"] }), h.deps);
  assert.deepEqual(h.builds.map((b) => b.image.name), ["api"]);
  const web = h.checkRuns.find((r) => r.name === "buildkit-bot / web")!;
  assert.equal(web.status, "completed");
  assert.equal(web.conclusion, "neutral");
  assert.match((web.output as { summary: string }).summary, /none of the 2 changed file\(s\) matches/);
  assert.equal(h.checkRuns.find((r) => r.name === "buildkit-bot / api")?.status, "queued");
});

test("a push that leaves the config file and the root Dockerfile alone takes its parent's config without reading it", async () => {
  const h = harness();
  const [P1, P2, P3, P4] = ["a1", "a2", "a3", "a4"].map((x) => x.repeat(20));
  const push = (sha: string, before: string, changedFiles?: string[]) =>
    runPlannerJob(pushJob("refs/heads/feature", { sha, before, ...(changedFiles ? { changedFiles } : {}) }), h.deps);

  expectConfig(P1!, "images:\n  - name: app\n");
  expectDockerfile(P1!, true);
  expectCheckRuns(h, 1);
  await push(P1!, BEFORE, ["src/main.go"]);
  gh.assertAllUsed();

  // Nothing is expected from GitHub but the check run: a config read would find no interceptor and fail the job.
  expectCheckRuns(h, 1);
  await push(P2!, P1!, ["src/main.go", "README.md"]);
  gh.assertAllUsed();

  expectConfig(P3!, "images:\n  - name: api\n");
  expectDockerfile(P3!, true);
  expectCheckRuns(h, 1);
  await push(P3!, P2!, [".github/buildkit-bot.yml"]);
  gh.assertAllUsed();

  // A force-push has no trustworthy file list: read again.
  expectConfig(P4!, "images:\n  - name: api\n  - name: worker\n");
  expectDockerfile(P4!, true);
  expectCheckRuns(h, 2);
  await push(P4!, P3!);

  assert.deepEqual(
    h.builds.map((b) => `${b.sha.slice(0, 2)} ${b.image.name}`),
    ["a1 app", "a2 app", "a3 api", "a4 api", "a4 worker"],
  );
});

test("path filters without a file list use the compare API", async () => {
  const h = harness();
  expectConfig(SHA, MULTI);
  nock(API).get(`/repos/acme/shop/compare/${BEFORE}...${SHA}`).reply(200, { status: "ahead", files: [{ filename: "web/index.html" }] });
  expectCheckRuns(h, 2);
  await runPlannerJob(pushJob("refs/heads/main"), h.deps);
  assert.deepEqual(h.builds.map((b) => b.image.name), ["web"]);
});

test("a new branch (before = 000…) builds every image without asking for a diff", async () => {
  const h = harness();
  expectConfig(SHA, MULTI);
  expectCheckRuns(h, 2);
  await runPlannerJob(pushJob("refs/heads/topic", { before: "0".repeat(40) }), h.deps);
  assert.deepEqual(h.builds.map((b) => b.image.name).sort(), ["api", "web"]);
  for (const b of h.builds) assert.equal(b.image.push, false);
});

test("a semver tag push: pushed with aliases, no supersede key", async () => {
  const h = harness();
  expectConfig(SHA, undefined);
  expectDockerfile(SHA, true);
  expectCheckRuns(h, 1);
  await runPlannerJob(pushJob("refs/tags/v3.1.0", { before: "0".repeat(40) }), h.deps);
  const b = h.builds[0]!;
  assert.deepEqual(b.image.tags, [`${SHOP}:v3.1.0`, `${SHOP}:3.1`, `${SHOP}:3`]);
  assert.equal(b.image.push, true);
  assert.equal(b.supersedeKey, "");
  assert.equal(b.ref, "refs/tags/v3.1.0");
});

test("retrying a planning job neither duplicates check runs nor builds", async () => {
  const h = harness();
  const job = pushJob("refs/heads/main");
  expectConfig(SHA, "images:\n  - name: api\n");
  expectCheckRuns(h, 1);
  await runPlannerJob(job, h.deps);
  expectConfig(SHA, "images:\n  - name: api\n");
  await runPlannerJob(job, h.deps);
  assert.equal(h.checkRuns.length, 1);
  assert.equal(h.builds.length, 1);
});

test("fork PR: config from the base branch, PR files paginated, never pushed, cache import only", async () => {
  const h = harness();
  const fork = prRef({ number: 31, headRef: "main", headRepoFullName: "mallory/shop", fork: true, headSha: SHA });
  // The fork cannot turn pushing on: the config is read at the base branch.
  expectConfig("main", "images:\n  - name: api\n    paths: ['api/**']\n    push: { pull_requests: true }\n");
  nock(API)
    .get("/repos/acme/shop/pulls/31/files")
    .query({ per_page: 100, page: 1 })
    .reply(
      200,
      Array.from({ length: 100 }, (_, i) => ({ filename: `docs/${i}.md` })),
      { link: `<${API}/repositories/20/pulls/31/files?per_page=100&page=2>; rel="next"` },
    );
  nock(API).get("/repos/acme/shop/pulls/31/files").query({ per_page: 100, page: 2 }).reply(200, [{ filename: "api/x.go" }]);
  expectCheckRuns(h, 1);
  await runPlannerJob(prJob(fork), h.deps);
  const b = h.builds[0]!;
  assert.equal(b.fork, true);
  assert.equal(b.gitRef, "refs/pull/31/head");
  assert.equal(b.image.push, false);
  assert.equal(b.image.cache.export, undefined);
  assert.deepEqual(b.image.cache.imports, [`${SHOP}:buildcache-pr-31`, `${SHOP}:buildcache-main`]);
  assert.deepEqual(b.image.tags, [`${SHOP}:pr-31`]);
  assert.equal(b.supersedeKey, "20/pull/31");
  assert.deepEqual(b.pullRequest, fork);
  assert.deepEqual(decodeExternalId(String(h.checkRuns[0]!.external_id))?.target, {
    kind: "pull_request",
    number: 31,
    baseRef: "main",
    fork: true,
  });
});

const SAME_SHA_CONFIG = (prPush: boolean): string => `images:\n  - name: api\n    push: { pull_requests: ${prPush} }\n`;

async function runPush(h: Harness, prPush: boolean, expectedRuns: number): Promise<void> {
  expectConfig(SHA, SAME_SHA_CONFIG(prPush));
  if (expectedRuns > 0) expectCheckRuns(h, expectedRuns);
  await runPlannerJob(pushJob("refs/heads/feature/cart", { changedFiles: ["api/a.go"] }), h.deps);
}

async function runPr(h: Harness, prPush: boolean, pr: PullRequestRef, expectedRuns: number): Promise<void> {
  expectConfig(SHA, SAME_SHA_CONFIG(prPush));
  if (expectedRuns > 0) expectCheckRuns(h, expectedRuns);
  await runPlannerJob(prJob(pr), h.deps);
}

test("push first, then the PR of the same sha: built once under the push plan", async () => {
  const h = harness();
  const pr = prRef({ number: 41, headRef: "feature/cart" });
  await runPush(h, false, 1);
  await runPr(h, false, pr, 0);
  assert.equal(h.builds.length, 1);
  assert.deepEqual(h.builds[0]!.image.tags, [`${SHOP}:feature-cart`, `${SHOP}:sha-1111111`]);
  assert.equal(h.builds[0]!.supersedeKey, "20/branch/feature/cart");
});

test("PR first, then the push of the same sha: built once, under the push plan", async () => {
  const h = harness();
  const pr = prRef({ number: 42, headRef: "feature/cart" });
  await runPr(h, false, pr, 1);
  await runPush(h, false, 0);
  assert.equal(h.builds.length, 1);
  const b = h.builds[0]!;
  assert.deepEqual(b.image.tags, [`${SHOP}:feature-cart`, `${SHOP}:sha-1111111`]);
  assert.equal(b.ref, "refs/heads/feature/cart");
  assert.equal(b.supersedeKey, "20/branch/feature/cart");
  assert.deepEqual(decodeExternalId(String(h.checkRuns[0]!.external_id))?.target, {
    kind: "branch",
    branch: "feature/cart",
    pullRequest: { number: 42, baseRef: "main" },
  });
});

test("PR first with PR pushes on: the one build pushes pr-N; the push adds nothing", async () => {
  const h = harness();
  const pr = prRef({ number: 43, headRef: "feature/cart" });
  await runPr(h, true, pr, 1);
  await runPush(h, true, 0);
  assert.equal(h.builds.length, 1);
  assert.deepEqual(h.builds[0]!.image.tags, [`${SHOP}:pr-43`]);
  assert.equal(h.builds[0]!.image.push, true);
});

test("push first with PR pushes on: the PR adds a build for its pr-N tag only", async () => {
  const h = harness();
  const pr = prRef({ number: 44, headRef: "feature/cart" });
  await runPush(h, true, 1);
  await runPr(h, true, pr, 1);
  assert.equal(h.builds.length, 2);
  assert.equal(h.builds[0]!.image.push, false);
  assert.deepEqual(h.builds[1]!.image.tags, [`${SHOP}:pr-44`]);
  assert.equal(h.builds[1]!.image.push, true);
  assert.equal(h.builds[1]!.supersedeKey, "20/pull/44");
});

test("rebuild from external_id, without cache; the branch tags move only if the branch is still at the commit", async () => {
  const h = harness();
  const externalId = "v=1&i=shop&k=b&r=main";
  expectConfig(SHA, undefined);
  expectDockerfile(SHA, true);
  expectCheckRuns(h, 1);
  await runPlannerJob(
    {
      deliveryId: `delivery-${++deliveries}`,
      event: "check_run",
      reason: "rebuild-no-cache",
      repository,
      sha: SHA,
      rerun: { checkRunId: 5, externalId, noCache: true },
      receivedAt: NOW.toISOString(),
    },
    h.deps,
  );
  const b = h.builds[0]!;
  assert.equal(b.noCache, true);
  assert.equal(b.reason, "rebuild-no-cache");
  assert.deepEqual(b.image.tags, [`${SHOP}:main`, `${SHOP}:sha-1111111`, `${SHOP}:latest`]);
  assert.deepEqual(b.image.ifBranchMoved, { branch: "main", tags: [`${SHOP}:sha-1111111`] });
  assert.deepEqual(b.image.cache, { imports: [], export: `${SHOP}:buildcache-main` });
  assert.equal(h.checkRuns[0]!.external_id, externalId);
});

test("rebuild of a fork PR's check run works from external_id alone (no pull_requests in the payload)", async () => {
  const h = harness();
  expectConfig("develop", "images:\n  - name: api\n  - name: web\n");
  expectCheckRuns(h, 1);
  await runPlannerJob(
    {
      deliveryId: `delivery-${++deliveries}`,
      event: "check_run",
      reason: "rerequested",
      repository,
      sha: SHA,
      rerun: { checkRunId: 6, externalId: "v=1&i=web&k=p&n=77&base=develop&f=1", noCache: false },
      receivedAt: NOW.toISOString(),
    },
    h.deps,
  );
  assert.equal(h.builds.length, 1);
  const b = h.builds[0]!;
  assert.equal(b.image.name, "web");
  assert.equal(b.gitRef, "refs/pull/77/head");
  assert.equal(b.fork, true);
  assert.equal(b.image.push, false);
  assert.equal(b.image.cache.export, undefined);
});

test("a very long branch name gets a hashed external_id that a rebuild can still resolve", async () => {
  const h = harness();
  const branch = `feature/${"very-long-name-".repeat(20)}end`;
  expectConfig(SHA, "images:\n  - name: api\n");
  expectCheckRuns(h, 1);
  await runPlannerJob(pushJob(`refs/heads/${branch}`), h.deps);
  const externalId = String(h.checkRuns[0]!.external_id);
  assert.ok(externalId.length <= 255);
  assert.match(externalId, /^v=1&h=[0-9a-f]{32}$/);

  expectConfig(SHA, "images:\n  - name: api\n");
  expectCheckRuns(h, 1);
  await runPlannerJob(
    {
      deliveryId: `delivery-${++deliveries}`,
      event: "check_run",
      reason: "rebuild",
      repository,
      sha: SHA,
      rerun: { checkRunId: 9, externalId, noCache: false },
      receivedAt: NOW.toISOString(),
    },
    h.deps,
  );
  assert.equal(h.builds.length, 2);
  assert.equal(h.builds[1]!.ref, `refs/heads/${branch}`);
  assert.deepEqual(h.builds[1]!.image.tags, h.builds[0]!.image.tags);
});

test("a rebuild of a check run that is not ours does nothing", async () => {
  const h = harness();
  await runPlannerJob(
    {
      deliveryId: `delivery-${++deliveries}`,
      event: "check_run",
      reason: "rerequested",
      repository,
      sha: SHA,
      rerun: { checkRunId: 1, externalId: "something-else", noCache: false },
      receivedAt: NOW.toISOString(),
    },
    h.deps,
  );
  assert.equal(h.builds.length, 0);
});

test("Redis unavailable while claiming: a transient error, no build queued", async () => {
  const h = harness();
  const port = await freePort();
  const down = new Redis({ port, host: "127.0.0.1", lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
  try {
    expectConfig(SHA, "images:\n  - name: api\n");
    await assert.rejects(
      runPlannerJob(pushJob("refs/heads/topic", { changedFiles: ["a"] }), { ...h.deps, redis: down }),
      (err: unknown) => err instanceof TransientError && /Redis failed while claiming a build/.test(err.message),
    );
    assert.equal(h.builds.length, 0);
  } finally {
    down.disconnect();
  }
});

test("a failed check run create takes back the build queued alongside it; the retry queues a new one with its run", async () => {
  const h = harness();
  const job = pushJob("refs/heads/main");
  expectConfig(SHA, "images:\n  - name: api\n");
  nock(API).post("/repos/acme/shop/check-runs").reply(502, { message: "Bad Gateway" });
  await assert.rejects(runPlannerJob(job, h.deps), (err: unknown) => isTransientError(err));
  assert.equal(h.builds.length, 1, "the build went out with the create");
  assert.deepEqual(h.withdrawn, ["bld-1"]);
  assert.deepEqual(await handoffOf(h).read("bld-1"), { kind: "withdrawn" }, "whoever waits for its run stops waiting");

  expectConfig(SHA, "images:\n  - name: api\n");
  expectCheckRuns(h, 1);
  await runPlannerJob(job, h.deps);
  assert.equal(h.builds.length, 2);
  assert.deepEqual(await handoffOf(h).read("bld-2"), { kind: "created", checkRunId: checkRunIds });
  assert.deepEqual(h.withdrawn, ["bld-1"]);
});

test("a failed enqueue keeps the run: the retry queues the build with the run's id in its job, and creates no second run", async () => {
  const h = harness();
  const job = pushJob("refs/heads/main");
  const enqueue = h.deps.enqueueBuild;
  let failures = 1;
  h.deps.enqueueBuild = async (input) => {
    if (failures-- > 0) throw new TransientError("Redis failed while queueing");
    return enqueue(input);
  };
  expectConfig(SHA, "images:\n  - name: api\n");
  expectCheckRuns(h, 1);
  await assert.rejects(runPlannerJob(job, h.deps), TransientError);
  assert.equal(h.checkRuns.length, 1);
  assert.equal(h.builds.length, 0);

  expectConfig(SHA, "images:\n  - name: api\n");
  await runPlannerJob(job, h.deps);
  assert.equal(h.checkRuns.length, 1, "no second run");
  assert.equal(h.builds.length, 1);
  assert.equal(h.builds[0]!.checkRunId, checkRunIds);
  assert.deepEqual(h.withdrawn, []);
});
