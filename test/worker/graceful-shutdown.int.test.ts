import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import { productionParts } from "../../src/app/production-parts.js";
import { startBuildkitBot } from "../../src/app/start-app.js";
import { BuildQueue } from "../../src/queue/build-queue.js";
import { createProducerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { InFlightBuilds } from "../../src/trail/in-flight-builds.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import { testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { buildJob, captureLog, dumpRedis, registryDigest, unique } from "./worker-test-kit.js";

const stack = testStack();
const creds = createAppCredentials(4304);
const prefix = `bkbtest-grace-${randomBytes(4).toString("hex")}`;
const captured = captureLog();
let git: GitServer;
let fake: FakeGitHub<GitRepo>;
const producer = createProducerConnection(stack.redisUrl);

before(async () => {
  await whenReady(producer);
  git = await startGitServer();
  fake = await startFakeGitHub<GitRepo>({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(21, "octo");
});

after(async () => {
  let cursor = "0";
  do {
    const [next, keys] = await producer.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    if (keys.length > 0) await producer.del(...keys);
    cursor = next;
  } while (cursor !== "0");
  producer.disconnect();
  await fake?.close();
  await git?.close();
});

async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const daemon of testDaemons(stack)) {
  describe(`graceful stop on ${daemon.name}`, { skip: daemon.skip }, () => {
    test("the worker role wired from production parts on GitHub Enterprise: stopping it lets the running build finish", { timeout: 300_000 }, async () => {
      const ghePort = new URL(fake.url).port;
      const env: NodeJS.ProcessEnv = {
        APP_ID: String(creds.appId),
        PRIVATE_KEY: creds.privateKeyPem,
        BUILDKIT_BOT_ROLE: "worker",
        // The worker's operator listener (/metrics, /healthz, /readyz) on any free port.
        PORT: "0",
        BUILDKIT_BOT_REDIS_URL: stack.redisUrl,
        BUILDKIT_BOT_QUEUE_PREFIX: prefix,
        BUILDKIT_HOST: daemon.address,
        BUILDKIT_BOT_REGISTRY: `${stack.registry}/grace`,
        // The fake GitHub answers as a GitHub Enterprise Server under /api/v3; clones go to the git server.
        GHE_HOST: `127.0.0.1:${ghePort}`,
        GHE_PROTOCOL: "http",
        BUILDKIT_BOT_GIT_URL: git.url,
        BUILDKIT_BOT_PUBLIC_URL: "https://bot.example.test",
        BUILDKIT_BOT_SHUTDOWN_GRACE_SECONDS: "120",
        LOG_LEVEL: "debug",
      };
      const name = `grace-${unique()}`;
      const repo = await fake.createRepo(21, "octo", name);
      const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo start && sleep 6 && echo ${name}-slept\n` });
      const probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: `${fake.url}/api/v3`, Octokit: JobOctokit, logLevel: "warn" });
      const request = (await probot.auth(21)).request;
      const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "octo", repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
      const checkRunId = (data as { id: number }).id;

      const parts = productionParts();
      const app = await startBuildkitBot(parts, env, { log: captured.logger });
      const queue = new BuildQueue({ connection: producer, prefix, supersedeListener: { superseded: async () => assert.fail("nothing is superseded") } });
      try {
        const { buildId: _b, attempt: _a, queuedAt: _q, ...input } = buildJob({
          installationId: 21,
          repoId: repo.id,
          owner: "octo",
          repo: name,
          private: true,
          cloneUrl: `${git.url}/octo/${name}.git`,
          sha,
          checkRunId,
          image: { tags: [`${stack.registry}/grace/octo/${name}:main`], push: true },
        });
        await queue.enqueueBuild(input);

        await waitFor("the build to run", () => (fake.checkRun(checkRunId)?.status === "in_progress" ? true : undefined), 120_000);
        // What SIGTERM does in main.ts: stop taking jobs, let the running build finish within the grace period.
        await app.stop();

        const run = fake.checkRun(checkRunId);
        assert.equal(run?.conclusion, "success", "the running build finished before the worker stopped");
        assert.match(await registryDigest(stack.registry, `grace/octo/${name}`, "main") ?? "", /^sha256:/);
        // Without a builders file, BUILDKIT_HOST is the pool's one builder, and its slot was given back.
        const builders = await parts.builders()?.snapshot();
        assert.deepEqual(builders?.map((b) => [b.name, b.address, b.available, b.draining, b.running]), [["default", daemon.address, true, false, 0]]);
        // The app knows this fake only as GHE_HOST (its /api/v3 prefix); without GHE it would have called api.github.com.
        assert.ok(
          fake.calls.some((c) => c.path === "/app/installations/21/access_tokens" && (c.body as { repository_ids?: number[] } | undefined)?.repository_ids?.[0] === repo.id),
          "the repository token came from the GHE API",
        );
        assert.match(captured.text(), /buildkit-bot configuration/);
        const token = [...fake.tokens.values()].find((t) => (t.requested as { repository_ids?: unknown } | undefined)?.repository_ids)?.token ?? "?";
        assert.ok(!captured.text().includes(token), "the token is not in the app's log");
        assert.ok(!(await dumpRedis(producer, prefix)).includes(token), "nor in Redis (queue, logs, in-flight registry)");
      } finally {
        await queue.close();
        await app.stop();
        await parts.close();
      }
    });

    test("a build still running when the grace period is over goes back to the queue, and its trail says so", { timeout: 300_000 }, async () => {
      const env: NodeJS.ProcessEnv = {
        APP_ID: String(creds.appId),
        PRIVATE_KEY: creds.privateKeyPem,
        BUILDKIT_BOT_ROLE: "worker",
        // The worker's operator listener (/metrics, /healthz, /readyz) on any free port.
        PORT: "0",
        BUILDKIT_BOT_REDIS_URL: stack.redisUrl,
        BUILDKIT_BOT_QUEUE_PREFIX: prefix,
        BUILDKIT_HOST: daemon.address,
        BUILDKIT_BOT_REGISTRY: `${stack.registry}/grace`,
        GHE_HOST: `127.0.0.1:${new URL(fake.url).port}`,
        GHE_PROTOCOL: "http",
        BUILDKIT_BOT_GIT_URL: git.url,
        BUILDKIT_BOT_PUBLIC_URL: "https://bot.example.test",
        BUILDKIT_BOT_SHUTDOWN_GRACE_SECONDS: "0",
        LOG_LEVEL: "debug",
      };
      const name = `grace-zero-${unique()}`;
      const repo = await fake.createRepo(21, "octo", name);
      const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo start && sleep 8 && echo ${name}-slept\n` });
      const probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: `${fake.url}/api/v3`, Octokit: JobOctokit, logLevel: "warn" });
      const request = (await probot.auth(21)).request;
      const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "octo", repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
      const checkRunId = (data as { id: number }).id;

      const parts = productionParts();
      const app = await startBuildkitBot(parts, env, { log: captured.logger });
      const queue = new BuildQueue({ connection: producer, prefix, supersedeListener: { superseded: async () => assert.fail("nothing is superseded") } });
      try {
        const { buildId: _b, attempt: _a, queuedAt: _q, ...input } = buildJob({
          installationId: 21,
          repoId: repo.id,
          owner: "octo",
          repo: name,
          private: true,
          cloneUrl: `${git.url}/octo/${name}.git`,
          sha,
          checkRunId,
          image: { tags: [`${stack.registry}/grace/octo/${name}:main`], push: true },
        });
        await queue.enqueueBuild(input);
        await waitFor("the build to run", () => (fake.checkRun(checkRunId)?.status === "in_progress" ? true : undefined), 120_000);

        await app.stop();

        const run = fake.checkRun(checkRunId);
        assert.equal(run?.status, "queued", "the run waits for the attempt that resumes the build");
        assert.equal(run?.output.title, "Waiting to retry");
        assert.match(run?.output.summary ?? "", /the app stopped while this attempt ran; the build resumes from the queue/);
        assert.match(fake.latestStatus("octo", name, sha, "buildkit-bot/app")?.description ?? "", /^Retrying: the app stopped/);
        const entry = (await new InFlightBuilds(producer, prefix).list()).find((e) => e.sha === sha);
        assert.deepEqual(entry?.earlier, ["the worker was stopped"], "still in flight, the cause counted for the next attempt");
        assert.match(captured.text(), /builds still running at shutdown go back to the queue/);
      } finally {
        await queue.close();
        await app.stop();
        // The interrupted attempt's solve still runs in this process (a real stop exits it): let it push and end
        // before the connections it reports through close.
        for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
          if (await registryDigest(stack.registry, `grace/octo/${name}`, "main")) break;
        }
        await new Promise((r) => setTimeout(r, 1_000));
        await parts.close();
      }
    });
  });
}
