import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import { Redactor } from "../../src/buildkit/index.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { GitHubTrails } from "../../src/trail/github-trails.js";
import { InFlightBuilds } from "../../src/trail/in-flight-builds.js";
import { LogStore } from "../../src/trail/log-store.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { buildJob, unique } from "../worker/worker-test-kit.js";

/**
 * The build trail against real Redis (log store, in-flight registry, write budget) and the fake GitHub: what each
 * way of ending a build leaves on the check run, the commit status, the log page and the in-flight registry.
 */

const creds = createAppCredentials(4306);
let fake: FakeGitHub;
let probot: Probot;
let request: OctokitRequest;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let logs: LogStore;
let inFlight: InFlightBuilds;
let trails: GitHubTrails;

before(async () => {
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem });
  fake.addRepository({ installationId: 5, owner: "octo", name: "trail", id: 505 });
  probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, logLevel: "warn" });
  request = (await probot.auth(5)).request;
  redisCtx = await redisForTest("trail");
  logs = new LogStore(redisCtx.redis, { prefix: `${redisCtx.prefix}:logs` });
  inFlight = new InFlightBuilds(redisCtx.redis, redisCtx.prefix);
  trails = new GitHubTrails({
    github: probot,
    budget: new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget`, pollMs: 20 }),
    logs,
    inFlight,
    handoff: new CheckRunHandoff(redisCtx.redis, redisCtx.prefix),
    publicBaseUrl: "https://bot.example.test",
  });
});

after(async () => {
  await fake?.close();
  await redisCtx?.cleanup();
});

/** A job of octo/trail at a fresh commit, with a queued check run made for it (as the planner makes it). */
async function jobWithRun(): Promise<BuildJob & { checkRunId: number }> {
  const sha = unique().padEnd(40, "0");
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "octo", repo: "trail", name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  const checkRunId = (data as { id: number }).id;
  return { ...buildJob({ installationId: 5, repoId: 505, owner: "octo", repo: "trail", private: true, cloneUrl: "http://127.0.0.1:1/octo/trail.git", sha, checkRunId }), checkRunId };
}

async function logRecords(buildId: string): Promise<Array<{ t: string; text?: string; outcome?: string; message?: string }>> {
  const snapshot = await logs.read(buildId);
  return (snapshot?.entries ?? []).flatMap((e) => ("records" in e ? e.records : []));
}

test("an attempt's trail: the log page is linked, the run goes in progress, and success ends log, run, status and in-flight entry", async () => {
  const job = await jobWithRun();
  const trail = await trails.begin(job, { signal: new AbortController().signal, redactor: new Redactor() });
  assert.match(trail.detailsUrl ?? "", /^https:\/\/bot\.example\.test\/logs\/[A-Za-z0-9_-]{32}$/);
  assert.equal((await inFlight.get(job.buildId))?.checkRunId, job.checkRunId, "in flight while it runs");
  trail.line("hello from the build");
  await trail.started();
  assert.equal(fake.checkRun(job.checkRunId)?.status, "in_progress");

  await trail.succeeded({ tags: ["registry.test/octo/trail:main"], pushed: true, digest: `sha256:${"a".repeat(64)}`, stepsDone: 2, stepsTotal: 2, cachedSteps: 1 }, "pushed it");

  const run = fake.checkRun(job.checkRunId);
  assert.equal(run?.conclusion, "success");
  assert.equal(run?.details_url, trail.detailsUrl);
  const status = fake.latestStatus("octo", "trail", job.sha, "buildkit-bot/app");
  assert.equal(status?.state, "success");
  assert.equal(status?.target_url, trail.detailsUrl);
  const records = await logRecords(job.buildId);
  assert.ok(records.some((r) => r.t === "line" && r.text === "hello from the build"));
  assert.deepEqual(records.at(-1), { t: "end", outcome: "success", message: "pushed it" });
  assert.equal((await logs.read(job.buildId))?.done, true);
  assert.equal(await inFlight.get(job.buildId), undefined, "no longer in flight");
});

test("a trail ends once: whatever is called after its outcome writes nothing, anywhere", async () => {
  const job = await jobWithRun();
  const trail = await trails.begin(job, { signal: new AbortController().signal, redactor: new Redactor() });
  await trail.neutral("Not built: nothing to judge.");
  const writes = fake.writes.total;
  const records = (await logRecords(job.buildId)).length;

  trail.line("too late");
  await trail.failed(new Error("too late"));
  await trail.cancelled("too late");
  await trail.retrying("too late", "an attempt failed");
  await trail.superseded({ sha: "f".repeat(40), buildId: "bld-other" });

  assert.equal(fake.writes.total, writes, "no GitHub write after the outcome");
  assert.equal((await logRecords(job.buildId)).length, records, "no log record after the outcome");
  assert.equal(fake.checkRun(job.checkRunId)?.conclusion, "neutral");
  assert.equal(fake.latestStatus("octo", "trail", job.sha, "buildkit-bot/app")?.state, "success");
});

test("a secret that joins the build's redactor after the trail began is hidden from the log and the failed check run", async () => {
  const job = await jobWithRun();
  const redactor = new Redactor(["registry-password-1"]);
  const trail = await trails.begin(job, { signal: new AbortController().signal, redactor });
  const token = `ghs_${unique()}${unique()}`;
  redactor.add(token);
  trail.line(`cloning with ${token} and registry-password-1`);

  await trail.failed(new Error(`fatal: could not read from https://x-access-token:${token}@git.example.test`));

  const run = fake.checkRun(job.checkRunId);
  assert.equal(run?.conclusion, "failure");
  const everything = JSON.stringify([run, await logs.read(job.buildId), fake.calls]);
  assert.ok(!everything.includes(token), "the token is in no check run, status or log record");
  assert.ok(!everything.includes("registry-password-1"));
  assert.match(run?.output.summary ?? "", /x-access-token:\*\*\*@git\.example\.test/);
  assert.equal(await inFlight.get(job.buildId), undefined);
});

