import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import { OctokitPlannerCheckRuns } from "../../src/github/planner-check-runs.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import type { GitHubClient } from "../../src/github/repo-reader.js";
import { runPlannerJob } from "../../src/planner/planner-job.js";
import type { PlannerDeps } from "../../src/planner/planner-job.js";
import { BuildAttempts } from "../../src/queue/build-attempts.js";
import { BuildQueue } from "../../src/queue/build-queue.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";
import { CheckRunLedger } from "../../src/queue/check-run-ledger.js";
import type { RunSlot } from "../../src/queue/check-run-ledger.js";
import { eventJobId } from "../../src/queue/job-ids.js";
import type { BuildJob, EventJob } from "../../src/queue/job-types.js";
import { isTransientError } from "../../src/errors/index.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { InFlightBuilds } from "../../src/trail/in-flight-builds.js";
import { plannerLookupOf, settleSlot, slotBuildsOf } from "../../src/worker/orphaned-check-runs.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { RecordingListener } from "../queue/queue-test-kit.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import { testStack } from "../support/stack/env.js";

/**
 * Issue 14 item 4, the defect as found: Redis goes away after the planner created a build's check run and queued
 * the build, before it could record the run and hand it over. The retried attempt makes a second run and build;
 * the first run must not stay `queued`, and the first build must learn that no run will come.
 */

/** The planner's check runs, with a hook called the moment GitHub has created a build's run. */
class CutOffAfterCreate extends OctokitPlannerCheckRuns {
  constructor(
    octokit: GitHubClient,
    private readonly onCreated: (() => void) | undefined,
  ) {
    super(octokit);
  }

  override async createQueuedCheckRun(run: Parameters<OctokitPlannerCheckRuns["createQueuedCheckRun"]>[0]): Promise<number> {
    const id = await super.createQueuedCheckRun(run);
    this.onCreated?.();
    return id;
  }
}

const creds = createAppCredentials(4521);
const INSTALLATION = 31;
let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let probot: Probot;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let builds: BuildQueue;
let events: Queue<EventJob>;

before(async () => {
  git = await startGitServer();
  fake = await startFakeGitHub<GitRepo>({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(INSTALLATION, "acme");
  probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, logLevel: "warn" });
  redisCtx = await redisForTest("interrupted");
  builds = new BuildQueue({ connection: redisCtx.connect(), prefix: redisCtx.prefix, supersedeListener: new RecordingListener() });
  events = new Queue<EventJob>(QueueName.Events, { connection: redisCtx.connect(), prefix: redisCtx.prefix });
});

after(async () => {
  await builds?.queue.obliterate({ force: true }).catch(() => undefined);
  await builds?.close();
  await events?.close();
  await fake?.close();
  await git?.close();
  await redisCtx?.cleanup();
});

test("a planning cut off between the create and the hand-over: the retry's run replaces the first, which is cancelled; the first build is told no run will come", async () => {
  const repo = await fake.createRepo(INSTALLATION, "acme", "shop");
  const sha = await repo.commit({ Dockerfile: "FROM scratch\n" });
  const job: EventJob = {
    deliveryId: `delivery-${Date.now()}`,
    event: "push",
    reason: "push",
    repository: { installationId: INSTALLATION, repoId: repo.id, owner: "acme", repo: "shop", private: true, defaultBranch: "main", cloneUrl: repo.remote },
    sha,
    ref: "refs/heads/main",
    before: "0".repeat(40),
    receivedAt: new Date().toISOString(),
  };
  const octokit = await probot.auth(INSTALLATION);
  const url = testStack().redisUrl;
  const settled: Array<{ slot: RunSlot; plannerId: string }> = [];
  const deps = (redis: Redis, onCreated?: () => void): PlannerDeps => ({
    octokit,
    redis,
    enqueueBuild: builds.enqueueBuild,
    withdrawBuild: builds.withdrawBuild,
    config: { registry: { prefix: "127.0.0.1:5000" } },
    clock: { now: () => new Date() },
    checkRuns: new CutOffAfterCreate(octokit, onCreated),
    settleSlot: async (slot, plannerId) => {
      settled.push({ slot, plannerId });
    },
    keyPrefix: redisCtx.prefix,
  });

  // Attempt 1: the planner's Redis connection drops the moment GitHub has created the run.
  const first = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: false });
  first.on("error", () => {});
  await new Promise((r) => first.once("ready", r));
  await assert.rejects(runPlannerJob(job, deps(first, () => first.disconnect())), (err: unknown) => isTransientError(err));
  const runsAfterFirst = fake.findCheckRuns({ sha });
  assert.equal(runsAfterFirst.length, 1, "the run was created");
  const [lostBuild] = (await builds.queue.getJobs(["waiting", "delayed"])).filter((j) => j.data.sha === sha);
  assert.ok(lostBuild, "and its build queued");
  const handoff = new CheckRunHandoff(redisCtx.redis, redisCtx.prefix);
  assert.deepEqual(await handoff.read(lostBuild.data.buildId), { kind: "pending" }, "but never handed its run");

  // Attempt 2, Redis back: a second run and build, and the slot settled as a retry of an interrupted planning.
  const second = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    await runPlannerJob(job, deps(second));
  } finally {
    second.disconnect();
  }
  const runs = fake.findCheckRuns({ sha }).sort((a, b) => a.id - b.id);
  assert.equal(runs.length, 2);
  const slot: RunSlot = { installationId: INSTALLATION, owner: "acme", repo: "shop", repoId: repo.id, sha, image: "shop" };
  assert.deepEqual(settled, [{ slot, plannerId: eventJobId(job.deliveryId) }]);
  const ledger = new CheckRunLedger(redisCtx.redis, redisCtx.prefix);
  assert.deepEqual((await ledger.entry(slot))?.planners, [eventJobId(job.deliveryId)], "the interrupted planning is listed");

  // The first build asks whether its planning may still hand it a run: the event job is not running that attempt.
  assert.equal(await ledger.mayStillHand({ repoId: repo.id, sha, image: "shop", queuedAt: lostBuild.data.queuedAt }, plannerLookupOf(events)), false);

  // What the app's settleSlot does for the retry: the first run, held by no build, is cancelled for the second.
  const result = await settleSlot(
    slot,
    {
      appId: creds.appId,
      ledger,
      handoff,
      inFlight: new InFlightBuilds(redisCtx.redis, redisCtx.prefix),
      budget: new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget`, pollMs: 20 }),
      request: async () => octokit.request,
      planner: plannerLookupOf(events),
      builds: slotBuildsOf(builds.queue as Queue<BuildJob>, new BuildAttempts(redisCtx.redis, redisCtx.prefix)),
    },
    { exceptPlanner: eventJobId(job.deliveryId) },
  );
  assert.equal(result.kind, "settled");
  assert.deepEqual(result.kind === "settled" ? result.concluded : [], [runs[0]!.id]);
  assert.equal(fake.checkRun(runs[0]!.id)?.conclusion, "cancelled");
  assert.match(fake.checkRun(runs[0]!.id)?.output.summary ?? "", new RegExp(`check run ${runs[1]!.id} reports this image instead`));
  assert.equal(fake.checkRun(runs[1]!.id)?.status, "queued", "the retry's run is its build's");
});
