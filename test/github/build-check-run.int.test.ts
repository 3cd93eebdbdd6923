import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Probot } from "probot";
import { BuildCheckRun } from "../../src/github/build-check-run.js";
import { checkRunName, statusContext } from "../../src/github/check-run-names.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { REBUILD_ACTIONS } from "../../src/github/check-run-actions.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { startFakeGitHub, type FakeGitHub } from "../support/fake-github/index.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { redisForTest } from "./redis-test-keys.js";

const creds = createAppCredentials(31);
const LOG_URL = "https://bot.example.test/logs/AbCdEfGhIjKlMnOpQrStUvWxYz012345";
let fake: FakeGitHub;
let request: OctokitRequest;
let budget: WriteBudget;
let cleanup: () => Promise<void>;
let shaCounter = 0;

const nextSha = () => (++shaCounter).toString(16).padStart(40, "0");

before(async () => {
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem });
  fake.addRepository({ installationId: 5, owner: "acme", name: "api" });
  const probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, logLevel: "warn" });
  const octokit = await probot.auth(5);
  request = octokit.request;
  const r = await redisForTest("reporter");
  budget = new WriteBudget(r.redis, { prefix: r.prefix, pollMs: 20 });
  cleanup = r.cleanup;
});

after(async () => {
  await fake.close();
  await cleanup();
});

function checkRunOf(sha: string, image = "api", clock?: { t: number }): BuildCheckRun {
  return new BuildCheckRun({
    request,
    budget,
    target: { owner: "acme", repo: "api", sha, image, detailsUrl: LOG_URL, externalId: `build-${sha.slice(-4)}` },
    ...(clock ? { now: () => clock.t } : {}),
  });
}

test("a successful build: queued → started → succeeded, with status mirrored and rebuild actions", async () => {
  const sha = nextSha();
  const r = checkRunOf(sha);
  const id = await r.queued();
  await r.started({ stepsDone: 0, stepsTotal: 4, cachedSteps: 0 });
  await r.succeeded({ tags: ["registry.test/acme/api:main", "registry.test/acme/api:sha-1"], pushed: true, digest: `sha256:${"ab".repeat(32)}`, durationMs: 83_000, stepsDone: 4, stepsTotal: 4, cachedSteps: 2 });

  const run = fake.checkRun(id);
  assert.ok(run);
  assert.equal(run.name, checkRunName("api"));
  assert.equal(run.name, "buildkit-bot / api");
  assert.equal(run.status, "completed");
  assert.equal(run.conclusion, "success");
  assert.equal(run.details_url, LOG_URL);
  assert.deepEqual(run.actions, REBUILD_ACTIONS);
  assert.match(run.output.summary ?? "", /sha256:abab/);
  assert.match(run.output.summary ?? "", /registry\.test\/acme\/api:main/);
  assert.match(run.output.summary ?? "", /4\/4 steps done, 2 cached/);
  assert.match(run.output.title ?? "", /1m 23s/);

  const statuses = fake.statusHistory("acme", "api", sha, statusContext("api"));
  assert.equal(statusContext("api"), "buildkit-bot/api");
  assert.deepEqual(statuses.map((s) => s.state), ["pending", "pending", "success"]);
  assert.ok(statuses.every((s) => s.target_url === LOG_URL));
  assert.ok(fake.calls.every((c) => c.status < 400), "GitHub accepted every write");
});

