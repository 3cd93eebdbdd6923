/**
 * The worker's git tokens on real parts: the build processor against the fake GitHub (which records every request
 * and mints real, expiring tokens), the git server that checks them, Redis and each daemon. A warm build takes its
 * token from memory (no mint); a token the git server refuses is dropped, the attempt is retried, and the retry
 * mints a fresh one and builds; another repository of the installation gets its own token, scoped to it alone.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RegistryConfig } from "../../src/app/app-config.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { isTransientError } from "../../src/errors/index.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import { GitTokenRefusedError } from "../../src/worker/installation-token.js";
import { InstallationTokenCache } from "../../src/worker/token-cache.js";
import { InstallationAccounts } from "../../src/worker/installation-accounts.js";
import type { redisForTest } from "../github/redis-test-keys.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import { testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { startWorkerWorld } from "./worker-world.js";
import type { WorkerWorld } from "./worker-world.js";
import { buildJob, captureLog, dumpRedis, repositoryTokens as mintedFor, unique } from "./worker-test-kit.js";

const stack = testStack();
const INSTALLATION = 78;
const OWNER = "tokens";
const captured = captureLog();

let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let request: OctokitRequest;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let deps: Omit<BuildProcessorDeps, "buildkitHost">;
const registry: RegistryConfig = { prefix: `${stack.registry}/token-test`, host: stack.registry };

let world: WorkerWorld | undefined;
before(async () => {
  world = await startWorkerWorld({
    label: "worker-tokens",
    installation: INSTALLATION,
    owner: OWNER,
    appId: 4302,
    registry,
    logger: captured.logger,
    progressIntervalMs: 1_000,
    publicBaseUrl: "http://bot.example.test",
  });
  ({ git, fake, request, deps } = world);
  redisCtx = world.redis;
});

after(async () => {
  await world?.close();
});

async function queuedCheckRun(repo: string, sha: string): Promise<number> {
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  return (data as { id: number }).id;
}

/** The worker's tokens minted for one repository, in order. */
const repositoryTokens = (repoId: number) => mintedFor(fake, repoId);

