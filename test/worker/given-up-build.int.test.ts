import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { BuildJob } from "../../src/queue/job-types.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import { GitHubTrails } from "../../src/trail/github-trails.js";
import type { GitHubTrailsDeps } from "../../src/trail/github-trails.js";
import { buildkitdDaemon } from "../support/daemons.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { testStack } from "../support/stack/env.js";
import { startWorkerWorld } from "./worker-world.js";
import type { WorkerWorld } from "./worker-world.js";
import { buildJob, captureLog, unique } from "./worker-test-kit.js";

/**
 * Issue 14 item 4: a build queued while its check run was being created, whose planning then ended without
 * handing the run over (Redis failed in between), is given up: its solve is stopped, its job ends without a
 * retry, and nothing of it stays in flight.
 */

const stack = testStack();
const daemon = buildkitdDaemon(stack);
const INSTALLATION = 78;
const OWNER = "octo";
const captured = captureLog();

let fake: FakeGitHub<GitRepo>;
let trailDeps: GitHubTrailsDeps;
let deps: BuildProcessorDeps;

/** The processor, with the planning's answer to "is the check run still coming?" and the slot's settling. */
function processorWith(stillComing: NonNullable<GitHubTrailsDeps["stillComing"]>, settleGivenUp: NonNullable<BuildProcessorDeps["settleGivenUp"]>): ReturnType<typeof createBuildProcessor> {
  return createBuildProcessor({ ...deps, trails: new GitHubTrails({ ...trailDeps, stillComing }), settleGivenUp });
}

let world: WorkerWorld | undefined;
before(async () => {
  world = await startWorkerWorld({
    label: "given-up",
    installation: INSTALLATION,
    owner: OWNER,
    appId: 4303,
    registry: { prefix: `${stack.registry}/given-up`, host: stack.registry },
    logger: captured.logger,
    progressIntervalMs: 1_000,
    extraDeps: () => ({ buildkitHost: daemon.address, attemptsOf: async () => ({ attemptsMade: 0, attempts: 5 }) }),
  });
  ({ fake, trailDeps, deps } = world);
});

after(async () => {
  await world?.close();
});

/** A slow build (so the give-up lands mid-solve) queued without its run's id. */
async function slowJob(): Promise<BuildJob> {
  const name = `given-up-${unique()}`;
  const repo = await fake.createRepo(INSTALLATION, OWNER, name);
  const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${unique()} && sleep 60\n` });
  return buildJob({ installationId: INSTALLATION, repoId: repo.id, owner: OWNER, repo: name, private: true, cloneUrl: repo.remote, sha });
}

describe(`a build whose check run never comes, on ${daemon.name}`, { skip: daemon.skip, timeout: 300_000 }, () => {
  test("is given up once its planning has ended: solve stopped, job completed without a retry, nothing in flight, the status says why", async () => {
    const job = await slowJob();
    let asked = 0;
    const settled: string[] = [];
    const outcome = await processorWith(
      // The planning is at work for the first two questions, then has ended.
      async () => ++asked <= 2,
      async (j) => {
        settled.push(j.buildId);
        return { replaced: false };
      },
    )(job, new AbortController().signal);

    assert.equal(outcome.summary, "Not built: the planning that queued it ended without handing it a check run.");
    assert.deepEqual(outcome.pushedTags, []);
    assert.equal(asked, 3);
    assert.deepEqual(settled, [job.buildId], "the check runs it leaves behind are settled");
    assert.deepEqual(await trailDeps.handoff.read(job.buildId), { kind: "abandoned" });
    assert.equal(await trailDeps.handoff.give(job.buildId, 999), "abandoned", "a run handed now goes to another build");
    assert.equal(await trailDeps.inFlight.get(job.buildId), undefined, "no longer in flight");
    const log = await trailDeps.logs.read(job.buildId);
    assert.equal(log?.done, true);
    assert.match(JSON.stringify(log?.entries), /Not built: the planning that queued it ended without handing it a check run/);
    assert.equal(fake.findCheckRuns({ sha: job.sha }).length, 0, "no check run is made up for it");
    const status = fake.latestStatus(OWNER, job.repository.repo, job.sha, "buildkit-bot/app");
    assert.equal(status?.state, "error", "nothing else reports this image: the status ends");
    assert.match(status?.description ?? "", /^Cancelled: the planning that queued it ended without/);
  });

  test("a given-up build that another build of the image replaces leaves the commit status to it", async () => {
    const job = await slowJob();
    const outcome = await processorWith(
      async () => false,
      async () => ({ replaced: true }),
    )(job, new AbortController().signal);
    assert.match(outcome.summary, /^Not built: /);
    const states = fake.statusHistory(OWNER, job.repository.repo, job.sha).map((s) => s.state);
    assert.ok(!states.includes("error") && !states.includes("success") && !states.includes("failure"), `only pending statuses: ${states.join(", ")}`);
  });

  test("a run handed while the planning is at work is used: nothing is given up", async () => {
    const name = `handed-${unique()}`;
    const repo = await fake.createRepo(INSTALLATION, OWNER, name);
    const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": `${unique()}\n` });
    const job = buildJob({ installationId: INSTALLATION, repoId: repo.id, owner: OWNER, repo: name, private: true, cloneUrl: repo.remote, sha });
    const { data } = await (await deps.github.auth(INSTALLATION)).request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
    const runId = (data as { id: number }).id;
    setTimeout(() => void trailDeps.handoff.give(job.buildId, runId), 1_500);
    const outcome = await processorWith(
      async () => true,
      async () => assert.fail("nothing to settle"),
    )(job, new AbortController().signal);
    assert.equal(outcome.summary, "built, not pushed");
    assert.equal(fake.checkRun(runId)?.conclusion, "success");
  });
});
