import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import { Queue } from "bullmq";
import { PR_CLEANUP_QUEUE, PrCleanupQueue, PrImageCleanup, PrImageRecords, recordingPrImages, startPrCleanupWorker } from "../../src/cleanup/index.js";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/index.js";
import { createEventDispatcher } from "../../src/handlers/index.js";
import { createWorkerConnection } from "../../src/queue/index.js";
import type { EventStore } from "../../src/queue/index.js";
import { RegistryClient } from "../../src/buildkit/registry/registry-client.js";
import { singleRegistryTenants } from "../../src/tenancy/index.js";
import type { TenantRegistry } from "../../src/tenancy/index.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";
import { WriteBudget } from "../../src/github/write-budget.js";
import { GitHubTrails } from "../../src/trail/github-trails.js";
import { InFlightBuilds } from "../../src/trail/in-flight-builds.js";
import { LogStore } from "../../src/trail/log-store.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import { startRegistry } from "../support/stack/registry.js";
import type { RegistryInstance } from "../support/stack/registry.js";
import { testStack } from "../support/stack/env.js";
import { buildJob, captureLog, dumpRedis, registryDigest, unique } from "../worker/worker-test-kit.js";
import { uploadTinyImage } from "../buildkit/registry/tiny-image.js";

const stack = testStack();
const INSTALLATION = 81;
const OWNER = "octo";
const OTHER_OWNER = "other";
const DAY = 24 * 3600 * 1000;
const REGISTRY_PASSWORD = `registry-pw-${unique()}`;
const creds = createAppCredentials(4311);
const captured = captureLog();
const registry: TenantRegistry = { prefix: `${stack.registry}/cleanup-test`, host: stack.registry, credentials: { username: "bot", password: REGISTRY_PASSWORD } };
const tenants = singleRegistryTenants({ registry, repoConfigLimits: DEFAULT_CONFIG_LIMITS });

let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let probot: Probot;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let records: PrImageRecords;

before(async () => {
  git = await startGitServer();
  fake = await startFakeGitHub<GitRepo>({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(INSTALLATION, OWNER);
  probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, Octokit: JobOctokit, log: captured.logger });
  redisCtx = await redisForTest("cleanup");
  records = new PrImageRecords(redisCtx.redis, redisCtx.prefix);
});

after(async () => {
  await fake?.close();
  await git?.close();
  await redisCtx?.cleanup();
});

function cleanupOf(t: typeof tenants = tenants, log = captured.logger): PrImageCleanup {
  return new PrImageCleanup({ records, redis: redisCtx.redis, prefix: redisCtx.prefix, tenants: t, log });
}

