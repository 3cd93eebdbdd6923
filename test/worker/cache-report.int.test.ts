import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { RegistryConfig } from "../../src/app/app-config.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import { CacheHistory } from "../../src/worker/cache-history.js";
import { UNPINNED_FROM_NOTE } from "../../src/worker/cache-report.js";
import type { redisForTest } from "../github/redis-test-keys.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { RegistryClient } from "../../src/buildkit/registry/registry-client.js";
import { uploadTinyImage } from "../buildkit/registry/tiny-image.js";
import { buildkitdDaemon, engineDaemon, testDaemons } from "../support/daemons.js";
import { startBuildkitd } from "../support/stack/buildkitd.js";
import { testStack } from "../support/stack/env.js";
import { startWorkerWorld } from "./worker-world.js";
import type { WorkerWorld } from "./worker-world.js";
import { buildJob, captureLog, dumpRedis, unique } from "./worker-test-kit.js";

/**
 * Issue 19.1, the cache report, on real builds: the base branch (main) builds, then a pull request (or a later
 * push) builds on the same daemon, and its check run names the first step that ran again and the input that
 * changed: the files a COPY copies, the Dockerfile line, a build arg, the base image's digest, or, when nothing
 * changed, the base branch's cache that was not found.
 */
const stack = testStack();
const run = promisify(execFile);
const INSTALLATION = 79;
const OWNER = "cachey";
const captured = captureLog();

let fake: FakeGitHub<GitRepo>;
let request: OctokitRequest;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let deps: BuildProcessorDeps;
const registry: RegistryConfig = { prefix: `${stack.registry}/cache-report-test`, host: stack.registry };

let world: WorkerWorld | undefined;
before(async () => {
  world = await startWorkerWorld({
    label: "cache-report",
    installation: INSTALLATION,
    owner: OWNER,
    appId: 4303,
    registry,
    logger: captured.logger,
    progressIntervalMs: 1_000,
    extraDeps: (w) => ({ cacheHistory: new CacheHistory(w.redis.redis, w.redis.prefix) }),
  });
  ({ fake, request, deps } = world);
  redisCtx = world.redis;
});
after(async () => {
  await world?.close();
});

type Repo = GitRepo & { id: number };

interface Built {
  summary: string;
  conclusion: string | null | undefined;
}

/** Builds `sha` of the repository as the main branch's push, or as pull request #7 into main. */
async function build(address: string, repo: Repo, name: string, sha: string, as: "main" | "pr", image: Partial<BuildJob["image"]> = {}, expectFailure = false): Promise<Built> {
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  const checkRunId = (data as { id: number }).id;
  const base = buildJob({ installationId: INSTALLATION, repoId: repo.id, owner: OWNER, repo: name, private: true, cloneUrl: repo.remote, sha, checkRunId, image });
  const job: BuildJob =
    as === "main"
      ? { ...base, ref: "refs/heads/main" }
      : {
          ...base,
          reason: "pull_request",
          pullRequest: { number: 7, headRef: "topic", headSha: sha, baseRef: "main", baseSha: sha, headRepoFullName: `${OWNER}/${name}`, fork: false },
        };
  await createBuildProcessor({ ...deps, buildkitHost: address })(job, new AbortController().signal).catch((err: unknown) => {
    if (!expectFailure) throw err;
  });
  const checkRun = fake.checkRun(checkRunId);
  return { summary: checkRun?.output.summary ?? "", conclusion: checkRun?.conclusion };
}

/** A repository whose main branch holds `files`, and a topic branch from it with `change` committed. */
async function repoWithChange(prefix: string, files: Record<string, string>): Promise<{ repo: Repo; name: string; main: string; topic(change: Record<string, string>): Promise<string> }> {
  const name = `${prefix}-${unique()}`;
  const repo = await fake.createRepo(INSTALLATION, OWNER, name, { private: true });
  const main = await repo.commit(files);
  return {
    repo,
    name,
    main,
    topic: async (change) => {
      await repo.setRef("refs/heads/topic", main);
      return repo.commit(change, { branch: "topic" });
    },
  };
}

const dockerfile = (stamp: string, last = "RUN cat /a /src/* > /all"): string =>
  `FROM ${stack.baseImage}\nRUN echo ${stamp} > /stamp && sleep 1\nCOPY a.txt /a\nCOPY src/ /src/\n${last}\n`;