test("cancelled with the status reported elsewhere: the run is cancelled, the commit status is left alone", async () => {
  const job = await jobWithRun();
  const trail = await trails.begin(job, { signal: new AbortController().signal, redactor: new Redactor() });
  const statusesBefore = fake.statusHistory("octo", "trail", job.sha).length;

  await trail.cancelled("another run reports this image", { logMessage: "Not built: another run reports this image.", statusReportedElsewhere: true });

  const run = fake.checkRun(job.checkRunId);
  assert.equal(run?.conclusion, "cancelled");
  assert.match(run?.output.title ?? "", /another run reports this image/);
  assert.equal(fake.statusHistory("octo", "trail", job.sha).length, statusesBefore, "no status written");
  assert.deepEqual((await logRecords(job.buildId)).at(-1), { t: "end", outcome: "cancelled", message: "Not built: another run reports this image." });
});

test("at shutdown the attempts still running go back to the queue, and the next attempt counts why", async () => {
  const job = await jobWithRun();
  const first = await trails.begin(job, { signal: new AbortController().signal, redactor: new Redactor() });
  await first.started();
  const ended = await trails.begin(await jobWithRun(), { signal: new AbortController().signal, redactor: new Redactor() });
  await ended.neutral("done before the stop");

  assert.equal(await trails.interruptRunning(), 1, "only the attempt still running is interrupted");

  const run = fake.checkRun(job.checkRunId);
  assert.equal(run?.status, "queued", "the run waits for the attempt that resumes the build");
  assert.equal(run?.output.title, "Waiting to retry");
  assert.match(run?.output.summary ?? "", /the app stopped while this attempt ran/);
  const status = fake.latestStatus("octo", "trail", job.sha, "buildkit-bot/app");
  assert.equal(status?.state, "pending");
  assert.match(status?.description ?? "", /^Retrying: the app stopped/);
  assert.deepEqual((await inFlight.get(job.buildId))?.earlier, ["the worker was stopped"], "still in flight, with the cause counted");
  const log = await logs.read(job.buildId);
  assert.equal(log?.done, false, "the log goes on in the next attempt");
  assert.ok((await logRecords(job.buildId)).some((r) => r.t === "line" && /attempt failed, it will be retried: the app stopped/.test(r.text ?? "")));
  assert.equal(await trails.interruptRunning(), 0, "nothing is left running");

  // The queue resumes the build: its next attempt continues the same log and says why it took two.
  const second = await trails.begin(job, { signal: new AbortController().signal, redactor: new Redactor() });
  assert.equal(second.startedAt, first.startedAt, "durations count from the first attempt");
  await second.started();
  await second.succeeded({ tags: [], pushed: false, stepsDone: 1, stepsTotal: 1, cachedSteps: 0 }, "built, not pushed");
  assert.match(fake.checkRun(job.checkRunId)?.output.title ?? "", /\(2 attempts; the worker was stopped once\)$/);
});
