import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Queue } from "bullmq";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { BuildAttempts } from "../../src/queue/build-attempts.js";
import { BuildQueue } from "../../src/queue/build-queue.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";
import { CheckRunLedger } from "../../src/queue/check-run-ledger.js";
import type { RunSlot } from "../../src/queue/check-run-ledger.js";
import type { BuildJob, EventJob } from "../../src/queue/job-types.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { InFlightBuilds } from "../../src/trail/in-flight-builds.js";
import { plannerLookupOf, reconcileOrphanedCheckRuns, settleSlot, slotBuildsOf } from "../../src/worker/orphaned-check-runs.js";
import type { OrphanedRunDeps } from "../../src/worker/orphaned-check-runs.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { buildInput, RecordingListener } from "../queue/queue-test-kit.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";

const creds = createAppCredentials(4411);
let fake: FakeGitHub;
let request: OctokitRequest;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let events: Queue<EventJob>;
let builds: BuildQueue;
let deps: OrphanedRunDeps;
let ledger: CheckRunLedger;
let handoff: CheckRunHandoff;
let shaCounter = 0;

before(async () => {
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem });
  fake.addRepository({ installationId: 11, owner: "acme", name: "widgets", id: 22 });
  const probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, logLevel: "warn" });
  request = (await probot.auth(11)).request;
  redisCtx = await redisForTest("orphans");
  const { redis, prefix } = redisCtx;
  events = new Queue<EventJob>(QueueName.Events, { connection: redisCtx.connect(), prefix });
  builds = new BuildQueue({ connection: redisCtx.connect(), prefix, supersedeListener: new RecordingListener() });
  ledger = new CheckRunLedger(redis, prefix);
  handoff = new CheckRunHandoff(redis, prefix);
  deps = {
    appId: creds.appId,
    ledger,
    handoff,
    inFlight: new InFlightBuilds(redis, prefix),
    budget: new WriteBudget(redis, { prefix: `${prefix}:budget`, pollMs: 20 }),
    request: async () => request,
    planner: plannerLookupOf(events),
    builds: slotBuildsOf(builds.queue as Queue<BuildJob>, new BuildAttempts(redis, prefix)),
  };
});

after(async () => {
  await builds?.queue.obliterate({ force: true }).catch(() => undefined);
  await events?.obliterate({ force: true }).catch(() => undefined);
  await builds?.close();
  await events?.close();
  await fake?.close();
  await redisCtx?.cleanup();
});

function slotFor(image: string): RunSlot {
  shaCounter++;
  return { installationId: 11, owner: "acme", repo: "widgets", repoId: 22, sha: `${shaCounter.toString(16).padStart(8, "0")}${"e".repeat(32)}`, image };
}

async function createRun(slot: RunSlot): Promise<number> {
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", {
    owner: slot.owner,
    repo: slot.repo,
    name: `buildkit-bot / ${slot.image}`,
    head_sha: slot.sha,
    status: "queued",
  });
  return (data as { id: number }).id;
}

test("a run an interrupted planning left with no build is cancelled, pointing at the run that replaced it; held runs are left alone", async () => {
  const slot = slotFor("api");
  const lost = await createRun(slot);
  const replacement = await createRun(slot);
  // The event job of the planning: still waiting for its retry, so the slot is not settled yet.
  await events.add("push", {} as EventJob, { jobId: "ev-api" });
  await ledger.open(slot, "ev-api");
  // The first attempt's build, which never got its run, and the retry's build, queued with the new run.
  const first = await builds.enqueueBuild(buildInput({ sha: slot.sha, image: "api", checkRunId: undefined, supersedeKey: "" }));
  const second = await builds.enqueueBuild(buildInput({ sha: slot.sha, image: "api", checkRunId: replacement, supersedeKey: "" }));
  assert.notEqual(first.buildId, second.buildId);

  assert.deepEqual(await settleSlot(slot, deps), { kind: "busy" }, "a planning of the slot may still hand a run over");
  assert.equal(fake.checkRun(lost)?.status, "queued");

  // The retry itself settles the slot once it has handed its own run over.
  const result = await settleSlot(slot, deps, { exceptPlanner: "ev-api" });
  assert.deepEqual(result, { kind: "settled", concluded: [lost], replaced: true, done: false });
  const run = fake.checkRun(lost);
  assert.equal(run?.status, "completed");
  assert.equal(run?.conclusion, "cancelled");
  assert.match(`${run?.output.title} ${run?.output.summary}`, /lost when the app's queue \(Redis\) failed/);
  assert.match(run?.output.summary ?? "", new RegExp(`check run ${replacement} reports this image instead`));
  assert.equal(fake.checkRun(replacement)?.status, "queued", "the run a live build holds is left to it");
  assert.deepEqual(fake.statusHistory("acme", "widgets", slot.sha), [], "the commit status is the replacement build's to set");
  assert.ok(await ledger.entry(slot), "still listed while a build of the slot is live");

  // The replacement reports; the builds are gone; the planning too. Nothing is left: the slot is struck out.
  await request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", { owner: "acme", repo: "widgets", check_run_id: replacement, conclusion: "success" });
  await builds.queue.remove(first.buildId);
  await builds.queue.remove(second.buildId);
  await events.remove("ev-api");
  assert.deepEqual(await settleSlot(slot, deps), { kind: "settled", concluded: [], replaced: false, done: true });
  assert.equal(await ledger.entry(slot), undefined);
});

test("a run handed to a live build through the handoff is held", async () => {
  const slot = slotFor("web");
  const runId = await createRun(slot);
  await ledger.open(slot, "ev-web-gone");
  const build = await builds.enqueueBuild(buildInput({ sha: slot.sha, image: "web", checkRunId: undefined, supersedeKey: "" }));
  await handoff.give(build.buildId, runId);
  assert.deepEqual(await settleSlot(slot, deps), { kind: "settled", concluded: [], replaced: true, done: false });
  assert.equal(fake.checkRun(runId)?.status, "queued");
  await builds.queue.remove(build.buildId);
});

test("with nothing else building the image, the run left behind fails and the commit status with it (by the reconciler's pass)", async () => {
  const slot = slotFor("worker");
  const lost = await createRun(slot);
  await ledger.open(slot, "ev-worker-gone");
  const concluded = await reconcileOrphanedCheckRuns(deps);
  assert.ok(concluded.includes(lost), `concluded ${JSON.stringify(concluded)}`);
  const run = fake.checkRun(lost);
  assert.equal(run?.conclusion, "failure");
  assert.match(run?.output.summary ?? "", /nothing else is building this image\. Use "Rebuild" to try again/);
  assert.equal(fake.latestStatus("acme", "widgets", slot.sha, "buildkit-bot/worker")?.state, "failure");
  assert.equal(await ledger.entry(slot), undefined, "settled and struck out");
  // Another app's run of the same name is not ours to touch (the listing asks for our app's runs only).
  const calls = fake.calls.filter((c) => c.method === "GET" && c.path.endsWith("/check-runs") && c.path.includes(slot.sha));
  assert.equal(calls.at(-1)?.query.app_id, String(creds.appId));
  assert.equal(calls.at(-1)?.query.filter, "all");
});
