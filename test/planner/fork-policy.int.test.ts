import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Probot, ProbotOctokit } from "probot";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import { BudgetedPlannerCheckRuns } from "../../src/github/budgeted-planner-check-runs.js";
import { OctokitPlannerCheckRuns } from "../../src/github/planner-check-runs.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { checkRunEventJob } from "../../src/handlers/check-run-event.js";
import type { HandlerContext, HandlerResult } from "../../src/handlers/handler-result.js";
import { issueCommentEventJob } from "../../src/handlers/issue-comment-event.js";
import { pullRequestEventJob } from "../../src/handlers/pull-request-event.js";
import { FORK_BUILD_ACTION } from "../../src/github/check-run-actions.js";
import { plannerProcessor } from "../../src/planner/planner-processor.js";
import type { BuildJobInput } from "../../src/queue/build-queue.js";
import type { BuildJob, EventJob } from "../../src/queue/job-types.js";
import { loadTenants } from "../../src/tenancy/index.js";
import { checkRunPayload, issueCommentPayload, pullRequestPayload } from "../e2e/support/payloads.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeCheckRun, FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import type { TestRepository } from "../support/webhooks.js";

/**
 * Issue 15 point 5 through the real handlers (webhook payload → event job) and the real planner, on real Redis and
 * the fake GitHub: the fork policies `approve`, `never` and `build` of the tenants file.
 */
const REGISTRY = "127.0.0.1:5000";
const GIT_BASE = "https://github.com";
const GATE_RUN = "buildkit-bot";
const creds = createAppCredentials(7600);
const INSTALLATIONS = { approve: 41, never: 42, build: 43 } as const;

let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let dir: string;
let plan: (job: EventJob) => Promise<void>;
const builds: BuildJobInput[] = [];
let delivery = 0;

before(async () => {
  redisCtx = await redisForTest("fork-policy");
  dir = await mkdtemp(join(tmpdir(), "bkb-fork-policy-"));
  git = await startGitServer();
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(INSTALLATIONS.approve, "careful");
  fake.addInstallation(INSTALLATIONS.never, "closed");
  fake.addInstallation(INSTALLATIONS.build, "open");
  const tenantsFile = join(dir, "tenants.yml");
  await writeFile(
    tenantsFile,
    "unlisted_accounts: refuse\naccounts:\n  - login: careful\n    fork_policy: approve\n  - login: closed\n    fork_policy: never\n  - login: open\n    fork_policy: build\n",
  );
  const tenants = loadTenants(tenantsFile, { registry: { prefix: REGISTRY, host: REGISTRY }, repoConfigLimits: DEFAULT_CONFIG_LIMITS }, {});
  const probot = new Probot({
    appId: creds.appId,
    privateKey: creds.privateKeyPem,
    baseUrl: fake.url,
    logLevel: "warn",
    Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
  });
  const budget = new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget` });
  const processor = plannerProcessor({
    probot,
    redis: redisCtx.redis,
    enqueueBuild: async (job) => {
      builds.push(job);
      return { ...job, buildId: `bld-${builds.length}`, attempt: 1, queuedAt: new Date().toISOString() } as BuildJob;
    },
    withdrawBuild: async () => assert.fail("nothing to withdraw"),
    config: { registry: { prefix: REGISTRY }, tenants },
    keyPrefix: redisCtx.prefix,
    checkRuns: (octokit) => new BudgetedPlannerCheckRuns(new OctokitPlannerCheckRuns(octokit), budget),
  });
  plan = (job) => processor(job, new AbortController().signal);
});

after(async () => {
  await fake.close();
  await git.close();
  await rm(dir, { recursive: true, force: true });
  await redisCtx.cleanup();
});

const ctx = (): HandlerContext => ({ deliveryId: `fork-${++delivery}`, appId: creds.appId, gitBaseUrl: GIT_BASE });

function jobOf(result: HandlerResult): EventJob {
  assert.equal(result.kind, "job", JSON.stringify(result));
  return (result as Extract<HandlerResult, { kind: "job" }>).job;
}

interface Fixture {
  repo: GitRepo & { id: number };
  test: TestRepository;
  baseSha: string;
}

async function repository(account: keyof typeof INSTALLATIONS, name: string): Promise<Fixture> {
  const installationId = INSTALLATIONS[account];
  const owner = fake.installations.get(installationId)!.account;
  const repo = await fake.createRepo(installationId, owner, name, { private: false });
  const baseSha = await repo.commit({ Dockerfile: "FROM scratch\n" });
  return { repo, test: { installationId, repoId: repo.id, owner, name, private: false, defaultBranch: "main" }, baseSha };
}

/** A commit of the fork, reachable in the base repository only as `refs/pull/N/head`, as on GitHub. */
async function forkCommit(f: Fixture, number: number, marker: string, association = "NONE"): Promise<string> {
  const sha = await f.repo.commit({ Dockerfile: `FROM scratch\nLABEL marker=${marker}\n` }, { branch: `fork-${number}` });
  await f.repo.setRef(`refs/pull/${number}/head`, sha);
  fake.setPullRequest(f.test.owner, f.test.name, number, { base: f.baseSha, head: `refs/pull/${number}/head`, headRepo: `forker/${f.test.name}`, authorAssociation: association });
  return sha;
}

async function openFork(f: Fixture, number: number, sha: string, opts: { action?: "opened" | "synchronize"; association?: string } = {}): Promise<void> {
  const payload = pullRequestPayload(f.test, {
    action: opts.action ?? "opened",
    number,
    head: { ref: `fork-${number}`, sha },
    base: { ref: "main", sha: f.baseSha },
    forkOwner: "forker",
    authorAssociation: opts.association ?? "NONE",
  });
  await plan(jobOf(pullRequestEventJob(payload, ctx())));
}

async function comment(f: Fixture, number: number, login: string, body = "/build", createdAt?: Date): Promise<void> {
  await plan(jobOf(issueCommentEventJob(issueCommentPayload(f.test, { number, body, login, ...(createdAt ? { createdAt } : {}) }), ctx())));
}

async function click(f: Fixture, run: FakeCheckRun, login: string): Promise<void> {
  const payload = checkRunPayload(f.test, run, { appId: creds.appId, action: "requested_action", identifier: FORK_BUILD_ACTION.identifier, sender: login });
  await plan(jobOf(checkRunEventJob(payload, ctx())));
}

const buildsOf = (f: Fixture, sha?: string) => builds.filter((b) => b.repository.repoId === f.repo.id && (sha === undefined || b.sha === sha));
const runsOf = (f: Fixture, sha: string) => fake.findCheckRuns({ owner: f.test.owner, repo: f.test.name, sha });

function assertActionRequired(f: Fixture, sha: string, number: number): FakeCheckRun {
  const runs = runsOf(f, sha);
  assert.equal(runs.length, 1, JSON.stringify(runs.map((r) => [r.name, r.conclusion])));
  const run = runs[0]!;
  assert.equal(run.name, GATE_RUN);
  assert.equal(run.status, "completed");
  assert.equal(run.conclusion, "action_required");
  assert.equal(run.details_url, `${GIT_BASE}/${f.test.owner}/${f.test.name}/pull/${number}`, "details_url is the pull request, where /build is commented");
  assert.match(run.output.summary ?? "", /comments `\/build` on the pull request, or presses \*\*Build this commit\*\*/);
  assert.match(run.output.summary ?? "", new RegExp(`commit \`${sha.slice(0, 12)}\``));
  assert.deepEqual(run.actions, [FORK_BUILD_ACTION]);
  return run;
}