test("a failed build: log tail ≤ 65,535 bytes cut on a character, 120 annotations in 3 batches, failure status", async () => {
  const sha = nextSha();
  const r = checkRunOf(sha);
  const id = await r.queued();
  await r.started();
  // ~200 KB of multi-byte log: 3-byte and 4-byte characters make a mid-character cut likely.
  const log = Array.from({ length: 3000 }, (_, i) => `\u001b[31mline ${i}\u001b[0m ${"é€😀".repeat(10)}`);
  log.push("npm ERR! the last line");
  const extra = Array.from({ length: 119 }, (_, i) => ({ path: "Dockerfile", start_line: 1, end_line: 1, annotation_level: "warning" as const, message: `lint ${i}` }));
  const callsBefore = fake.calls.length;
  await r.failed({
    message: 'process "/bin/sh -c npm test" did not complete successfully: exit code: 2',
    step: "[3/4] RUN npm test",
    exitCode: 2,
    log,
    location: { file: "docker/Dockerfile", startLine: 7, endLine: 7 },
    annotations: extra,
  });

  const run = fake.checkRun(id);
  assert.ok(run);
  assert.equal(run.conclusion, "failure");
  const text = run.output.text ?? "";
  assert.ok(Buffer.byteLength(text) <= 65_535, `${Buffer.byteLength(text)} bytes`);
  assert.ok(Buffer.byteLength(text) > 60_000, "the budget is used, not wasted");
  assert.ok(!text.includes("\uFFFD"), "no broken character");
  assert.ok(!text.includes("\u001b"), "no terminal escapes");
  assert.match(text, /^\*\*Log truncated/);
  assert.match(text, /npm ERR! the last line\n`{3,}$/);
  assert.ok(!text.includes("line 0 "), "the head of the log was cut");

  const patches = fake.calls.slice(callsBefore).filter((c) => c.method === "PATCH" && c.path === `/repos/acme/api/check-runs/${id}`);
  const batches = patches.map((c) => ((c.body as { output?: { annotations?: unknown[] } }).output?.annotations ?? []).length);
  assert.deepEqual(batches, [50, 50, 20]);
  assert.equal(run.annotations.length, 120);
  assert.deepEqual(
    { ...run.annotations[0], raw_details: undefined },
    { path: "docker/Dockerfile", start_line: 7, end_line: 7, annotation_level: "failure", title: "Step failed: [3/4] RUN npm test", message: 'process "/bin/sh -c npm test" did not complete successfully: exit code: 2 (exit code 2)', raw_details: undefined },
  );
  assert.deepEqual(run.actions, REBUILD_ACTIONS);
  assert.match(run.output.summary ?? "", /exit code 2/);
  const status = fake.latestStatus("acme", "api", sha, "buildkit-bot/api");
  assert.equal(status?.state, "failure");
  assert.match(status?.description ?? "", /RUN npm test/);
  assert.ok((status?.description ?? "").length <= 140);
});

test("cancelled and neutral outcomes", async () => {
  const sha = nextSha();
  const c = checkRunOf(sha, "worker");
  const id = await c.queued();
  await c.cancelled("superseded by 1a2b3c4");
  assert.equal(fake.checkRun(id)?.conclusion, "cancelled");
  assert.match(fake.checkRun(id)?.output.title ?? "", /superseded by 1a2b3c4/);
  const cancelled = fake.latestStatus("acme", "api", sha, "buildkit-bot/worker");
  assert.equal(cancelled?.state, "error");
  assert.equal(cancelled?.description, "Cancelled: superseded by 1a2b3c4");

  const n = checkRunOf(sha, "docs");
  const nid = await n.queued();
  await n.neutral("No Dockerfile changed");
  assert.equal(fake.checkRun(nid)?.conclusion, "neutral");
  assert.equal(fake.latestStatus("acme", "api", sha, "buildkit-bot/docs")?.state, "success");
});

test("progress: at most one update per 30 s, only on change, nothing after the outcome", async () => {
  const sha = nextSha();
  const clock = { t: 1_000_000 };
  const r = checkRunOf(sha, "api", clock);
  const id = await r.queued();
  await r.started({ stepsDone: 0, stepsTotal: 5, cachedSteps: 0 });
  assert.equal(await r.progress({ stepsDone: 0, stepsTotal: 5, cachedSteps: 0 }), "unchanged");
  clock.t += 10_000;
  assert.equal(await r.progress({ stepsDone: 1, stepsTotal: 5, cachedSteps: 1 }), "too-soon");
  clock.t += 20_000;
  assert.equal(await r.progress({ stepsDone: 2, stepsTotal: 5, cachedSteps: 1, currentStep: "[3/5] RUN make" }), "sent");
  assert.match(fake.checkRun(id)?.output.summary ?? "", /2\/5 steps done, 1 cached[\s\S]*RUN make/);
  clock.t += 5_000;
  assert.equal(await r.progress({ stepsDone: 3, stepsTotal: 5, cachedSteps: 1 }), "too-soon");
  await r.succeeded({ tags: [], pushed: false, durationMs: 1000, stepsDone: 5, stepsTotal: 5, cachedSteps: 1 });
  clock.t += 60_000;
  assert.equal(await r.progress({ stepsDone: 5, stepsTotal: 5, cachedSteps: 2 }), "finished");
  assert.equal(fake.checkRun(id)?.conclusion, "success");
  const progressPatches = fake.checkRun(id)?.updates.filter((u) => (u as { status?: string }).status === "in_progress");
  assert.equal(progressPatches?.length, 2, "started + one progress update");
});

test("a BuildCheckRun for an existing check run (made by the planner) updates it instead of creating one", async () => {
  const sha = nextSha();
  const created = (await request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "api", name: "buildkit-bot / api", head_sha: sha, status: "queued" })).data as { id: number };
  const r = new BuildCheckRun({ request, budget, target: { owner: "acme", repo: "api", sha, image: "api", checkRunId: created.id, detailsUrl: LOG_URL } });
  const before = fake.checkRuns.size;
  assert.equal(await r.queued(), created.id);
  await r.succeeded({ tags: ["r/a:b"], pushed: true, durationMs: 5, stepsDone: 1, stepsTotal: 1, cachedSteps: 0 });
  assert.equal(fake.checkRuns.size, before);
  assert.equal(fake.checkRun(created.id)?.conclusion, "success");
});

test("under budget pressure a waiting progress update gives way to the outcome", { timeout: 60_000 }, async () => {
  const sha = nextSha();
  const t = await redisForTest("reporter-tight");
  try {
    const tight = new WriteBudget(t.redis, { prefix: t.prefix, windows: [{ windowMs: 1_500, max: 1 }], pollMs: 20 });
    const created = (await request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "api", name: "buildkit-bot / api", head_sha: sha })).data as { id: number };
    const r = new BuildCheckRun({ request, budget: tight, target: { owner: "acme", repo: "api", sha, image: "api", checkRunId: created.id, detailsUrl: LOG_URL } });
    assert.ok((await tight.acquire("final", "fill")).granted);
    const progress = r.progress({ stepsDone: 1, stepsTotal: 3, cachedSteps: 0 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await r.succeeded({ tags: [], pushed: false, durationMs: 1_000, stepsDone: 3, stepsTotal: 3, cachedSteps: 0 });
    assert.equal(await progress, "superseded");
    const run = fake.checkRun(created.id);
    assert.equal(run?.conclusion, "success");
    assert.ok(!run?.updates.some((u) => (u as { status?: string }).status === "in_progress"), "the stale progress was never sent");
  } finally {
    await t.cleanup();
  }
});

test("a superseded in_progress update loses nothing: the completion says when the build started", { timeout: 60_000 }, async () => {
  const sha = nextSha();
  const t = await redisForTest("reporter-started");
  try {
    const tight = new WriteBudget(t.redis, { prefix: t.prefix, windows: [{ windowMs: 1_500, max: 1 }], pollMs: 20 });
    const created = (await request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "api", name: "buildkit-bot / api", head_sha: sha })).data as { id: number };
    const clock = { t: Date.parse("2026-12-03T10:00:00Z") };
    const r = new BuildCheckRun({ request, budget: tight, target: { owner: "acme", repo: "api", sha, image: "api", checkRunId: created.id, detailsUrl: LOG_URL }, now: () => clock.t });
    assert.ok((await tight.acquire("final", "fill")).granted);
    const started = r.started({ stepsDone: 0, stepsTotal: 3, cachedSteps: 0 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    clock.t += 7_000;
    await r.succeeded({ tags: [], pushed: false, durationMs: 7_000, stepsDone: 3, stepsTotal: 3, cachedSteps: 0 });
    await started;
    const run = fake.checkRun(created.id);
    assert.ok(!run?.updates.some((u) => (u as { status?: string }).status === "in_progress"), "the in_progress update was superseded");
    assert.equal(run?.conclusion, "success");
    assert.equal(run?.started_at, "2026-12-03T10:00:00.000Z");
    assert.equal(run?.completed_at, "2026-12-03T10:00:07.000Z");
  } finally {
    await t.cleanup();
  }
});
