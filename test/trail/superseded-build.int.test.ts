import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { LogStore } from "../../src/trail/log-store.js";
import { GitHubTrails } from "../../src/trail/github-trails.js";
import { InFlightBuilds } from "../../src/trail/in-flight-builds.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { buildJob } from "../worker/worker-test-kit.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";

const creds = createAppCredentials(4303);
let fake: FakeGitHub;
let probot: Probot;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;

before(async () => {
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem });
  fake.addRepository({ installationId: 3, owner: "octo", name: "web", id: 303 });
  probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, logLevel: "warn" });
  redisCtx = await redisForTest("superseded-build");
});
after(async () => {
  await fake.close();
  await redisCtx.cleanup();
});

test("a superseded build: check run cancelled and status error, both 'superseded by <sha7>', linking its log page", async () => {
  const request = (await probot.auth(3)).request;
  const sha = "d".repeat(40);
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "octo", repo: "web", name: "buildkit-bot / app", head_sha: sha, status: "in_progress" });
  const job = buildJob({ installationId: 3, repoId: 303, owner: "octo", repo: "web", private: true, cloneUrl: "https://example.test/octo/web.git", sha, checkRunId: (data as { id: number }).id });
  const logs = new LogStore(redisCtx.redis, { prefix: `${redisCtx.prefix}:logs` });
  const inFlight = new InFlightBuilds(redisCtx.redis, redisCtx.prefix);
  await inFlight.begin(job, undefined);
  const trails = new GitHubTrails({
    github: probot,
    budget: new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget`, pollMs: 20 }),
    logs,
    inFlight,
    handoff: new CheckRunHandoff(redisCtx.redis, redisCtx.prefix),
    publicBaseUrl: "https://bot.example.test/",
  });

  await trails.superseded(job, { sha: "1234567890".padEnd(40, "0"), buildId: "bld-next" });

  const run = fake.checkRun(job.checkRunId as number);
  assert.equal(run?.conclusion, "cancelled");
  assert.match(run?.output.title ?? "", /superseded by 1234567/);
  const token = await logs.open(job.buildId);
  assert.equal(run?.details_url, `https://bot.example.test/logs/${token}`);
  const status = fake.latestStatus("octo", "web", sha, "buildkit-bot/app");
  assert.equal(status?.state, "error");
  assert.match(status?.description ?? "", /superseded by 1234567/);
  assert.equal((await logs.read(job.buildId))?.done, true);
  assert.deepEqual(await inFlight.list(), []);
});

test("a build superseded while the planner was still creating its check run: the run is cancelled once handed over", async () => {
  const request = (await probot.auth(3)).request;
  const sha = "e".repeat(40);
  const job = buildJob({ installationId: 3, repoId: 303, owner: "octo", repo: "web", private: true, cloneUrl: "https://example.test/octo/web.git", sha });
  const handoff = new CheckRunHandoff(redisCtx.redis, redisCtx.prefix);
  const trails = new GitHubTrails({
    github: probot,
    budget: new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget`, pollMs: 20 }),
    logs: new LogStore(redisCtx.redis, { prefix: `${redisCtx.prefix}:logs` }),
    inFlight: new InFlightBuilds(redisCtx.redis, redisCtx.prefix),
    handoff,
  });

  const reporting = trails.superseded(job, { sha: "1234567890".padEnd(40, "0"), buildId: "bld-next" });
  await new Promise((r) => setTimeout(r, 100));
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "octo", repo: "web", name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  const checkRunId = (data as { id: number }).id;
  await handoff.give(job.buildId, checkRunId);
  await reporting;

  assert.equal(fake.checkRun(checkRunId)?.conclusion, "cancelled");
  assert.equal(fake.latestStatus("octo", "web", sha, "buildkit-bot/app")?.state, "error");
});