function assertBuiltOnce(f: Fixture, sha: string, number: number): void {
  const built = buildsOf(f, sha);
  assert.equal(built.length, 1, `one build of ${sha}`);
  assert.equal(built[0]!.fork, true);
  assert.equal(built[0]!.gitRef, `refs/pull/${number}/head`);
  assert.equal(built[0]!.image.push, false, "a fork's build pushes nothing");
  const queued = runsOf(f, sha).filter((r) => r.name === `buildkit-bot / ${f.test.name}`);
  assert.deepEqual(queued.map((r) => r.status), ["queued"]);
}

describe("fork policy approve", () => {
  it("a stranger's fork PR gets one action_required run and no build; /build by read, triage or nobody is refused; by a writer it builds that commit", { timeout: 60_000 }, async () => {
    const f = await repository("approve", "widget");
    fake.setCollaborator(f.test.owner, f.test.name, "reader", "read");
    fake.setCollaborator(f.test.owner, f.test.name, "triager", "triage");
    fake.setCollaborator(f.test.owner, f.test.name, "writer", "write");
    const sha = await forkCommit(f, 5, "one");

    await openFork(f, 5, sha);
    assertActionRequired(f, sha, 5);
    assert.equal(buildsOf(f).length, 0, "no build before approval");

    for (const login of ["reader", "triager", "passer-by", "forker"]) await comment(f, 5, login);
    assert.equal(buildsOf(f).length, 0, "comments without write access build nothing");
    assert.equal(runsOf(f, sha).length, 1, "and add no check run (no spam)");
    const permissionReads = fake.calls.filter((c) => c.path.startsWith(`/repos/${f.test.owner}/${f.test.name}/collaborators/`));
    assert.deepEqual(
      permissionReads.map((c) => [c.path.split("/")[5], c.status]),
      [["reader", 200], ["triager", 200], ["passer-by", 200], ["forker", 200]],
      "each commenter's permission was asked of GitHub",
    );

    const chatter = issueCommentEventJob(issueCommentPayload(f.test, { number: 5, body: "please /build this", login: "writer" }), ctx());
    assert.deepEqual(chatter, { kind: "ignored", reason: "comment is not a command" }, "a comment that is not the command is no job");

    await comment(f, 5, "writer");
    assertBuiltOnce(f, sha, 5);
    const key = `${redisCtx.prefix}:fork-approval:${f.test.installationId}:${f.repo.id}:5:${sha}`;
    assert.equal(await redisCtx.redis.get(key), "writer", "the approval is bound to installation, repository, PR and commit");
  });

  it("a new commit on the fork needs a new approval; the button by a writer builds it, by a reader does not", { timeout: 60_000 }, async () => {
    const f = await repository("approve", "gadget");
    fake.setCollaborator(f.test.owner, f.test.name, "reader", "read");
    fake.setCollaborator(f.test.owner, f.test.name, "keeper", "maintain");
    const first = await forkCommit(f, 8, "first");
    await openFork(f, 8, first);
    fake.setCollaborator(f.test.owner, f.test.name, "writer", "write");
    await comment(f, 8, "writer");
    assertBuiltOnce(f, first, 8);

    const second = await forkCommit(f, 8, "second");
    // A /build written before the new commit was waiting (here: a minute ago, as if the fork pushed between the
    // comment and our reading of the PR) approves nothing: the PR's head is no longer what the maintainer saw.
    const lateRead = new Date(Date.now() - 60_000);
    await comment(f, 8, "writer", "/build", lateRead);
    assert.equal(buildsOf(f, second).length, 0, "a comment older than the head's approval request does not approve it");
    await openFork(f, 8, second, { action: "synchronize" });
    const gate = assertActionRequired(f, second, 8);
    assert.equal(buildsOf(f, second).length, 0, "the first approval does not carry over to the new commit");
    await comment(f, 8, "writer", "/build", lateRead);
    assert.equal(buildsOf(f, second).length, 0, "nor does a comment written before the head's run asked for approval");

    // "Re-run" on the gate's run is not an approval.
    await plan(jobOf(checkRunEventJob(checkRunPayload(f.test, gate, { appId: creds.appId, action: "rerequested" }), ctx())));
    assert.equal(buildsOf(f, second).length, 0, "a re-run without approval builds nothing");

    await click(f, gate, "reader");
    assert.equal(buildsOf(f, second).length, 0, "the button pressed by a read-only user builds nothing");

    await click(f, gate, "keeper");
    assertBuiltOnce(f, second, 8);
    assert.equal(buildsOf(f, first).length, 1, "the first commit was built once, and not again");
    assert.equal(await redisCtx.redis.get(`${redisCtx.prefix}:fork-approval:${f.test.installationId}:${f.repo.id}:8:${second}`), "keeper");
  });

  it("owners, members and collaborators build at once; a contributor waits", { timeout: 60_000 }, async () => {
    const f = await repository("approve", "gizmo");
    for (const [i, association] of ["OWNER", "MEMBER", "COLLABORATOR"].entries()) {
      const number = 20 + i;
      const sha = await forkCommit(f, number, association, association);
      await openFork(f, number, sha, { association });
      assertBuiltOnce(f, sha, number);
      assert.equal(runsOf(f, sha).filter((r) => r.name === GATE_RUN).length, 0, `${association}: no approval asked`);
    }
    const sha = await forkCommit(f, 30, "contributor", "CONTRIBUTOR");
    await openFork(f, 30, sha, { association: "CONTRIBUTOR" });
    assertActionRequired(f, sha, 30);
    assert.equal(buildsOf(f, sha).length, 0);
  });
});

