import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { StepFailedError } from "../../src/buildkit/errors.js";
import type { RegistryConfig } from "../../src/app/app-config.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { REBUILD_ACTIONS } from "../../src/github/check-run-actions.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { isTransientError } from "../../src/errors/index.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import { GitHubTrails } from "../../src/trail/github-trails.js";
import type { GitHubTrailsDeps } from "../../src/trail/github-trails.js";
import type { redisForTest } from "../github/redis-test-keys.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import { freePort } from "../support/stack/free-port.js";
import { testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { startWorkerWorld } from "./worker-world.js";
import type { WorkerWorld } from "./worker-world.js";
import { buildJob, captureLog, dumpRedis, registryDigest, registryTags, unique } from "./worker-test-kit.js";
import { startTagRefusingRegistry } from "../support/tag-refusing-registry.js";

const stack = testStack();
const INSTALLATION = 77;
const OWNER = "octo";
const PUBLIC_URL = "http://bot.example.test";
const REGISTRY_PASSWORD = `registry-pw-${unique()}`;
const captured = captureLog();

let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let request: OctokitRequest;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let trailDeps: GitHubTrailsDeps;
let deps: BuildProcessorDeps;
const registry: RegistryConfig = {
  prefix: `${stack.registry}/worker-test`,
  host: stack.registry,
  credentials: { username: "bot", password: REGISTRY_PASSWORD },
};

let world: WorkerWorld | undefined;
before(async () => {
  world = await startWorkerWorld({
    label: "worker",
    installation: INSTALLATION,
    owner: OWNER,
    appId: 4301,
    registry,
    logger: captured.logger,
    progressIntervalMs: 1_000,
    publicBaseUrl: PUBLIC_URL,
    // Each daemon's suite sets its own; the tests that never reach a daemon keep this one.
    extraDeps: () => ({ buildkitHost: stack.buildkitdAddr ?? stack.buildkitAddr }),
  });
  ({ git, fake, request, trailDeps, deps } = world);
  redisCtx = world.redis;
});

after(async () => {
  await world?.close();
});

async function newRepo(name: string, opts: { private?: boolean } = {}): Promise<GitRepo & { id: number }> {
  return fake.createRepo(INSTALLATION, OWNER, name, { private: opts.private ?? true });
}

async function queuedCheckRun(repo: string, sha: string, image = "app"): Promise<number> {
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo, name: `buildkit-bot / ${image}`, head_sha: sha, status: "queued" });
  return (data as { id: number }).id;
}

/** A build job of `repo` (named `name`) under the test installation: private unless `fields` says otherwise. */
function jobOf(
  repo: GitRepo & { id: number },
  name: string,
  fields: Omit<Parameters<typeof buildJob>[0], "installationId" | "repoId" | "owner" | "repo" | "private" | "cloneUrl"> & { private?: boolean },
): BuildJob {
  return buildJob({ installationId: INSTALLATION, repoId: repo.id, owner: OWNER, repo: name, private: true, cloneUrl: repo.remote, ...fields });
}

/** Minted tokens limited to repositories (the worker's), as opposed to Probot's installation tokens. */
function scopedTokens(): Array<{ token: string; requested: unknown }> {
  return [...fake.tokens.values()].filter((t) => (t.requested as { repository_ids?: unknown } | undefined)?.repository_ids !== undefined);
}

async function waitUntil<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function logText(buildId: string): Promise<string> {
  const snapshot = await trailDeps.logs.read(buildId);
  return JSON.stringify(snapshot?.entries ?? []);
}

async function assertNoSecretsAnywhere(secrets: string[]): Promise<void> {
  const redisText = await dumpRedis(redisCtx.redis, redisCtx.prefix);
  const calls = JSON.stringify(fake.calls);
  const logs = captured.text();
  for (const secret of secrets) {
    assert.ok(!logs.includes(secret), "no secret in the app's log output");
    assert.ok(!redisText.includes(secret), "no secret in Redis (log store, in-flight registry, budget)");
    assert.ok(!calls.includes(secret), "no secret in any request body sent to GitHub");
  }
}

