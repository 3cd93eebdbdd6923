import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Probot, ProbotOctokit } from "probot";
import { REPO_CONFIG_PATH } from "../../src/config/index.js";
import { OctokitPlannerCheckRuns } from "../../src/github/index.js";
import type { GitHubClient } from "../../src/github/index.js";
import { pullRequestEventJob } from "../../src/handlers/pull-request-event.js";
import { pushEventJob } from "../../src/handlers/push-event.js";
import { ConfigSourceMemo } from "../../src/planner/config-source-memo.js";
import { runPlannerJob } from "../../src/planner/planner-job.js";
import type { PlannerDeps } from "../../src/planner/planner-job.js";
import type { BuildJobInput } from "../../src/queue/build-queue.js";
import type { EventJob } from "../../src/queue/job-types.js";
import { pullRequestPayload, pushPayload, ZERO_SHA } from "../e2e/support/payloads.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import type { TestRepository } from "../support/webhooks.js";

/**
 * The planner's config-source memo on real parts: GitHub's push payloads through the push handler, the fake GitHub
 * recording every request, Redis. A push whose listed changes leave the config file and the root Dockerfile alone is
 * planned from its parent's config with no contents read, and queues exactly the builds a planning that reads would;
 * anything else reads, as before the memo.
 */
const INSTALLATION = 7410;
const creds = createAppCredentials(7401);
let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let octokit: GitHubClient;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;

before(async () => {
  git = await startGitServer();
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(INSTALLATION, "acme");
  const probot = new Probot({
    appId: creds.appId,
    privateKey: creds.privateKeyPem,
    baseUrl: fake.url,
    logLevel: "warn",
    Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
  });
  octokit = await probot.auth(INSTALLATION);
  redisCtx = await redisForTest("config-source-memo");
});

after(async () => {
  await redisCtx?.cleanup();
  await fake?.close();
  await git?.close();
});

const CONFIG = `images:
  - name: api
    context: services/api
    dockerfile: services/api/Dockerfile
    build_args: { MODE: one }
  - name: web
    context: web
    dockerfile: web/Dockerfile
`;

interface Planned {
  builds: BuildJobInput[];
  /** The fake GitHub's contents reads while planning. */
  contentsReads: string[];
}

let deliveries = 0;
let spaces = 0;

/** A planner with its own key space (`memoSpace`: share one to share the memo). */
function planner(memoSpace: string): { plan(job: EventJob): Promise<Planned> } {
  return {
    async plan(job) {
      const builds: BuildJobInput[] = [];
      const deps: PlannerDeps = {
        octokit,
        redis: redisCtx.redis,
        enqueueBuild: async (input) => {
          builds.push(input);
          return { buildId: `bld-${builds.length}-${++deliveries}` };
        },
        withdrawBuild: async () => assert.fail("nothing is withdrawn here"),
        config: { registry: { prefix: "127.0.0.1:5000" } },
        clock: { now: () => new Date("2026-12-03T09:00:00.000Z") },
        checkRuns: new OctokitPlannerCheckRuns(octokit),
        keyPrefix: `${redisCtx.prefix}:${memoSpace}`,
      };
      const from = fake.calls.length;
      await runPlannerJob(job, deps);
      const contentsReads = fake.calls
        .slice(from)
        .filter((c) => c.method === "GET" && c.path.includes("/contents/"))
        .map((c) => `${decodeURIComponent(c.path.replace(/^.*\/contents\//, ""))}@${c.query.ref ?? ""}`);
      return { builds, contentsReads };
    },
  };
}

/** The push handler's job for a signed push payload (as GitHub sends it, then `edit`ed). */
function pushJob(repo: TestRepository, push: { before: string; after: string; files: string[]; ref?: string }, edit?: (p: Record<string, unknown>) => void): EventJob {
  const payload = pushPayload(repo, { ref: push.ref ?? "refs/heads/main", before: push.before, after: push.after, files: push.files });
  edit?.(payload);
  const result = pushEventJob(payload, { deliveryId: `memo-${++deliveries}`, appId: creds.appId, gitBaseUrl: git.url });
  assert.equal(result.kind, "job");
  return (result as { job: EventJob }).job;
}

/** What a build is, apart from when and through which delivery (its webhook's arrival) it was queued. */
const sameBuilds = (builds: BuildJobInput[]) => builds.map(({ queuedAt: _q, eventReceivedAt: _r, ...b }) => b);

async function newRepo(name: string, files: Record<string, string>): Promise<{ repo: TestRepository; git: GitRepo; first: string }> {
  const made = await fake.createRepo(INSTALLATION, "acme", name);
  const first = await made.commit(files);
  return { repo: { installationId: INSTALLATION, repoId: made.id, owner: "acme", name, defaultBranch: "main" }, git: made, first };
}

