import { after, afterEach, test } from "node:test";
import assert from "node:assert/strict";
import nock from "nock";
import { OctokitPlannerCheckRuns } from "../../src/github/planner-check-runs.js";
import type { RepositoryRef } from "../../src/queue/job-types.js";
import { API, nockGitHub, testOctokit } from "../planner/github-nock.js";

const gh = nockGitHub();
afterEach(() => gh.assertAllUsed());
after(() => gh.restore());

const NOW = new Date("2026-11-23T08:00:00.000Z");
const checkRuns = new OctokitPlannerCheckRuns(testOctokit(), () => NOW);
const SHA = "c".repeat(40);
const repository: RepositoryRef = {
  installationId: 1,
  repoId: 2,
  owner: "acme",
  repo: "shop",
  private: false,
  defaultBranch: "main",
  cloneUrl: "https://github.com/acme/shop.git",
};

test("a queued check run per image returns its id", async () => {
  let body: Record<string, unknown> = {};
  nock(API)
    .post("/repos/acme/shop/check-runs", (b: Record<string, unknown>) => ((body = b), true))
    .reply(201, { id: 777 });
  const id = await checkRuns.createQueuedCheckRun({ repository, headSha: SHA, externalId: "v=1&i=api", image: "api", summary: "Building" });
  assert.equal(id, 777);
  assert.deepEqual(body, {
    name: "buildkit-bot / api",
    head_sha: SHA,
    external_id: "v=1&i=api",
    status: "queued",
    output: { title: "Queued", summary: "Building" },
  });
});

test("a skipped image gets a completed neutral check run with the reason", async () => {
  let body: Record<string, unknown> = {};
  nock(API)
    .post("/repos/acme/shop/check-runs", (b: Record<string, unknown>) => ((body = b), true))
    .reply(201, { id: 1 });
  await checkRuns.createSkippedCheckRun({ repository, headSha: SHA, externalId: "x", image: "web", reason: "no changes under web/**" });
  assert.equal(body.name, "buildkit-bot / web");
  assert.equal(body.status, "completed");
  assert.equal(body.conclusion, "neutral");
  assert.equal(body.completed_at, NOW.toISOString());
  assert.match((body.output as { summary: string }).summary, /no changes under web\/\*\*/);
});

test("an invalid config is one failed check run with an annotation per problem line", async () => {
  let body: Record<string, unknown> = {};
  nock(API)
    .post("/repos/acme/shop/check-runs", (b: Record<string, unknown>) => ((body = b), true))
    .reply(201, { id: 2 });
  const issues = [
    { path: ".github/buildkit-bot.yml", line: 9, column: 9, message: 'images[1].platforms[0]: "linux/amd64 " is not a valid platform' },
    { path: ".github/buildkit-bot.yml", line: 12, column: 5, message: 'images[1]: unknown key "tag"' },
  ];
  await checkRuns.createConfigFailureCheckRun({ repository, headSha: SHA, externalId: "v=1&i=", path: ".github/buildkit-bot.yml", issues });
  assert.equal(body.name, "buildkit-bot / config");
  assert.equal(body.conclusion, "failure");
  const output = body.output as { title: string; summary: string; annotations: unknown[] };
  assert.equal(output.title, "Invalid .github/buildkit-bot.yml: 2 problems");
  assert.match(output.summary, /is not a valid platform — line 9/);
  assert.deepEqual(output.annotations, [
    { path: ".github/buildkit-bot.yml", start_line: 9, end_line: 9, annotation_level: "failure", message: issues[0]!.message, title: "buildkit-bot config" },
    { path: ".github/buildkit-bot.yml", start_line: 12, end_line: 12, annotation_level: "failure", message: issues[1]!.message, title: "buildkit-bot config" },
  ]);
});

test("more than 50 problems: 50 annotations, the summary says so", async () => {
  let body: Record<string, unknown> = {};
  nock(API)
    .post("/repos/acme/shop/check-runs", (b: Record<string, unknown>) => ((body = b), true))
    .reply(201, { id: 3 });
  const issues = Array.from({ length: 60 }, (_, i) => ({ path: ".github/buildkit-bot.yml", line: i + 1, column: 1, message: `problem ${i}` }));
  await checkRuns.createConfigFailureCheckRun({ repository, headSha: SHA, externalId: "v=1&i=", path: ".github/buildkit-bot.yml", issues });
  const output = body.output as { summary: string; annotations: unknown[] };
  assert.equal(output.annotations.length, 50);
  assert.match(output.summary, /Only the first 50 problems are annotated/);
});