for (const daemon of testDaemons(stack)) {
  describe(`the build processor on ${daemon.name}, with the registry, the git server and the fake GitHub`, { skip: daemon.skip, timeout: 900_000 }, () => {
    const processor = (): ReturnType<typeof createBuildProcessor> => createBuildProcessor({ ...deps, buildkitHost: daemon.address });

    test("a successful build: pushed with the planned tags, check run and status success with the registry's digest", { timeout: 300_000 }, async () => {
      const name = `ok-${unique()}`;
      const repo = await newRepo(name);
      const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo built-${name} > /built.txt\nCOPY hello.txt /hello.txt\n`, "hello.txt": "hello\n" });
      const checkRunId = await queuedCheckRun(name, sha);
      const tags = [`${registry.prefix}/${OWNER}/${name}:main`, `${registry.prefix}/${OWNER}/${name}:sha-${sha.slice(0, 7)}`];
      const job = jobOf(repo, name, { sha, checkRunId, image: { tags, push: true } });

      const outcome = await processor()(job, new AbortController().signal);

      const digest = await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, "main");
      assert.match(digest ?? "", /^sha256:[0-9a-f]{64}$/, "the image is in the registry");
      assert.equal(await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, `sha-${sha.slice(0, 7)}`), digest, "both planned tags point at it");
      assert.equal(outcome.digest, digest);
      assert.deepEqual(outcome.pushedTags, tags);

      const run = fake.checkRun(checkRunId);
      assert.ok(run);
      assert.equal(run.status, "completed");
      assert.equal(run.conclusion, "success");
      assert.ok(run.output.summary?.includes(digest ?? "?"), "the summary names the registry's digest");
      for (const tag of tags) assert.ok(run.output.summary?.includes(tag), `the summary lists ${tag}`);
      assert.match(run.details_url ?? "", /^http:\/\/bot\.example\.test\/logs\/[A-Za-z0-9_-]{32}$/);
      assert.deepEqual(run.actions, REBUILD_ACTIONS);
      // The in_progress update is intermediate (a completion waiting for the write budget supersedes it); when the
      // build started is not: the completion repeats it.
      const completion = run.updates.find((u) => (u as { status?: string }).status === "completed") as { started_at?: string; completed_at?: string } | undefined;
      assert.ok(completion?.started_at, "the completion says when the build started");
      assert.ok(Date.parse(completion.started_at) <= Date.parse(completion.completed_at ?? ""), "started before it completed");
      const status = fake.latestStatus(OWNER, name, sha, "buildkit-bot/app");
      assert.equal(status?.state, "success");
      assert.equal(status?.target_url, run.details_url);

      // Both daemons' suites share the fake: count the tokens of this repository.
      const minted = scopedTokens().filter((t) => (t.requested as { repository_ids: number[] }).repository_ids.includes(repo.id));
      assert.equal(minted.length, 1, "one repository token for the build");
      assert.deepEqual(minted[0]?.requested, { repository_ids: [repo.id], permissions: { contents: "read" } });
      assert.ok(git.requests.some((r) => r.path.startsWith(`/${OWNER}/${name}.git/`) && r.user === "x-access-token" && r.status === 200), "the daemon cloned with the token");
      assert.ok(fake.calls.some((c) => c.method === "GET" && c.path === `/repos/${OWNER}/${name}/contents/Dockerfile` && c.query.ref === sha), "one Contents read at the sha");

      const log = await logText(job.buildId);
      assert.ok(log.includes("COPY hello.txt"), "the log page has the steps");
      assert.ok(!(await trailDeps.inFlight.list()).some((e) => e.buildId === job.buildId), "no longer in flight");
      await assertNoSecretsAnywhere([minted[0]?.token ?? "?", REGISTRY_PASSWORD]);
      assert.ok(!log.includes(minted[0]?.token ?? "?"));
    });

    test("the branch tags move only while the branch still points at the commit: the commit's tag in the solve, the branch's after it by manifest copy", { timeout: 300_000 }, async () => {
      const name = `moved-${unique()}`;
      const repo = await newRepo(name);
      const files = { Dockerfile: "FROM scratch\nARG REBUILD=0\nLABEL rebuild=$REBUILD\nCOPY hello.txt /hello.txt\n", "hello.txt": `${name}\n` };
      const older = await repo.commit(files);
      const commitTag = `${registry.prefix}/${OWNER}/${name}:sha-${older.slice(0, 7)}`;
      const branchTags = [`${registry.prefix}/${OWNER}/${name}:main`, `${registry.prefix}/${OWNER}/${name}:latest`];
      const image = { tags: [branchTags[0]!, commitTag, branchTags[1]!], push: true, ifBranchMoved: { branch: "main", tags: [commitTag] } };

      // Still current: every planned tag is pushed, the branch's by a manifest copy of the solve's digest.
      const current = jobOf(repo, name, { sha: older, checkRunId: await queuedCheckRun(name, older), image });
      const callsBefore = fake.calls.length;
      const first = await processor()(current, new AbortController().signal);
      assert.deepEqual(first.pushedTags, image.tags);
      const calls = fake.calls.slice(callsBefore);
      const headRead = calls.findIndex((c) => c.method === "GET" && decodeURIComponent(c.path) === `/repos/${OWNER}/${name}/git/ref/heads/main`);
      const solveStarted = calls.findIndex((c) => c.method === "PATCH" && (c.body as { status?: string } | undefined)?.status === "in_progress");
      assert.ok(headRead >= 0, "the branch head was asked");
      assert.ok(solveStarted >= 0 && solveStarted < headRead, "after the solve started, not before it");
      const firstLog = await logText(current.buildId);
      assert.match(firstLog, new RegExp(`pushing: ${commitTag.replaceAll(".", "\\.")}"`), "the solve pushes the commit's own tag only");
      assert.match(firstLog, new RegExp(`branch main still points at ${older.slice(0, 7)}: moved .*:main, .*:latest to ${first.digest ?? "?"}`));
      const firstDigest = await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, `sha-${older.slice(0, 7)}`);
      assert.equal(firstDigest, first.digest);
      assert.equal(await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, "latest"), firstDigest, "latest has the solve's digest");
      assert.equal(await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, "main"), firstDigest, "main has the solve's digest");
      for (const tag of image.tags) assert.ok(fake.checkRun(current.checkRunId!)?.output.summary?.includes(tag), `the summary lists ${tag}`);

      // The branch moves on before a rebuild of the older commit: only its own tag is pushed.
      const newer = await repo.commit({ "hello.txt": `${name} again\n` });
      const checkRunId = await queuedCheckRun(name, older);
      const stale = jobOf(repo, name, { sha: older, checkRunId, image: { ...image, buildArgs: { REBUILD: "1" } } });
      const second = await processor()(stale, new AbortController().signal);
      assert.deepEqual(second.pushedTags, [commitTag]);
      assert.notEqual(second.digest, firstDigest, "the rebuild made another image");
      assert.equal(await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, `sha-${older.slice(0, 7)}`), second.digest);
      assert.equal(await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, "latest"), firstDigest, "latest did not move back");
      assert.equal(await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, "main"), firstDigest, "main did not move back");
      const run = fake.checkRun(checkRunId);
      assert.equal(run?.conclusion, "success");
      assert.match(run?.output.summary ?? "", new RegExp(`Not moved, because branch main has moved on to ${newer.slice(0, 7)}: .*:main.*:latest`));
      assert.ok(!(run?.output.summary ?? "").includes(`- \`${branchTags[0]}\``), "main is not listed as pushed");
      assert.match(await logText(stale.buildId), new RegExp(`branch main has moved on to ${newer.slice(0, 7)}: not moving`));
    });

    test("a branch that moves on while its commit builds gets no moving tag; the commit's tag is pushed", { timeout: 300_000 }, async () => {
      const name = `moving-${unique()}`;
      const repo = await newRepo(name);
      const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${name} && sleep 2\nCOPY hello.txt /hello.txt\n`, "hello.txt": `${name}\n` });
      const commitTag = `${registry.prefix}/${OWNER}/${name}:sha-${sha.slice(0, 7)}`;
      const image = { tags: [`${registry.prefix}/${OWNER}/${name}:main`, commitTag, `${registry.prefix}/${OWNER}/${name}:latest`], push: true, ifBranchMoved: { branch: "main", tags: [commitTag] } };
      const checkRunId = await queuedCheckRun(name, sha);
      const job = jobOf(repo, name, { sha, checkRunId, image });

      const building = processor()(job, new AbortController().signal);
      await waitUntil(async () => ((await logText(job.buildId)).includes(`RUN echo ${name}`) ? true : undefined), "the solve to start");
      const newer = await repo.commit({ "hello.txt": `${name} newer\n` });
      const outcome = await building;

      assert.deepEqual(outcome.pushedTags, [commitTag]);
      assert.equal(await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, `sha-${sha.slice(0, 7)}`), outcome.digest);
      assert.deepEqual(await registryTags(stack.registry, `worker-test/${OWNER}/${name}`), [`sha-${sha.slice(0, 7)}`], "neither main nor latest");
      const run = fake.checkRun(checkRunId);
      assert.equal(run?.conclusion, "success");
      assert.match(run?.output.summary ?? "", new RegExp(`Not moved, because branch main has moved on to ${newer.slice(0, 7)}`));
    });

    test("a registry that refuses the moving tags: the check run fails saying so, the image stays under its commit tag, no secret shown", { timeout: 300_000 }, async () => {
      const refusing = await startTagRefusingRegistry(stack.registry, ["main", "latest"]);
      try {
        const name = `refused-${unique()}`;
        const repo = await newRepo(name);
        const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": `${name}\n` });
        const prefix = `${refusing.host}/worker-test/${OWNER}/${name}`;
        const commitTag = `${prefix}:sha-${sha.slice(0, 7)}`;
        const image = { tags: [`${prefix}:main`, commitTag, `${prefix}:latest`], push: true, ifBranchMoved: { branch: "main", tags: [commitTag] } };
        const checkRunId = await queuedCheckRun(name, sha);
        const job = jobOf(repo, name, { sha, checkRunId, image });
        const refusingRegistry: RegistryConfig = { prefix: `${refusing.host}/worker-test`, host: refusing.host, credentials: registry.credentials! };

        const err = await createBuildProcessor({ ...deps, registry: refusingRegistry, buildkitHost: daemon.address })(job, new AbortController().signal).then(
          () => assert.fail("the build should fail"),
          (e: unknown) => e,
        );
        assert.ok(err instanceof Error);
        assert.equal(isTransientError(err), false, "a refusal is not retried");
        assert.deepEqual(refusing.refused, [`worker-test/${OWNER}/${name}:main`], "the copy was tried and refused");

        const digest = await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, `sha-${sha.slice(0, 7)}`);
        assert.match(digest ?? "", /^sha256:[0-9a-f]{64}$/, "the built image is in the registry under its commit tag");
        assert.deepEqual(await registryTags(stack.registry, `worker-test/${OWNER}/${name}`), [`sha-${sha.slice(0, 7)}`]);
        const run = fake.checkRun(checkRunId);
        assert.equal(run?.conclusion, "failure");
        const said = `${run?.output.title ?? ""}\n${run?.output.summary ?? ""}\n${run?.output.text ?? ""}`;
        assert.ok(said.includes(`the image was pushed as ${commitTag} (${digest ?? "?"}), but moving ${prefix}:main, ${prefix}:latest to it failed`), said);
        assert.match(said, /403/);
        assert.match(said, /tag main is protected/);
        assert.ok(!said.includes(REGISTRY_PASSWORD), "no password on the check run");
        await assertNoSecretsAnywhere([REGISTRY_PASSWORD]);
      } finally {
        await refusing.close();
      }
    });

    test("a build queued while its check run was being created starts at once; the run gets its reports once handed over", { timeout: 300_000 }, async () => {
      const name = `handoff-${unique()}`;
      const repo = await newRepo(name);
      const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${name} > /h.txt\n` });
      const job = jobOf(repo, name, { sha });
      assert.equal(job.checkRunId, undefined);

      const building = processor()(job, new AbortController().signal);
      // The planner's create "takes" until the solve is under way: the run's id is handed over only then.
      const solving = await waitUntil(async () => ((await logText(job.buildId)).includes(`RUN echo ${name}`) ? true : undefined), "the solve to start");
      assert.ok(solving);
      const checkRunId = await queuedCheckRun(name, sha);
      await trailDeps.handoff.give(job.buildId, checkRunId);
      await building;

      const run = fake.checkRun(checkRunId);
      assert.equal(run?.conclusion, "success");
      assert.ok(run?.updates.some((u) => (u as { status?: string }).status === "in_progress"), "in_progress reached the run too");
      assert.equal(fake.latestStatus(OWNER, name, sha, "buildkit-bot/app")?.state, "success");
    });

    test("a build whose check run was withdrawn reports through its commit status only", { timeout: 300_000 }, async () => {
      const name = `withdrawn-${unique()}`;
      const repo = await newRepo(name);
      const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY hello.txt /\n", "hello.txt": "hi\n" });
      const job = jobOf(repo, name, { sha });
      await trailDeps.handoff.withdraw(job.buildId);

      await processor()(job, new AbortController().signal);

      assert.ok(!fake.calls.some((c) => c.path.startsWith(`/repos/${OWNER}/${name}/check-runs`)), "no check run write");
      assert.equal(fake.latestStatus(OWNER, name, sha, "buildkit-bot/app")?.state, "success");
      assert.match(captured.text(), /the planner's check run for this build did not come/);
    });

    test("the same job resumed after a stall reuses its check run and its log page", { timeout: 300_000 }, async () => {
      const name = `resume-${unique()}`;
      const repo = await newRepo(name);
      const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY r.txt /r.txt\n", "r.txt": "r\n" });
      const checkRunId = await queuedCheckRun(name, sha);
      const job: BuildJob = jobOf(repo, name, { sha, checkRunId });
      const token = await trailDeps.logs.open(job.buildId);
      await trailDeps.inFlight.begin(job, undefined);

      await processor()(job, new AbortController().signal);

      assert.equal(fake.findCheckRuns({ repo: name }).length, 1, "no second check run");
      assert.equal(fake.checkRun(checkRunId)?.conclusion, "success");
      assert.equal(fake.checkRun(checkRunId)?.details_url, `${PUBLIC_URL}/logs/${token}`, "the same log page");
    });

    test("a failing RUN: failure with the step, exit code, log tail and an annotation on its line; nothing pushed", { timeout: 300_000 }, async () => {
      const name = `fail-${unique()}`;
      const repo = await newRepo(name);
      const dockerfile = `FROM ${stack.baseImage}\nRUN echo preparing\nRUN echo "about to fail ${name}" && \\\n    exit 3\n`;
      const sha = await repo.commit({ "services/api/Dockerfile": dockerfile, "services/api/x.txt": "x\n" });
      const checkRunId = await queuedCheckRun(name, sha);
      const job = jobOf(repo, name, {
        sha,
        checkRunId,
        image: { context: "services/api", dockerfile: "services/api/Dockerfile", tags: [`${registry.prefix}/${OWNER}/${name}:main`], push: true },
      });

      await assert.rejects(processor()(job, new AbortController().signal), (err: unknown) => {
        assert.ok(err instanceof StepFailedError, String(err));
        assert.equal(isTransientError(err), false);
        return true;
      });

      const run = fake.checkRun(checkRunId);
      assert.ok(run);
      assert.equal(run.conclusion, "failure");
      assert.match(run.output.summary ?? "", /exit code 3/);
      assert.ok(run.output.text?.includes(`about to fail ${name}`), "the log tail is in output.text");
      const annotation = run.annotations[0];
      assert.ok(annotation, "an annotation");
      assert.equal(annotation.path, "services/api/Dockerfile");
      assert.equal(annotation.start_line, 3);
      assert.equal(annotation.end_line, 4);
      assert.equal(annotation.annotation_level, "failure");
      assert.equal(fake.latestStatus(OWNER, name, sha, "buildkit-bot/app")?.state, "failure");
      assert.deepEqual(await registryTags(stack.registry, `worker-test/${OWNER}/${name}`), [], "nothing pushed");
      const log = await trailDeps.logs.read(job.buildId);
      assert.equal(log?.done, true, "the log is finished");
    });

    test("a fork PR of a public repository: built from refs/pull/N/head anonymously, not pushed", { timeout: 300_000 }, async () => {
      const name = `pub-${unique()}`;
      const repo = await newRepo(name, { private: false });
      await repo.commit({ Dockerfile: "FROM scratch\nCOPY base.txt /base.txt\n", "base.txt": "base\n" });
      const sha = await repo.commit({ "fork.txt": "from the fork\n", Dockerfile: "FROM scratch\nCOPY fork.txt /fork.txt\n" }, { branch: "fork-head" });
      await repo.setRef("refs/pull/7/head", sha);
      const checkRunId = await queuedCheckRun(name, sha);
      const mintedBefore = scopedTokens().length;
      const job = jobOf(repo, name, {
        private: false,
        sha,
        gitRef: "refs/pull/7/head",
        checkRunId,
        fork: true,
        pullRequest: { number: 7, headRef: "feature", headSha: sha, baseRef: "main", baseSha: sha, headRepoFullName: "someone/fork", fork: true },
        // The planner never asks a fork to push or export cache; the worker refuses anyway.
        image: { tags: [`${registry.prefix}/${OWNER}/${name}:pr-7`], push: true, cache: { imports: [], export: `${registry.prefix}/${OWNER}/${name}:buildcache` } },
      });

      const outcome = await processor()(job, new AbortController().signal);

      assert.deepEqual(outcome.pushedTags, []);
      const run = fake.checkRun(checkRunId);
      assert.equal(run?.conclusion, "success");
      assert.match(run?.output.summary ?? "", /^Built `app`/);
      assert.deepEqual(await registryTags(stack.registry, `worker-test/${OWNER}/${name}`), [], "nothing pushed, no cache exported");
      // The repository is public on the git server (createRepo with private: false), as on GitHub.
      const cloned = git.requests.filter((r) => r.path.startsWith(`/${OWNER}/${name}.git/`));
      assert.ok(cloned.some((r) => r.status === 200), "the daemon cloned the public repository");
      assert.ok(cloned.every((r) => r.user === undefined), "without any credentials");
      assert.equal(scopedTokens().length, mintedBefore, "no repository token was minted for the fork");
      assert.ok(fake.calls.some((c) => decodeURIComponent(c.path) === `/repos/${OWNER}/${name}/git/ref/pull/7/head`), "the PR ref was checked");
    });

    if (daemon.kind === "docker-engine") {
      test("cache export on Engine 20.10: an inline cache, carried by the image pushed under the cache tag", { timeout: 300_000 }, async () => {
        const name = `cache-${unique()}`;
        const repo = await newRepo(name);
        const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${name} > /c.txt\n` });
        const checkRunId = await queuedCheckRun(name, sha);
        const cacheRef = `${registry.prefix}/${OWNER}/${name}:buildcache-main`;
        const job = jobOf(repo, name, {
          sha,
          checkRunId,
          image: { tags: [`${registry.prefix}/${OWNER}/${name}:main`], push: true, cache: { imports: [cacheRef], export: cacheRef } },
        });

        const outcome = await processor()(job, new AbortController().signal);

        assert.deepEqual(outcome.pushedTags, [`${registry.prefix}/${OWNER}/${name}:main`], "the cache tag is not reported as an image tag");
        assert.deepEqual(outcome.cacheExported, [cacheRef]);
        assert.deepEqual((await registryTags(stack.registry, `worker-test/${OWNER}/${name}`)).sort(), ["buildcache-main", "main"]);
        const manifest = (await (
          await fetch(`http://${stack.registry}/v2/worker-test/${OWNER}/${name}/manifests/buildcache-main`, { headers: { accept: "application/vnd.docker.distribution.manifest.v2+json" } })
        ).json()) as { config: { digest: string } };
        const config = await (await fetch(`http://${stack.registry}/v2/worker-test/${OWNER}/${name}/blobs/${manifest.config.digest}`)).text();
        assert.ok(config.includes("moby.buildkit.cache.v0"), "the image config carries the inline cache metadata");
        assert.ok((await logText(job.buildId)).includes("inline cache"), "the log says how the cache was exported");
      });
    } else {
      test("cache export on buildkitd: a registry cache (mode=max) under the cache tag, beside the pushed image", { timeout: 300_000 }, async () => {
        const name = `cache-${unique()}`;
        const repo = await newRepo(name);
        const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${name} > /c.txt\n` });
        const checkRunId = await queuedCheckRun(name, sha);
        const cacheRef = `${registry.prefix}/${OWNER}/${name}:buildcache-main`;
        const job = jobOf(repo, name, {
          sha,
          checkRunId,
          image: { tags: [`${registry.prefix}/${OWNER}/${name}:main`], push: true, cache: { imports: [cacheRef], export: cacheRef } },
        });

        const outcome = await processor()(job, new AbortController().signal);

        const digest = await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, "main");
        assert.equal(outcome.digest, digest);
        assert.deepEqual(outcome.pushedTags, [`${registry.prefix}/${OWNER}/${name}:main`]);
        assert.deepEqual(outcome.cacheExported, [cacheRef]);
        assert.deepEqual((await registryTags(stack.registry, `worker-test/${OWNER}/${name}`)).sort(), ["buildcache-main", "main"]);
        const cacheDigest = await registryDigest(stack.registry, `worker-test/${OWNER}/${name}`, "buildcache-main");
        assert.ok(cacheDigest && cacheDigest !== digest, "the cache is a manifest of its own, not the image pushed again");
        const cache = await (
          await fetch(`http://${stack.registry}/v2/worker-test/${OWNER}/${name}/manifests/buildcache-main`, {
            headers: { accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json" },
          })
        ).text();
        assert.ok(cache.includes("application/vnd.buildkit.cacheconfig.v0"), `a BuildKit cache manifest, not an image: ${cache}`);
        assert.ok(!(await logText(job.buildId)).includes("inline cache"), "no fallback to an inline cache");
        assert.equal(fake.checkRun(checkRunId)?.conclusion, "success");
      });
    }

    test("a build retried after its builder was lost counts every attempt's time and says why it took two", { timeout: 300_000 }, async () => {
      const name = `retried-${unique()}`;
      const repo = await newRepo(name);
      const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": `${name}\n` });
      const checkRunId = await queuedCheckRun(name, sha);
      const job = jobOf(repo, name, { sha, checkRunId });
      const lost = { ...deps, buildkitHost: `tcp://127.0.0.1:${await freePort()}`, connectTimeoutMs: 1_000 };

      const firstStarted = Date.now();
      await assert.rejects(createBuildProcessor({ ...lost, attemptsOf: async () => ({ attemptsMade: 0, attempts: 3 }) })(job, new AbortController().signal), (err: unknown) =>
        isTransientError(err),
      );
      const secondStarted = Date.now();
      const outcome = await createBuildProcessor({ ...deps, buildkitHost: daemon.address, attemptsOf: async () => ({ attemptsMade: 1, attempts: 3 }) })(
        job,
        new AbortController().signal,
      );

      assert.ok(outcome.durationMs >= secondStarted - firstStarted, `${outcome.durationMs} ms counts the first attempt (${secondStarted - firstStarted} ms) too`);
      const run = fake.checkRun(checkRunId);
      assert.equal(run?.conclusion, "success");
      assert.match(run?.output.title ?? "", /^Built in \d+s \(2 attempts; the builder was lost once\)$/);
      assert.match(run?.output.summary ?? "", /in \d+s \(2 attempts; the builder was lost once\)\./);
    });

    test("a build whose first worker died says the worker was lost", { timeout: 300_000 }, async () => {
      const name = `stalled-${unique()}`;
      const repo = await newRepo(name);
      const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": `${name}\n` });
      const checkRunId = await queuedCheckRun(name, sha);
      const job = jobOf(repo, name, { sha, checkRunId });
      // An attempt that registered and never reported: its worker was killed (the queue's stall check resumes the job).
      await trailDeps.inFlight.begin(job, undefined);

      await processor()(job, new AbortController().signal);

      assert.match(fake.checkRun(checkRunId)?.output.title ?? "", /\(2 attempts; the worker was lost once\)$/);
    });
  });
}