const SOURCES = { "a.txt": "a\n", "src/one.txt": "one\n", "src/two.txt": "two\n", "README.md": "readme\n" };

describe("cache report on buildkitd", { skip: buildkitdDaemon(stack).skip, timeout: 900_000 }, () => {
  const address = buildkitdDaemon(stack).address;

  test("a PR that changes one source file: the COPY that re-ran and the file; cached steps with the time they saved", { timeout: 300_000 }, async () => {
    const stamp = unique();
    const r = await repoWithChange("files", { Dockerfile: dockerfile(stamp), ...SOURCES });
    const main = await build(address, r.repo, r.name, r.main, "main");
    assert.equal(main.conclusion, "success", main.summary);
    assert.match(main.summary, /\*\*Cache:\*\* \d of 4 Dockerfile steps cached/, main.summary);
    assert.match(main.summary, /\| \*\*ran\*\* \| `\[2\/5\] RUN echo \S+ > \/stamp && sleep 1` \| \d+\.\ds \|/, main.summary);

    const head = await r.topic({ "src/two.txt": "two, changed\n", "README.md": "not copied\n" });
    const pr = await build(address, r.repo, r.name, head, "pr");
    assert.equal(pr.conclusion, "success", pr.summary);
    assert.match(pr.summary, /\*\*Cache:\*\* 2 of 4 Dockerfile steps cached, saving about \d+\.\ds; base image resolved \(not pulled\)\./, pr.summary);
    assert.match(pr.summary, /\| resolved \| `\[1\/\d+\] FROM [^`]+` \| {2}\|/, "the FROM says the daemon had its image at hand, not that it ran");
    assert.match(pr.summary, /\*\*Why it re-ran:\*\* `\[4\/5\] COPY src\/ \/src\/` is the first step that ran \(compared with `main` at `[0-9a-f]{7}`\): a file it copies changed:\n\n- `src\/two\.txt`\n/, pr.summary);
    assert.doesNotMatch(pr.summary, /README\.md/, "a changed file no COPY takes in is not named");
    assert.match(pr.summary, /\| cached \| `\[2\/5\] RUN echo \S+ > \/stamp && sleep 1` \| saved ~\d+\.\ds \|/, "the cached RUN saved what it took on main");
    assert.match(pr.summary, /\| cached \| `\[3\/5\] COPY a\.txt \/a` \|/);
    assert.match(pr.summary, /\| \*\*ran\*\* \| `\[5\/5\] RUN cat \/a \/src\/\* > \/all` \|/);

    const kept = await dumpRedis(redisCtx.redis, redisCtx.prefix);
    assert.match(kept, new RegExp(`cache-report:${r.repo.id}:app:pull/7`), "the PR's build is kept for its next build");
    assert.doesNotMatch(kept, /two, changed/, "no file content is kept");
  });

  test("a changed instruction: its Dockerfile line, before and after", { timeout: 300_000 }, async () => {
    const stamp = unique();
    const r = await repoWithChange("line", { Dockerfile: dockerfile(stamp), ...SOURCES });
    assert.equal((await build(address, r.repo, r.name, r.main, "main")).conclusion, "success");
    const head = await r.topic({ Dockerfile: dockerfile(stamp, "RUN cat /src/* /a > /all") });
    const pr = await build(address, r.repo, r.name, head, "pr");
    assert.equal(pr.conclusion, "success", pr.summary);
    assert.match(pr.summary, /`\[5\/5\] RUN cat \/src\/\* \/a > \/all` is the first step that ran .*: its Dockerfile line changed, `Dockerfile:5`:\n\n```diff\n- RUN cat \/a \/src\/\* > \/all\n\+ RUN cat \/src\/\* \/a > \/all\n```/, pr.summary);
  });

  test("a changed build arg: named, and kept as a hash", { timeout: 300_000 }, async () => {
    const stamp = unique();
    const file = `FROM ${stack.baseImage}\nRUN echo ${stamp} > /stamp\nARG FLAVOUR\nRUN echo "$FLAVOUR" > /flavour\n`;
    const r = await repoWithChange("arg", { Dockerfile: file });
    assert.equal((await build(address, r.repo, r.name, r.main, "main", { buildArgs: { FLAVOUR: "vanilla-flavour-value" } })).conclusion, "success");
    const head = await r.topic({ "NOTES.md": "notes\n" });
    const pr = await build(address, r.repo, r.name, head, "pr", { buildArgs: { FLAVOUR: "chocolate-flavour-value" } });
    assert.equal(pr.conclusion, "success", pr.summary);
    assert.match(pr.summary, /`\[3\/3\] RUN echo "chocolate-flavour-value" > \/flavour` is the first step that ran .*: build arg `FLAVOUR` changed\./, pr.summary);
    const record = await new CacheHistory(redisCtx.redis, redisCtx.prefix).read({ repoId: r.repo.id, image: "app", ref: "pull/7" });
    assert.match(record?.args.FLAVOUR ?? "", /^[0-9a-f]{16}$/, "the build arg is kept as a hash of its value");
  });

  test("a base image that moved to another digest", { timeout: 300_000 }, async () => {
    const stamp = unique();
    const baseRef = `${stack.registry}/cache-report-test/base-${stamp}:latest`;
    await pushImage(`FROM ${stack.baseImage}\nRUN echo one-${stamp} > /base\n`, baseRef);
    const r = await repoWithChange("base", { Dockerfile: `FROM ${baseRef}\nRUN cat /base > /copy\n` });
    assert.equal((await build(address, r.repo, r.name, r.main, "main")).conclusion, "success");
    await pushImage(`FROM ${stack.baseImage}\nRUN echo two-${stamp} > /base\n`, baseRef);
    const head = await r.topic({ "NOTES.md": "notes\n" });
    const pr = await build(address, r.repo, r.name, head, "pr");
    assert.equal(pr.conclusion, "success", pr.summary);
    assert.match(pr.summary, new RegExp(`is the first step that ran .*: the base image \`${escape(baseRef)}\` moved from \`sha256:[0-9a-f]{12}\` to \`sha256:[0-9a-f]{12}\`\\.`), pr.summary);
  });

  test("nothing changed but the cache is gone (pruned): cache not found for the base branch", { timeout: 300_000 }, async () => {
    // A buildkitd of its own: pruning the stack's would take the cache other tests running beside this one rely on.
    const dir = await mkdtemp(join(tmpdir(), "bkb-cache-report-prune-"));
    const own = await startBuildkitd({ dir, binary: stack.buildkitdBinary! });
    try {
      const stamp = unique();
      const r = await repoWithChange("gone", { Dockerfile: dockerfile(stamp), ...SOURCES });
      assert.equal((await build(own.address, r.repo, r.name, r.main, "main")).conclusion, "success");
      await buildctl(["prune", "--all"], own.address);
      const head = await r.topic({ "NOTES.md": "notes\n" });
      const pr = await build(own.address, r.repo, r.name, head, "pr");
      assert.equal(pr.conclusion, "success", pr.summary);
      assert.match(pr.summary, /is the first step that ran \(compared with `main` at `[0-9a-f]{7}`\), with the same inputs: the cache for the base branch was not found/, pr.summary);
    } finally {
      await own.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  });

  test("a failed build: the steps before the failure, the failed one, and why the first one ran", { timeout: 300_000 }, async () => {
    const stamp = unique();
    const r = await repoWithChange("failed", { Dockerfile: dockerfile(stamp, 'RUN test "$(cat /src/two.txt)" = two'), ...SOURCES });
    const main = await build(address, r.repo, r.name, r.main, "main");
    assert.equal(main.conclusion, "success", main.summary);
    const head = await r.topic({ "src/two.txt": "broken\n" });
    const pr = await build(address, r.repo, r.name, head, "pr", {}, true);
    assert.equal(pr.conclusion, "failure", pr.summary);
    assert.ok(pr.summary.startsWith("Building `app` failed at"), `the failure's headline stays first:\n${pr.summary}`);
    assert.match(pr.summary, /`\[4\/5\] COPY src\/ \/src\/` is the first step that ran .*: a file it copies changed:\n\n- `src\/two\.txt`\n/, pr.summary);
    assert.match(pr.summary, /\| \*\*failed\*\* \| `\[5\/5\] RUN test .*` \|/, pr.summary);
    const kept = await new CacheHistory(redisCtx.redis, redisCtx.prefix).read({ repoId: r.repo.id, image: "app", ref: "pull/7" });
    assert.equal(kept, undefined, "a failed build is not kept as the ref's last build");
  });

  /** buildctl, beside the stack's buildkitd binary, against the stack's daemon (or `at`). */
  async function buildctl(args: string[], at = address): Promise<string> {
    const binary = stack.buildkitdBinary;
    if (!binary) throw new Error("needs the buildkitd binary (BKB_TEST_BUILDKITD_BIN) for buildctl");
    return (await run(join(dirname(binary), "buildctl"), ["--addr", at, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
  }

  /** Builds a one-file Dockerfile with buildctl and pushes it to the stack's registry. */
  async function pushImage(text: string, ref: string): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), "bkb-cache-base-"));
    try {
      await writeFile(join(dir, "Dockerfile"), text);
      await buildctl(["build", "--frontend", "dockerfile.v0", "--local", `context=${dir}`, "--local", `dockerfile=${dir}`, "--output", `type=image,name=${ref},push=true,registry.insecure=true`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("cache report on the Engine 20.10", { skip: engineDaemon(stack).skip, timeout: 600_000 }, () => {
  test("a PR that changes one source file: the COPY and the file; a note that base image digests are not known", { timeout: 300_000 }, async () => {
    const address = engineDaemon(stack).address;
    const stamp = unique();
    const r = await repoWithChange("engine", { Dockerfile: dockerfile(stamp), ...SOURCES });
    assert.equal((await build(address, r.repo, r.name, r.main, "main")).conclusion, "success");
    const head = await r.topic({ "src/two.txt": "two, changed\n" });
    const pr = await build(address, r.repo, r.name, head, "pr");
    assert.equal(pr.conclusion, "success", pr.summary);
    assert.match(pr.summary, /`\[4\/5\] COPY src\/ \/src\/` is the first step that ran .*: a file it copies changed:\n\n- `src\/two\.txt`\n/, pr.summary);
    assert.match(pr.summary, /\| cached \| `\[2\/5\] RUN echo \S+ > \/stamp && sleep 1` \| saved ~\d+\.\ds \|/, pr.summary);
    assert.ok(pr.summary.includes(`> ${UNPINNED_FROM_NOTE}`), `the Engine's BuildKit names no FROM digest, and the report says so once:\n${pr.summary}`);
  });
});

for (const daemon of testDaemons(stack)) {
  describe(`a FROM in the cache report on ${daemon.name}`, { skip: daemon.skip, timeout: 600_000 }, () => {
    test("pulled when the daemon fetched the base image, resolved when it had it; never a step that ran or was cached", { timeout: 300_000 }, async () => {
      // An image uploaded straight to the registry: no daemon has its blobs before this test's first build.
      const repository = `cache-report-test/tiny-${unique()}`;
      const client = new RegistryClient({ registry: stack.registry });
      const tiny = await uploadTinyImage(client, repository);
      await client.putManifest(repository, "latest", tiny);
      const r = await repoWithChange("from", { Dockerfile: `FROM ${stack.registry}/${repository}:latest\nCOPY a.txt /a\n`, "a.txt": `${unique()}\n` });

      const main = await build(daemon.address, r.repo, r.name, r.main, "main");
      assert.equal(main.conclusion, "success", main.summary);
      assert.match(main.summary, /\*\*Cache:\*\* 0 of 1 Dockerfile steps cached; base image pulled\./, main.summary);
      assert.match(main.summary, new RegExp(`\\| pulled \\| \`\\[1/2\\] FROM ${escape(`${stack.registry}/${repository}:latest`)}\` \\|  \\|`), main.summary);
      assert.match(main.summary, /\| \*\*ran\*\* \| `\[2\/2\] COPY a\.txt \/a` \|/, main.summary);

      const head = await r.topic({ "NOTES.md": "notes\n" });
      const pr = await build(daemon.address, r.repo, r.name, head, "pr");
      assert.equal(pr.conclusion, "success", pr.summary);
      assert.match(pr.summary, /\*\*Cache:\*\* 1 of 1 Dockerfile steps cached(, saving about [^;]+)?; base image resolved \(not pulled\)\./, pr.summary);
      assert.match(pr.summary, /\| resolved \| `\[1\/\d+\] FROM [^`]+` \| {2}\|/, pr.summary);
      assert.doesNotMatch(pr.summary, /Why it re-ran/, "every step came from the cache: the FROM is not named as one that ran");
      assert.doesNotMatch(pr.summary, /\*\*ran\*\*/, pr.summary);
    });
  });
}
