import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import type { OctokitRequest } from "../../src/github/reporter.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { LogStore } from "../../src/web/log-store.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import { InFlightBuilds } from "../../src/worker/in-flight-builds.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import { testStack } from "../support/stack/env.js";
import { buildJob, registryDigest, registryTags, unique } from "./worker-test-kit.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";

// What only a standalone buildkitd does: a registry cache export (mode=max) next to the pushed image.
const host = process.env.BUILDKIT_HOST;
const skip = host ? false : "needs a standalone buildkitd: set BUILDKIT_HOST (e.g. unix:///run/buildkit/buildkitd.sock) to run";

describe("the build processor on a standalone buildkitd", { timeout: 600_000 }, () => {
  const stack = testStack();
  const creds = createAppCredentials(4305);
  let git: GitServer;
  let fake: FakeGitHub<GitRepo>;
  let request: OctokitRequest;
  let probot: Probot;
  let redisCtx: Awaited<ReturnType<typeof redisForTest>>;

  before(async () => {
    if (!host) return;
    git = await startGitServer();
    fake = await startFakeGitHub<GitRepo>({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
    fake.addInstallation(31, "octo");
    probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, logLevel: "warn" });
    request = (await probot.auth(31)).request as unknown as OctokitRequest;
    redisCtx = await redisForTest("worker-buildkitd");
  });
  after(async () => {
    if (!host) return;
    await fake?.close();
    await git?.close();
    await redisCtx?.cleanup();
  });

  test("pushes the planned tags and exports the registry cache to its tag", { skip, timeout: 300_000 }, async () => {
    const name = `bkd-${unique()}`;
    const repo = await fake.createRepo(31, "octo", name);
    const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": `${name}\n` });
    const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "octo", repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
    const prefix = `${stack.registry}/worker-bkd/${name}`;
    const job = buildJob({
      installationId: 31,
      repoId: repo.id,
      owner: "octo",
      repo: name,
      private: true,
      cloneUrl: repo.remote,
      sha,
      checkRunId: (data as { id: number }).id,
      image: { tags: [`${prefix}:main`], push: true, cache: { imports: [`${prefix}:buildcache-main`], export: `${prefix}:buildcache-main` } },
    });
    const process = createBuildProcessor({
      github: probot,
      budget: new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget`, pollMs: 20 }),
      logs: new LogStore(redisCtx.redis, { prefix: `${redisCtx.prefix}:logs` }),
      inFlight: new InFlightBuilds(redisCtx.redis, redisCtx.prefix),
      handoff: new CheckRunHandoff(redisCtx.redis, redisCtx.prefix),
      buildkitHost: host as string,
      registry: { prefix: `${stack.registry}/worker-bkd`, host: stack.registry },
      attemptsOf: async () => ({ attemptsMade: 0, attempts: 1 }),
    });

    const outcome = await process(job, new AbortController().signal);

    const digest = await registryDigest(stack.registry, `worker-bkd/${name}`, "main");
    assert.equal(outcome.digest, digest);
    assert.deepEqual(outcome.cacheExported, [`${prefix}:buildcache-main`]);
    assert.deepEqual((await registryTags(stack.registry, `worker-bkd/${name}`)).sort(), ["buildcache-main", "main"]);
    assert.equal(fake.checkRun(job.checkRunId as number)?.conclusion, "success");
  });
});