test("a push that touched neither the config nor the root Dockerfile is planned with no contents read and queues the same builds", async () => {
  const { repo, git: r, first } = await newRepo("memo-same", {
    [REPO_CONFIG_PATH]: CONFIG,
    "services/api/Dockerfile": "FROM scratch\nCOPY a /a\n",
    "web/Dockerfile": "FROM scratch\n",
    README: "one\n",
  });
  const p = planner(`m${++spaces}`);
  // A new branch has no usable parent: read, and remembered at its commit.
  const created = await p.plan(pushJob(repo, { before: ZERO_SHA, after: first, files: [] }, (x) => (x.created = true)));
  assert.ok(created.contentsReads.includes(`${REPO_CONFIG_PATH}@${first}`), `read: ${created.contentsReads.join(", ")}`);
  assert.deepEqual(created.builds.map((b) => b.image.name).sort(), ["api", "web"]);

  // An image's own Dockerfile and other files: the plan does not depend on them (the worker builds the commit itself).
  const second = await r.commit({ README: "two\n", "services/api/Dockerfile": "FROM scratch\nCOPY b /b\n" });
  const kept = await p.plan(pushJob(repo, { before: first, after: second, files: ["README", "services/api/Dockerfile"] }));
  assert.deepEqual(kept.contentsReads, [], "no contents read before the builds are queued");
  assert.deepEqual(kept.builds.map((b) => [b.image.name, b.sha, b.gitRef]).sort(), [
    ["api", second, second],
    ["web", second, second],
  ]);

  // The same push planned by a planner with nothing remembered reads the config and queues identical builds.
  const fresh = await planner(`m${++spaces}`).plan(pushJob(repo, { before: first, after: second, files: ["README", "services/api/Dockerfile"] }));
  assert.ok(fresh.contentsReads.includes(`${REPO_CONFIG_PATH}@${second}`));
  assert.deepEqual(sameBuilds(kept.builds), sameBuilds(fresh.builds));

  // The inherited config is remembered at the new commit too: the next push goes on from there.
  const third = await r.commit({ README: "three\n" });
  const next = await p.plan(pushJob(repo, { before: second, after: third, files: ["README"] }));
  assert.deepEqual(next.contentsReads, []);
  assert.deepEqual(next.builds.map((b) => b.image.buildArgs), [{ MODE: "one" }, {}]);
});

test("a push that touched the config file or the root Dockerfile reads them again", async () => {
  const { repo, git: r, first } = await newRepo("memo-touched", { Dockerfile: "FROM scratch\n", "a.txt": "1\n" });
  const p = planner(`m${++spaces}`);
  const base = await p.plan(pushJob(repo, { before: ZERO_SHA, after: first, files: [] }, (x) => (x.created = true)));
  assert.deepEqual(base.builds.map((b) => b.image.name), ["memo-touched"], "a root Dockerfile builds one image named after the repository");

  const dockerfile = await r.commit({ Dockerfile: "FROM scratch\nCOPY a.txt /\n" });
  const rd = await p.plan(pushJob(repo, { before: first, after: dockerfile, files: ["Dockerfile"] }));
  assert.ok(rd.contentsReads.includes(`Dockerfile@${dockerfile}`), `read: ${rd.contentsReads.join(", ")}`);

  // The config file appears: read, and its images replace the root Dockerfile's.
  const configured = await r.commit({ [REPO_CONFIG_PATH]: "images:\n  - name: tool\n    build_args: { MODE: two }\n" });
  const cf = await p.plan(pushJob(repo, { before: dockerfile, after: configured, files: [REPO_CONFIG_PATH] }));
  assert.ok(cf.contentsReads.includes(`${REPO_CONFIG_PATH}@${configured}`));
  assert.deepEqual(cf.builds.map((b) => [b.image.name, b.image.buildArgs]), [["tool", { MODE: "two" }]]);

  // Changed again, among other files: read again, never the parent's.
  const changed = await r.commit({ [REPO_CONFIG_PATH]: "images:\n  - name: tool\n    build_args: { MODE: three }\n", "a.txt": "2\n" });
  const again = await p.plan(pushJob(repo, { before: configured, after: changed, files: ["a.txt", REPO_CONFIG_PATH] }));
  assert.ok(again.contentsReads.includes(`${REPO_CONFIG_PATH}@${changed}`));
  assert.deepEqual(again.builds.map((b) => b.image.buildArgs), [{ MODE: "three" }]);
});