/** A `pull_request.closed` delivery as GitHub sends it (the fields the intake keeps). */
function closedPayload(installationId: number, repo: { id: number; owner: string; name: string }, pr: number, merged: boolean): unknown {
  const head = { ref: "feature-x", sha: "a".repeat(40), repo: { id: repo.id, full_name: `${repo.owner}/${repo.name}` } };
  return {
    action: "closed",
    installation: { id: installationId },
    repository: { id: repo.id, name: repo.name, owner: { login: repo.owner }, private: true, default_branch: "main" },
    sender: { login: "someone" },
    pull_request: { number: pr, merged, author_association: "OWNER", head, base: { ref: "main", sha: "b".repeat(40), repo: { id: repo.id } } },
  };
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("PR image clean-up on the real registry", () => {
  test("a PR built (pr-N + cache exported), then closed: its tag and cache go; the branch tag on the same image and another installation's same-named repository stay", { timeout: 300_000 }, async () => {
    const name = `app-${unique()}`;
    const repo = await fake.createRepo(INSTALLATION, OWNER, name, { private: true });
    const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${name} > /pr.txt\n` });
    const { data: run } = await (await probot.auth(INSTALLATION)).request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
    const path = `cleanup-test/${OWNER}/${name}`;
    const image = `${registry.prefix}/${OWNER}/${name}`;
    const job = {
      ...buildJob({
        installationId: INSTALLATION,
        repoId: repo.id,
        owner: OWNER,
        repo: name,
        private: true,
        cloneUrl: repo.remote,
        sha,
        checkRunId: (run as { id: number }).id,
        // The merged plan of a same-repository PR's head: the branch's tag and the PR's, one image.
        image: { tags: [`${image}:pr-7`, `${image}:feature-x`], push: true, cache: { imports: [], export: `${image}:buildcache-pr-7` } },
        pullRequest: { number: 7, headRef: "feature-x", headSha: sha, baseRef: "main", baseSha: sha, headRepoFullName: `${OWNER}/${name}`, fork: false },
      }),
      reason: "pull_request" as const,
    };
    const trails = new GitHubTrails({
      github: probot,
      budget: new WriteBudget(redisCtx.redis, { prefix: `${redisCtx.prefix}:budget`, pollMs: 20 }),
      logs: new LogStore(redisCtx.redis, { prefix: `${redisCtx.prefix}:logs` }),
      inFlight: new InFlightBuilds(redisCtx.redis, redisCtx.prefix),
      handoff: new CheckRunHandoff(redisCtx.redis, redisCtx.prefix),
      log: captured.logger,
    });
    const processor = recordingPrImages(
      createBuildProcessor({ github: probot, trails, buildkitHost: stack.buildkitdAddr ?? stack.buildkitAddr, registry, tenants, attemptsOf: async () => ({ attemptsMade: 0, attempts: 1 }), log: captured.logger }),
      records,
      captured.logger,
    );

    const outcome = await processor(job, new AbortController().signal);

    const digest = await registryDigest(stack.registry, path, "pr-7");
    assert.ok(digest, "pr-7 was pushed");
    assert.equal(await registryDigest(stack.registry, path, "feature-x"), digest, "the branch tag is the same image");
    assert.ok(await registryDigest(stack.registry, path, "buildcache-pr-7"), "the PR's cache was exported");
    assert.deepEqual(outcome.cacheExported, [`${image}:buildcache-pr-7`]);
    const recorded = await records.of({ installationId: INSTALLATION, repoId: repo.id, pr: 7 });
    assert.deepEqual(recorded?.refs.map((r) => r.ref).sort(), [`${image}:buildcache-pr-7`, `${image}:pr-7`]);

    // Another installation's repository of the same name, with the same tag names.
    const client = new RegistryClient({ registry: stack.registry });
    const otherPath = `cleanup-test/${OTHER_OWNER}/${name}`;
    const otherImage = await uploadTinyImage(client, otherPath);
    for (const tag of ["pr-7", "buildcache-pr-7"]) await client.putManifest(otherPath, tag, otherImage);
    // A record that names the other account's repository (as a tampered Redis would): never acted on.
    await records.note({ installationId: INSTALLATION, repoId: repo.id, pr: 7, owner: OWNER }, [{ ref: `${registry.prefix}/${OTHER_OWNER}/${name}:pr-7`, kind: "image", digest: otherImage.digest }], Date.now());

    const queue = new PrCleanupQueue({ connection: redisCtx.connect(), prefix: redisCtx.prefix });
    const refused: EventStore = { store: async () => assert.fail("a closed pull request is not an event job") } as unknown as EventStore;
    const dispatch = createEventDispatcher({ store: refused, appId: creds.appId, gitBaseUrl: git.url, prClosed: queue }, captured.logger);
    const workerConnection = createWorkerConnection(stack.redisUrl);
    const worker = await startPrCleanupWorker({ connection: workerConnection, prefix: redisCtx.prefix, cleanup: cleanupOf(), ttlMs: 14 * DAY, log: captured.logger });
    try {
      await dispatch({ id: `delivery-${unique()}`, name: "pull_request", payload: closedPayload(INSTALLATION, { id: repo.id, owner: OWNER, name }, 7, true) });
      await waitUntil(async () => (await records.of({ installationId: INSTALLATION, repoId: repo.id, pr: 7 })) === undefined, "the clean-up of PR 7");
    } finally {
      await worker.close();
      await queue.close();
      workerConnection.disconnect();
    }

    const get = await fetch(`http://${stack.registry}/v2/${path}/manifests/pr-7`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json" } });
    assert.equal(get.status, 404, "GET of the pr-7 tag answers 404");
    assert.equal(await registryDigest(stack.registry, path, "pr-7"), undefined, "HEAD of pr-7 answers 404");
    assert.equal(await registryDigest(stack.registry, path, "buildcache-pr-7"), undefined, "the PR's cache ref is gone");
    assert.equal(await registryDigest(stack.registry, path, "feature-x"), digest, "the branch tag still resolves to the same image");
    assert.equal(await registryDigest(stack.registry, otherPath, "pr-7"), otherImage.digest, "the other installation's pr-7 is untouched");
    assert.equal(await registryDigest(stack.registry, otherPath, "buildcache-pr-7"), otherImage.digest, "the other installation's cache ref is untouched");
    const redisText = await dumpRedis(redisCtx.redis, redisCtx.prefix);
    assert.ok(!redisText.includes(REGISTRY_PASSWORD), "no registry password in Redis (job data, records)");
    assert.ok(!captured.text().includes(REGISTRY_PASSWORD), "no registry password in the logs");
  });

  test("the sweep deletes a PR tag whose clean-up was missed once its last push is older than the TTL, and keeps a recent one", async () => {
    const client = new RegistryClient({ registry: stack.registry });
    const name = `swept-${unique()}`;
    const path = `cleanup-test/${OWNER}/${name}`;
    const image = `${registry.prefix}/${OWNER}/${name}`;
    const old = await uploadTinyImage(client, path);
    await client.putManifest(path, "pr-3", old);
    await client.putManifest(path, "main", old);
    const recent = await uploadTinyImage(client, path);
    await client.putManifest(path, "pr-4", recent);
    const now = Date.now();
    await records.note({ installationId: INSTALLATION, repoId: 900, pr: 3, owner: OWNER }, [{ ref: `${image}:pr-3`, kind: "image", digest: old.digest }], now - 15 * DAY);
    await records.note({ installationId: INSTALLATION, repoId: 900, pr: 4, owner: OWNER }, [{ ref: `${image}:pr-4`, kind: "image", digest: recent.digest }], now - 2 * DAY);

    const { cleaned, failed } = await cleanupOf().sweep(14 * DAY, { now });

    assert.equal(failed, 0);
    assert.deepEqual(cleaned.flatMap((r) => r.deleted), [`${image}:pr-3`]);
    assert.equal(await registryDigest(stack.registry, path, "pr-3"), undefined, "the missed PR tag is gone");
    assert.equal(await registryDigest(stack.registry, path, "main"), old.digest, "the branch tag on its image stays");
    assert.equal(await registryDigest(stack.registry, path, "pr-4"), recent.digest, "a PR pushed 2 days ago keeps its tag");
    assert.equal(await records.of({ installationId: INSTALLATION, repoId: 900, pr: 3 }), undefined);
    assert.ok(await records.of({ installationId: INSTALLATION, repoId: 900, pr: 4 }));
  });

  test("the sweep is one job scheduler per deployment, whatever the number of worker processes; TTL 0 removes it", async () => {
    const connections = [createWorkerConnection(stack.redisUrl), createWorkerConnection(stack.redisUrl), createWorkerConnection(stack.redisUrl)];
    const queue = new Queue(PR_CLEANUP_QUEUE, { connection: redisCtx.connect(), prefix: `${redisCtx.prefix}:sched` });
    const start = (i: number, ttlMs: number) => startPrCleanupWorker({ connection: connections[i]!, prefix: `${redisCtx.prefix}:sched`, cleanup: cleanupOf(), ttlMs, log: captured.logger });
    const workers = [await start(0, 14 * DAY), await start(1, 14 * DAY)];
    try {
      const schedulers = await queue.getJobSchedulers();
      assert.deepEqual(schedulers.map((s) => [s.key, Number(s.every)]), [["pr-image-sweep", 3_600_000]], "two workers, one hourly sweep");
      workers.push(await start(2, 0));
      assert.deepEqual(await queue.getJobSchedulers(), [], "BUILDKIT_BOT_PR_IMAGE_TTL_DAYS=0: no sweep");
    } finally {
      for (const w of workers) await w.close();
      await queue.obliterate({ force: true });
      await queue.close();
      for (const c of connections) c.disconnect();
    }
  });

  describe("a registry that refuses deletes", () => {
    let noDeletes: RegistryInstance;
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "bkb-no-deletes-"));
      noDeletes = await startRegistry({ dir, deletes: false });
    });
    after(async () => {
      await noDeletes?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    test("is reported once, its tags stay as they were and stay recorded, and it is not asked again until a sweep", async () => {
      const refusing: TenantRegistry = { prefix: `${noDeletes.addr}/r`, host: noDeletes.addr };
      const t = singleRegistryTenants({ registry: refusing, repoConfigLimits: DEFAULT_CONFIG_LIMITS });
      const log = captureLog();
      const cleanup = cleanupOf(t, log.logger);
      const client = new RegistryClient({ registry: noDeletes.addr });
      const path = `r/${OWNER}/app`;
      const img = await uploadTinyImage(client, path);
      for (const tag of ["pr-1", "pr-2", "main"]) await client.putManifest(path, tag, img);
      for (const pr of [1, 2]) {
        await records.note({ installationId: INSTALLATION, repoId: 901, pr, owner: OWNER }, [{ ref: `${noDeletes.addr}/${path}:pr-${pr}`, kind: "image", digest: img.digest }], Date.now());
      }

      const first = await cleanup.cleanPullRequest({ installationId: INSTALLATION, repoId: 901, pr: 1 });
      const second = await cleanup.cleanPullRequest({ installationId: INSTALLATION, repoId: 901, pr: 2 });
      const again = await cleanup.cleanPullRequest({ installationId: INSTALLATION, repoId: 901, pr: 1 });

      assert.match(first.left[0]?.why ?? "", /refuses deletes/);
      assert.deepEqual(second.skippedRefusing, [noDeletes.addr], "the next clean-up asks the refusing registry nothing");
      assert.deepEqual(again.skippedRefusing, [noDeletes.addr]);
      const reports = log.text().split("\n").filter((l) => l.includes("refuses deletes"));
      assert.equal(reports.length, 1, `reported once: ${reports.join("\n")}`);
      assert.deepEqual((await cleanup.refusalList()).map((r) => r.registry), [noDeletes.addr], "the refusal is kept for the operator");
      for (const tag of ["pr-1", "pr-2", "main"]) assert.equal((await client.headManifest(path, tag))?.digest, img.digest, `${tag} untouched`);
      assert.ok(await records.of({ installationId: INSTALLATION, repoId: 901, pr: 1 }), "still recorded for when deletes are allowed");

      // The sweep asks it once per pass (refused again: still not reported again).
      const swept = await cleanup.sweep(0, { now: Date.now() + 1000 });
      const asked = swept.cleaned.filter((r) => r.pr.includes(":901#") && !r.skippedRefusing);
      assert.equal(asked.length, 1, "one pull request of the refusing registry asked per sweep");
      assert.equal(log.text().split("\n").filter((l) => l.includes("refuses deletes")).length, 1);
    });
  });
});
