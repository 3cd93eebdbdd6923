import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Probot } from "probot";
import { BudgetedPlannerCheckRuns } from "../../src/github/budgeted-planner-check-runs.js";
import { OctokitPlannerCheckRuns } from "../../src/github/planner-check-runs.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import type { RepositoryRef } from "../../src/queue/job-types.js";
import { startFakeGitHub, type FakeGitHub } from "../support/fake-github/index.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { redisForTest } from "./redis-test-keys.js";

const creds = createAppCredentials(32);
const SHA = "f".repeat(40);
const repository: RepositoryRef = { installationId: 9, repoId: 1, owner: "acme", repo: "api", private: true, defaultBranch: "main", cloneUrl: "https://github.invalid/acme/api.git" };
let fake: FakeGitHub;
let octokit: Awaited<ReturnType<Probot["auth"]>>;
let r: Awaited<ReturnType<typeof redisForTest>>;

before(async () => {
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem });
  fake.addRepository({ installationId: 9, owner: "acme", name: "api" });
  octokit = await new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, logLevel: "warn" }).auth(9);
  r = await redisForTest("planner-budget");
});

after(async () => {
  await fake.close();
  await r.cleanup();
});

test("the planner's writes take budget slots and wait for one when the window is full", { timeout: 30_000 }, async () => {
  const budget = new WriteBudget(r.redis, { prefix: r.prefix, windows: [{ windowMs: 1_500, max: 1 }], pollMs: 20 });
  const planner = new BudgetedPlannerCheckRuns(new OctokitPlannerCheckRuns(octokit), budget);
  const fill = await budget.acquire("final", "someone-else");
  assert.ok(fill.granted);
  const id = await planner.createQueuedCheckRun({ repository, headSha: SHA, externalId: "e1", image: "api", summary: "Will build `api`." });
  const call = fake.calls.find((c) => c.method === "POST" && c.path === "/repos/acme/api/check-runs");
  assert.ok(call && call.status === 201);
  assert.ok(call.at >= fill.at + 1_500 - 5, "sent only once the window had room");
  await planner.createSkippedCheckRun({ repository, headSha: SHA, externalId: "e2", image: "docs", reason: "no matching files changed" });
  await planner.createConfigFailureCheckRun({ repository, headSha: SHA, externalId: "e3", path: ".github/buildkit-bot.yml", issues: [{ path: ".github/buildkit-bot.yml", line: 3, column: 1, message: "images[0].name: required" }] });
  assert.equal(fake.checkRun(id)?.status, "queued");
  assert.deepEqual(fake.findCheckRuns({ sha: SHA }).map((c) => [c.name, c.conclusion]), [
    ["buildkit-bot / api", null],
    ["buildkit-bot / docs", "neutral"],
    ["buildkit-bot / config", "failure"],
  ]);
});