/** A new commit of the repository (so the daemon must fetch it: a cached commit needs no git round trip). */
async function commit(repo: GitRepo, text: string): Promise<string> {
  return repo.commit({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": `${text}\n` });
}

for (const daemon of testDaemons(stack)) {
  describe(`the worker's git tokens on ${daemon.name}`, { skip: daemon.skip, timeout: 600_000 }, () => {
    let tokens: InstallationTokenCache;
    let accounts: InstallationAccounts;
    before(() => {
      tokens = new InstallationTokenCache();
      accounts = new InstallationAccounts();
    });
    const processor = (over: Partial<BuildProcessorDeps> = {}) => createBuildProcessor({ ...deps, buildkitHost: daemon.address, tokens, accounts, ...over });

    async function build(repo: GitRepo & { id: number; fullName: string }, sha: string, over: Partial<BuildProcessorDeps> = {}) {
      const name = repo.fullName.split("/")[1]!;
      const runId = await queuedCheckRun(name, sha);
      const job = buildJob({ installationId: INSTALLATION, repoId: repo.id, owner: OWNER, repo: name, private: true, cloneUrl: repo.remote, sha, checkRunId: runId });
      return { job, runId, run: () => processor(over)(job, new AbortController().signal) };
    }

    test("two builds of one repository: one mint; the second build asks the App's endpoints nothing", { timeout: 300_000 }, async () => {
      const repo = await fake.createRepo(INSTALLATION, OWNER, `warm-${unique()}`);
      const appCalls = (from: number) => fake.calls.slice(from).filter((c) => c.path.startsWith("/app/"));
      let warmFrom = 0;
      for (const text of ["first", "second"]) {
        const { runId, run } = await build(repo, await commit(repo, text));
        warmFrom = fake.calls.length;
        await run();
        assert.equal(fake.checkRun(runId)?.conclusion, "success", `the ${text} build succeeded`);
      }
      assert.deepEqual(appCalls(warmFrom), [], "the warm build minted no token and read no installation: no App round trip before its solve");
      const minted = repositoryTokens(repo.id);
      assert.equal(minted.length, 1, "one token minted for both builds");
      const cloned = git.requests.filter((r) => r.path.startsWith(`/${repo.fullName}.git/`) && r.user === "x-access-token" && r.status === 200);
      assert.ok(cloned.length >= 2, "the daemon fetched with the token for both commits");

      const secret = minted[0]!.token;
      assert.ok(!captured.text().includes(secret), "the token is in no log line");
      assert.ok(!(await dumpRedis(redisCtx.redis, redisCtx.prefix)).includes(secret), "the token is nowhere in Redis");
      assert.ok(!JSON.stringify(fake.calls).includes(secret), "nor in any request sent to GitHub");
    });

    test("a kept token the git server refuses is dropped; the retry mints a fresh one and builds", { timeout: 300_000 }, async () => {
      const repo = await fake.createRepo(INSTALLATION, OWNER, `revoked-${unique()}`);
      const first = await build(repo, await commit(repo, "before"));
      await first.run();
      const [revoked] = repositoryTokens(repo.id);
      assert.ok(revoked);
      fake.expireTokens(revoked.token); // GitHub and its git server no longer take it; the worker still keeps it

      const retried = { attemptsOf: async () => ({ attemptsMade: 0, attempts: 3 }) };
      const second = await build(repo, await commit(repo, "after"), retried);
      await assert.rejects(second.run(), (err: unknown) => {
        assert.ok(err instanceof GitTokenRefusedError, `a refused kept token, got ${String(err)}`);
        assert.equal(isTransientError(err), true, "the attempt is retried");
        assert.ok(!String(err.message).includes(revoked.token));
        return true;
      });
      assert.equal(fake.checkRun(second.runId)?.status, "queued", "the check run waits for the retry");
      assert.equal(repositoryTokens(repo.id).length, 1, "no token minted yet: the next attempt does");
      assert.ok(git.requests.some((r) => r.path.startsWith(`/${repo.fullName}.git/`) && r.status === 401), "the git server refused the revoked token");

      // BullMQ's second attempt of the same job.
      await processor({ attemptsOf: async () => ({ attemptsMade: 1, attempts: 3 }) })(second.job, new AbortController().signal);
      assert.equal(fake.checkRun(second.runId)?.conclusion, "success", "the retry built the commit");
      const minted = repositoryTokens(repo.id);
      assert.equal(minted.length, 2, "one fresh token for the retry");
      assert.notEqual(minted[1]?.token, revoked.token);
      assert.ok(!captured.text().includes(revoked.token) && !captured.text().includes(minted[1]!.token), "no token in the logs");
    });

    test("another repository of the installation gets its own token, scoped to that repository", { timeout: 300_000 }, async () => {
      const a = await fake.createRepo(INSTALLATION, OWNER, `scope-a-${unique()}`);
      const b = await fake.createRepo(INSTALLATION, OWNER, `scope-b-${unique()}`);
      const builtA = await build(a, await commit(a, "a"));
      await builtA.run();
      const builtB = await build(b, await commit(b, "b"));
      await builtB.run();
      assert.equal(fake.checkRun(builtA.runId)?.conclusion, "success");
      assert.equal(fake.checkRun(builtB.runId)?.conclusion, "success");
      const [tokenA] = repositoryTokens(a.id);
      const [tokenB] = repositoryTokens(b.id);
      assert.ok(tokenA && tokenB);
      assert.notEqual(tokenA.token, tokenB.token);
      assert.deepEqual(tokenA.requested, { repository_ids: [a.id], permissions: { contents: "read" } });
      assert.deepEqual(tokenB.requested, { repository_ids: [b.id], permissions: { contents: "read" } });
      assert.deepEqual([...(tokenB.repositories ?? [])], [b.fullName.toLowerCase()], "B's token reaches B only");
      assert.equal(repositoryTokens(a.id).length + repositoryTokens(b.id).length, 2, "each repository minted once");
    });
  });
}