describe("fork policy never", () => {
  it("a fork PR gets one neutral run and no build, and /build by a writer changes nothing", { timeout: 60_000 }, async () => {
    const f = await repository("never", "sealed");
    fake.setCollaborator(f.test.owner, f.test.name, "writer", "admin");
    const sha = await forkCommit(f, 2, "never");
    await openFork(f, 2, sha, { association: "MEMBER" });
    const runs = runsOf(f, sha);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.name, GATE_RUN);
    assert.equal(runs[0]!.conclusion, "neutral");
    assert.equal(runs[0]!.output.title, "Not built: pull requests from forks are not built for this account");
    assert.deepEqual(runs[0]!.actions, [], "nothing to press");
    await comment(f, 2, "writer");
    assert.equal(buildsOf(f).length, 0);
    assert.equal(runsOf(f, sha).length, 1, "no second run");
  });
});

describe("fork policy build", () => {
  it("a stranger's fork PR builds at once (today's behaviour), and /build adds nothing", { timeout: 60_000 }, async () => {
    const f = await repository("build", "public");
    fake.setCollaborator(f.test.owner, f.test.name, "writer", "write");
    const sha = await forkCommit(f, 4, "build");
    await openFork(f, 4, sha);
    assertBuiltOnce(f, sha, 4);
    assert.equal(runsOf(f, sha).filter((r) => r.name === GATE_RUN).length, 0);
    await comment(f, 4, "writer");
    assert.equal(buildsOf(f, sha).length, 1, "a /build comment is not a rebuild button for anyone");
  });
});
