import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import { BudgetedPlannerCheckRuns } from "../../src/github/budgeted-planner-check-runs.js";
import { OctokitPlannerCheckRuns } from "../../src/github/planner-check-runs.js";
import { BuildCheckRun } from "../../src/github/build-check-run.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { startFakeGitHub, type FakeGitHub } from "../support/fake-github/index.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { redisForTest } from "./redis-test-keys.js";

// One app, three processes (three budgets on their own Redis connections, one prefix), GitHub asking it to slow down.
describe("a secondary rate limit or a 429 pauses every write of the app", { timeout: 120_000 }, () => {
  const creds = createAppCredentials(41);
  let fake: FakeGitHub;
  let octokit: Awaited<ReturnType<Probot["auth"]>>;
  let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
  let shas = 0;
  const sha = () => (++shas).toString(16).padStart(40, "0");

  before(async () => {
    fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem });
    fake.addRepository({ installationId: 8, owner: "acme", name: "api" });
    const probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, logLevel: "warn" });
    octokit = await probot.auth(8);
    redisCtx = await redisForTest("rate-limit-pause");
  });
  after(async () => {
    await fake.close();
    await redisCtx.cleanup();
  });

  for (const status of [403, 429] as const) {
    test(`GitHub answers ${status} with Retry-After: no write of any process arrives inside the window, and every final arrives after it`, async () => {
      const prefix = `${redisCtx.prefix}:${status}`;
      const budgets = [0, 1, 2].map(() => new WriteBudget(redisCtx.connect(), { prefix, pollMs: 20, transitMarginMs: 0 }));
      const request = octokit.request;
      const checkRunFor = (budget: WriteBudget, image: string) =>
        new BuildCheckRun({ request, budget, target: { owner: "acme", repo: "api", sha: sha(), image } });
      const writesBefore = fake.writes.total;
      fake.armSlowDown({ retryAfterSeconds: 2, status });

      const first = checkRunFor(budgets[0] as WriteBudget, "first");
      const firstRun = first.queued();
      // The other processes start writing once the refusal has come back (writes already on their way when GitHub
      // answers cannot be called back), while the first one's create waits to be sent again.
      while ((await (budgets[1] as WriteBudget).pausedForMs()) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const others = [1, 2].map(async (i) => {
        const r = checkRunFor(budgets[i] as WriteBudget, `other-${i}`);
        await r.queued();
        await r.started({ stepsDone: 0, stepsTotal: 2, cachedSteps: 0 });
        await r.succeeded({ tags: [], pushed: false, durationMs: 1_000, stepsDone: 2, stepsTotal: 2, cachedSteps: 0 });
        return r.checkRunId as number;
      });
      const planner = new BudgetedPlannerCheckRuns(new OctokitPlannerCheckRuns(octokit), budgets[2] as WriteBudget);
      const plannerRun = planner.createQueuedCheckRun({
        repository: { installationId: 8, repoId: 1, owner: "acme", repo: "api", private: true, defaultBranch: "main", cloneUrl: "https://github.invalid/acme/api.git" },
        headSha: sha(),
        image: "planned",
        externalId: "ext-planned",
        summary: "queued by the planner",
      });

      const [firstId, plannedId, ...otherIds] = await Promise.all([firstRun, plannerRun, ...others]);

      const window = fake.slowDown;
      assert.ok(window?.opensAt !== undefined, "the slow-down window opened");
      assert.equal(window.writesInside, 0, "writes sent inside the window");
      assert.equal(fake.checkRun(firstId)?.status, "queued", "the refused create was sent again after the window");
      assert.equal(fake.checkRun(plannedId)?.status, "queued");
      for (const id of otherIds) assert.equal(fake.checkRun(id)?.conclusion, "success");
      // Accepted writes: the first build's create and pending status, the planner's create, and per other build three
      // pairs (queued, started, succeeded; each a run write and a status). The refused one is not counted.
      assert.equal(fake.writes.total - writesBefore, 2 + 1 + 2 * 6);
    });
  }
});