test("a force push, a new branch and a commit list that may be truncated read the config, whatever is remembered", async () => {
  const { repo, git: r, first } = await newRepo("memo-unlisted", { [REPO_CONFIG_PATH]: CONFIG, "a.txt": "1\n" });
  const space = `m${++spaces}`;
  const p = planner(space);
  const memo = new ConfigSourceMemo(redisCtx.redis, `${redisCtx.prefix}:${space}`);
  await p.plan(pushJob(repo, { before: ZERO_SHA, after: first, files: [] }, (x) => (x.created = true)));
  const cases: Array<[string, (before: string, after: string) => EventJob]> = [
    ["force push", (before, after) => pushJob(repo, { before, after, files: ["a.txt"] }, (x) => (x.forced = true))],
    // A branch created at a child of a remembered commit: GitHub sends before = 000… and created.
    ["new branch", (_before, after) => pushJob(repo, { before: ZERO_SHA, after, files: ["a.txt"], ref: "refs/heads/topic" }, (x) => (x.created = true))],
    [
      "20 commits listed",
      (before, after) =>
        pushJob(repo, { before, after, files: ["a.txt"] }, (x) => {
          const one = (x.commits as Array<Record<string, unknown>>)[0]!;
          x.commits = Array.from({ length: 20 }, () => ({ ...one, added: [], modified: ["a.txt"], removed: [] }));
        }),
    ],
    [
      "no file lists",
      (before, after) =>
        pushJob(repo, { before, after, files: [] }, (x) => (x.commits = (x.commits as Array<Record<string, unknown>>).map(({ added: _a, modified: _m, removed: _r, ...c }) => c))),
    ],
  ];
  let head = first;
  for (const [what, jobOf] of cases) {
    const next = await r.commit({ "a.txt": `${what}\n` });
    assert.deepEqual(await memo.get(repo, head), { kind: "file", text: CONFIG }, `${what}: the parent's config is remembered`);
    const job = jobOf(head, next);
    assert.equal(job.changedFiles, undefined, `${what}: the handler keeps no file list`);
    const planned = await p.plan(job);
    assert.ok(planned.contentsReads.includes(`${REPO_CONFIG_PATH}@${next}`), `${what}: read (${planned.contentsReads.join(", ")})`);
    assert.deepEqual(planned.builds.map((b) => [b.image.name, b.sha]).sort(), [["api", next], ["web", next]], what);
    head = next;
  }
});

test("the memo is kept per installation and repository, and a fork's pull request writes nothing to it", async () => {
  const memo = new ConfigSourceMemo(redisCtx.redis, `${redisCtx.prefix}:scope`);
  const sha = "c".repeat(40);
  await memo.put({ installationId: 1, repoId: 5 }, sha, { kind: "file", text: "images: []\n" });
  assert.deepEqual(await memo.get({ installationId: 1, repoId: 5 }, sha), { kind: "file", text: "images: []\n" });
  assert.equal(await memo.get({ installationId: 2, repoId: 5 }, sha), undefined, "another installation's entry is not used");
  assert.equal(await memo.get({ installationId: 1, repoId: 6 }, sha), undefined, "another repository's entry is not used");

  // A fork's head commit whose config builds something else: the planner reads the base branch's config, and
  // nothing is remembered under the fork's commit for a later push of this repository to inherit.
  const { repo, git: r } = await newRepo("memo-fork", { [REPO_CONFIG_PATH]: CONFIG, "a.txt": "1\n" });
  const forkHead = await r.commit({ [REPO_CONFIG_PATH]: "images:\n  - name: evil\n    build_args: { MODE: fork }\n" }, { branch: "fork-work" });
  await r.setRef("refs/pull/3/head", forkHead);
  const space = `m${++spaces}`;
  const payload = pullRequestPayload(repo, { action: "opened", number: 3, head: { ref: "work", sha: forkHead }, base: { ref: "main", sha: forkHead }, forkOwner: "mallory", authorAssociation: "MEMBER" });
  const result = pullRequestEventJob(payload, { deliveryId: `memo-${++deliveries}`, appId: creds.appId, gitBaseUrl: git.url });
  assert.equal(result.kind, "job");
  const planned = await planner(space).plan((result as { job: EventJob }).job);
  assert.ok(planned.contentsReads.every((read) => read.endsWith("@main")), `read at the base branch only: ${planned.contentsReads.join(", ")}`);
  assert.ok(!planned.builds.some((b) => b.image.name === "evil"));
  assert.deepEqual(await redisCtx.redis.keys(`${redisCtx.prefix}:${space}:cfgsrc:*`), [], "nothing remembered");
});