describe("the build processor where no build reaches a daemon", { timeout: 300_000 }, () => {
  test("a fork PR whose ref moved on: cancelled with the new sha, not built", { timeout: 120_000 }, async () => {
    const name = `moved-${unique()}`;
    const repo = await newRepo(name, { private: false });
    const old = await repo.commit({ Dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": "a\n" }, { branch: "fork-head" });
    const newer = await repo.commit({ "a.txt": "b\n" }, { branch: "fork-head" });
    await repo.setRef("refs/pull/8/head", newer);
    const checkRunId = await queuedCheckRun(name, old);
    const job = jobOf(repo, name, {
      private: false,
      sha: old,
      gitRef: "refs/pull/8/head",
      checkRunId,
      fork: true,
    });

    const outcome = await createBuildProcessor(deps)(job, new AbortController().signal);

    assert.deepEqual(outcome.pushedTags, []);
    const run = fake.checkRun(checkRunId);
    assert.equal(run?.conclusion, "cancelled");
    assert.ok(run?.output.title?.includes(`the pull request moved on to ${newer.slice(0, 7)}`), run?.output.title ?? "");
    assert.equal(fake.latestStatus(OWNER, name, old, "buildkit-bot/app")?.state, "error");
    assert.ok(!git.requests.some((r) => r.path.startsWith(`/${OWNER}/${name}.git/`)), "nothing was cloned");
  });

  test("a fork PR of a private repository: neutral, explained, not built (and without a public URL, no links)", { timeout: 60_000 }, async () => {
    const name = `priv-${unique()}`;
    const repo = await newRepo(name, { private: true });
    const sha = await repo.commit({ Dockerfile: "FROM scratch\n" }, { branch: "fork-head" });
    await repo.setRef("refs/pull/3/head", sha);
    const checkRunId = await queuedCheckRun(name, sha);
    const mintedBefore = scopedTokens().length;
    const job = jobOf(repo, name, { sha, gitRef: "refs/pull/3/head", checkRunId, fork: true });

    const { publicBaseUrl: _url, ...withoutPublicUrl } = trailDeps;
    await createBuildProcessor({ ...deps, trails: new GitHubTrails(withoutPublicUrl) })(job, new AbortController().signal);

    const run = fake.checkRun(checkRunId);
    assert.equal(run?.conclusion, "neutral");
    assert.equal(run?.details_url, null, "no public URL configured: no details_url");
    assert.equal(fake.latestStatus(OWNER, name, sha, "buildkit-bot/app")?.target_url, null, "and no status target_url");
    assert.match(run?.output.summary ?? "", /forks of a private repository are not built/);
    assert.ok(!git.requests.some((r) => r.path.startsWith(`/${OWNER}/${name}.git/`)), "nothing was cloned");
    assert.equal(scopedTokens().length, mintedBefore, "no token minted");
  });

  test("daemon unreachable: a transient error; the check run is concluded only on the last attempt", { timeout: 120_000 }, async () => {
    const name = `down-${unique()}`;
    const repo = await newRepo(name);
    const sha = await repo.commit({ Dockerfile: "FROM scratch\n" });
    const checkRunId = await queuedCheckRun(name, sha);
    const job = jobOf(repo, name, { sha, checkRunId });
    const down = { ...deps, buildkitHost: `tcp://127.0.0.1:${await freePort()}`, connectTimeoutMs: 3_000 };

    await assert.rejects(createBuildProcessor({ ...down, attemptsOf: async () => ({ attemptsMade: 0, attempts: 3 }) })(job, new AbortController().signal), (err: unknown) => {
      assert.ok(isTransientError(err), `transient: ${String(err)}`);
      return true;
    });
    let run = fake.checkRun(checkRunId);
    assert.notEqual(run?.status, "completed", "not concluded after the first attempt");
    assert.equal(run?.status, "queued");
    assert.match(run?.output.summary ?? "", /will be tried again/);
    assert.ok((await trailDeps.inFlight.list()).some((e) => e.buildId === job.buildId), "still in flight between attempts");

    await assert.rejects(createBuildProcessor({ ...down, attemptsOf: async () => ({ attemptsMade: 2, attempts: 3 }) })(job, new AbortController().signal), (err: unknown) => isTransientError(err));
    run = fake.checkRun(checkRunId);
    assert.equal(run?.conclusion, "failure", "the last attempt concludes it");
    assert.match(run?.output.summary ?? "", /cannot connect to BuildKit/);
    assert.equal(fake.latestStatus(OWNER, name, sha, "buildkit-bot/app")?.state, "failure");
    assert.ok(!(await trailDeps.inFlight.list()).some((e) => e.buildId === job.buildId));
  });
});
