import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { BuilderPool, chooseBuilder, parseBuildersFile } from "../../src/builders/index.js";
import type { BuildersConfig } from "../../src/builders/index.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import type { BuildJob } from "../../src/queue/index.js";
import type { GitHubTrailsDeps } from "../../src/trail/github-trails.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import type { redisForTest } from "../github/redis-test-keys.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { startBuildkitd } from "../support/stack/buildkitd.js";
import type { BuildkitdInstance } from "../support/stack/buildkitd.js";
import { NO_BUILDKITD_HINT } from "../support/stack/buildkitd-binary.js";
import { tcpPipe } from "../support/tcp-pipe.js";
import { testStack } from "../support/stack/env.js";
import { startWorkerWorld } from "../worker/worker-world.js";
import type { WorkerWorld } from "../worker/worker-world.js";
import { buildJob, captureLog, registryDigest, registryTags, unique } from "../worker/worker-test-kit.js";

/**
 * Issue 17, a multi-platform image no single builder serves: two fresh buildkitd, one started with
 * `--oci-worker-platform linux/amd64`, the other with `--oci-worker-platform linux/arm64`, the builders file giving
 * each only that platform (ListWorkers still names the host's own platform too). The build is split per platform,
 * each part pushed by digest from its own builder, and the parts joined into one index under the build's tags.
 * `FROM scratch` + COPY needs no emulation, so the arm64 part really is built by the arm64 worker here.
 */

const stack = testStack();
const INSTALLATION = 79;
const OWNER = "split";
const PLATFORMS = ["linux/amd64", "linux/arm64"];
const captured = captureLog();
const registry = { prefix: `${stack.registry}/split-test`, host: stack.registry, credentials: { username: "bot", password: `registry-pw-${unique()}` } };
const INDEX_ACCEPT = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

let world: WorkerWorld;
let fake: FakeGitHub<GitRepo>;
let request: OctokitRequest;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let trailDeps: GitHubTrailsDeps;
let deps: Omit<BuildProcessorDeps, "builders">;
let amd: BuildkitdInstance | undefined;
let arm: BuildkitdInstance | undefined;
const dirs: string[] = [];

function poolFile(builders: Array<{ name: string; address: string; platforms: string[]; maxConcurrent?: number }>): BuildersConfig {
  const lines = [
    "builders:",
    ...builders.flatMap((b) => [
      `  - name: ${b.name}`,
      `    address: ${b.address}`,
      `    platforms: [${b.platforms.join(", ")}]`,
      ...(b.maxConcurrent !== undefined ? [`    max_concurrent_builds: ${b.maxConcurrent}`] : []),
    ]),
  ];
  return parseBuildersFile(lines.join("\n"), "/test/builders.yml");
}

async function daemon(platform: string): Promise<BuildkitdInstance> {
  const dir = await mkdtemp(join(tmpdir(), `bkb-split-${platform.replace("/", "-")}-`));
  dirs.push(dir);
  return startBuildkitd({ dir, binary: stack.buildkitdBinary!, args: ["--oci-worker-platform", platform] });
}

/** The platforms of the builds a daemon's history holds (buildctl from the stack's own BuildKit release, else from PATH). */
async function builtPlatforms(address: string): Promise<string[]> {
  const beside = join(dirname(stack.buildkitdBinary!), "buildctl");
  const buildctl = existsSync(beside) ? beside : "buildctl";
  const { stdout } = await promisify(execFile)(buildctl, ["--addr", address, "debug", "histories", "--format", "{{json .}}"]);
  return [...stdout.matchAll(/"platform":"([^"]+)"/g)].flatMap((m) => (m[1] as string).split(","));
}

before(async () => {
  world = await startWorkerWorld({
    label: "split-build",
    installation: INSTALLATION,
    owner: OWNER,
    appId: 4303,
    registry,
    logger: captured.logger,
    progressIntervalMs: 1_000,
    extraDeps: () => ({
      connectTimeoutMs: 3_000,
      // Every attempt is the last: a failure ends the check run, so the test reads what it says.
      attemptsOf: async () => ({ attemptsMade: 2, attempts: 3 }),
    }),
  });
  ({ fake, request, trailDeps, deps, redis: redisCtx } = world);
  if (stack.buildkitdBinary) [amd, arm] = await Promise.all([daemon("linux/amd64"), daemon("linux/arm64")]);
});

after(async () => {
  await Promise.all([amd?.stop(), arm?.stop()].map((p) => p?.catch(() => undefined)));
  await world?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => undefined);
});

async function newBuild(name: string, platforms: string[]): Promise<{ job: BuildJob; checkRunId: number; repository: string; tags: string[] }> {
  const repo = await fake.createRepo(INSTALLATION, OWNER, name, { private: true });
  const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": `${name}\n` });
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  const checkRunId = (data as { id: number }).id;
  const repository = `split-test/${OWNER}/${name}`;
  const commitTag = `${stack.registry}/${repository}:sha-${sha.slice(0, 7)}`;
  const tags = [`${stack.registry}/${repository}:main`, commitTag, `${stack.registry}/${repository}:latest`];
  const image = { platforms, tags, push: true, ifBranchMoved: { branch: "main", tags: [commitTag] } };
  const job = buildJob({ installationId: INSTALLATION, repoId: repo.id, owner: OWNER, repo: name, private: true, cloneUrl: repo.remote, sha, checkRunId, image });
  return { job, checkRunId, repository, tags };
}

function shown(checkRunId: number): string {
  const run = fake.checkRun(checkRunId);
  return `${run?.output.title}\n${run?.output.summary}\n${run?.output.text ?? ""}`;
}

async function logText(buildId: string): Promise<string> {
  return JSON.stringify((await trailDeps.logs.read(buildId))?.entries ?? []);
}

async function running(pool: BuilderPool): Promise<number> {
  return (await pool.snapshot()).reduce((n, b) => n + b.running, 0);
}

describe("a multi-platform image split over builders that each serve one platform", { skip: stack.buildkitdBinary ? false : NO_BUILDKITD_HINT, timeout: 600_000 }, () => {
  test("builders started with --oci-worker-platform, narrowed by the file: a one-platform build goes to the builder of its platform", { timeout: 120_000 }, async () => {
    const pool = new BuilderPool({ config: poolFile([{ name: "amd", address: amd!.address, platforms: ["linux/amd64"] }, { name: "arm", address: arm!.address, platforms: ["linux/arm64"] }]), redis: redisCtx.redis, prefix: `${redisCtx.prefix}:route`, connectTimeoutMs: 3_000 });
    await pool.probe();
    const byName = Object.fromEntries((await pool.snapshot()).map((b) => [b.name, b.platforms]));
    assert.deepEqual(byName, { amd: ["linux/amd64"], arm: ["linux/arm64"] });
    for (const [platform, builder] of [["linux/arm64", "arm"], ["linux/amd64", "amd"]] as const) {
      for (let i = 0; i < 5; i++) {
        const lease = await pool.acquire({ buildId: `route-${platform}-${i}`, key: `key-${unique()}`, platforms: [platform] });
        await lease.release();
        assert.equal(lease.name, builder, `${platform} goes to ${builder}`);
      }
    }
  });

  test("a split build while one platform's builders are all full is told to wait (its worker slot given back), and goes on once one frees", { timeout: 120_000 }, async () => {
    const pool = new BuilderPool({
      config: poolFile([
        { name: "amd", address: amd!.address, platforms: ["linux/amd64"], maxConcurrent: 1 },
        { name: "arm", address: arm!.address, platforms: ["linux/arm64"], maxConcurrent: 1 },
      ]),
      redis: redisCtx.redis,
      prefix: `${redisCtx.prefix}:full`,
      connectTimeoutMs: 3_000,
    });
    try {
      await pool.probe();
      const split = { buildId: `full-split-${unique()}`, key: `key-${unique()}`, platforms: PLATFORMS };
      const armBuild = await pool.acquire({ buildId: `full-arm-${unique()}`, key: `key-${unique()}`, platforms: ["linux/arm64"] });
      assert.equal(armBuild.name, "arm");
      assert.match((await pool.mustWait(split)) ?? "", /is running its max_concurrent_builds/, "arm64 has no room: the split waits outside its worker slot");
      assert.deepEqual(Object.fromEntries((await pool.snapshot()).map((b) => [b.name, b.running])), { amd: 0, arm: 1 }, "and took no slot while looking");
      await armBuild.release();
      assert.equal(await pool.mustWait(split), undefined, "room on both: it goes on");
      assert.deepEqual(await pool.splitFor(split), { "linux/amd64": "amd", "linux/arm64": "arm" });
      await pool.unreserve(split.buildId);
    } finally {
      await pool.close();
    }
  });

  test("each platform is built on its own builder, pushed by digest, and joined into one index under every tag of the build", { timeout: 300_000 }, async () => {
    const pool = new BuilderPool({ config: poolFile([{ name: "amd", address: amd!.address, platforms: ["linux/amd64"] }, { name: "arm", address: arm!.address, platforms: ["linux/arm64"] }]), redis: redisCtx.redis, prefix: `${redisCtx.prefix}:split`, connectTimeoutMs: 3_000 });
    const { job, checkRunId, repository, tags } = await newBuild(`split-${unique()}`, PLATFORMS);

    const outcome = await createBuildProcessor({ ...deps, builders: pool })(job, new AbortController().signal);

    assert.equal(fake.checkRun(checkRunId)?.conclusion, "success", shown(checkRunId));
    assert.deepEqual(outcome.pushedTags, tags, "the commit tag in the solve path, main and latest by the moving-tags copy");
    const digest = await registryDigest(stack.registry, repository, "main");
    assert.equal(outcome.digest, digest);
    for (const tag of tags) assert.equal(await registryDigest(stack.registry, repository, tag.slice(tag.lastIndexOf(":") + 1)), digest, `${tag} names the index`);
    assert.deepEqual((await registryTags(stack.registry, repository)).sort(), tags.map((t) => t.slice(t.lastIndexOf(":") + 1)).sort(), "no other tag (the parts went by digest)");

    const res = await fetch(`http://${stack.registry}/v2/${repository}/manifests/main`, { headers: { accept: INDEX_ACCEPT } });
    assert.match(res.headers.get("content-type") ?? "", /index|manifest\.list/);
    const index = (await res.json()) as { manifests: Array<{ digest: string; mediaType: string; platform?: { os: string; architecture: string } }> };
    const children = index.manifests.filter((m) => m.platform && m.platform.os !== "unknown");
    assert.deepEqual(children.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).sort(), PLATFORMS);
    for (const child of children) {
      // The image's own config says which architecture it was built for: the index's platform field is not all.
      const manifest = (await (await fetch(`http://${stack.registry}/v2/${repository}/manifests/${child.digest}`, { headers: { accept: child.mediaType } })).json()) as { config: { digest: string } };
      const config = (await (await fetch(`http://${stack.registry}/v2/${repository}/blobs/${manifest.config.digest}`)).json()) as { os: string; architecture: string };
      assert.equal(`${config.os}/${config.architecture}`, `${child.platform?.os}/${child.platform?.architecture}`);
    }

    // Each daemon built only its own platform.
    assert.deepEqual(await builtPlatforms(amd!.address), ["linux/amd64"]);
    assert.deepEqual(await builtPlatforms(arm!.address), ["linux/arm64"]);
    const summary = fake.checkRun(checkRunId)?.output.summary ?? "";
    assert.ok(summary.includes("`linux/amd64` on `amd`") && summary.includes("`linux/arm64` on `arm`"), `the check run says which builder built each platform:\n${summary}`);
    assert.ok(summary.includes(String(digest)), summary);
    assert.equal(await running(pool), 0, "both builders' slots were given back");
  });

  test("a split build that pushes nothing (a pull request's): each platform built on its builder, nothing written to the registry", { timeout: 300_000 }, async () => {
    const pool = new BuilderPool({ config: poolFile([{ name: "amd", address: amd!.address, platforms: ["linux/amd64"] }, { name: "arm", address: arm!.address, platforms: ["linux/arm64"] }]), redis: redisCtx.redis, prefix: `${redisCtx.prefix}:nopush`, connectTimeoutMs: 3_000 });
    const { job, checkRunId, repository } = await newBuild(`nopush-${unique()}`, PLATFORMS);
    const { ifBranchMoved: _, ...image } = job.image;

    const outcome = await createBuildProcessor({ ...deps, builders: pool })({ ...job, image: { ...image, push: false } }, new AbortController().signal);

    assert.equal(fake.checkRun(checkRunId)?.conclusion, "success", shown(checkRunId));
    assert.equal(outcome.summary, "built, not pushed; linux/amd64 on amd, linux/arm64 on arm");
    assert.deepEqual(await registryTags(stack.registry, repository), []);
    assert.equal(await running(pool), 0);
  });

  test("one part's builder refuses the connection: the build fails naming the platform and the builder, nothing is tagged, the other builder is given back", { timeout: 300_000 }, async () => {
    const pipe = await tcpPipe(arm!.address);
    const pool = new BuilderPool({ config: poolFile([{ name: "amd", address: amd!.address, platforms: ["linux/amd64"] }, { name: "arm-gone", address: pipe.address, platforms: ["linux/arm64"] }]), redis: redisCtx.redis, prefix: `${redisCtx.prefix}:refused`, connectTimeoutMs: 3_000 });
    await pool.probe();
    assert.ok((await pool.snapshot()).every((b) => b.available), "the probe found both");
    await pipe.close();
    const { job, checkRunId, repository } = await newBuild(`refused-${unique()}`, PLATFORMS);

    await assert.rejects(createBuildProcessor({ ...deps, builders: pool })(job, new AbortController().signal));

    const text = shown(checkRunId);
    assert.equal(fake.checkRun(checkRunId)?.conclusion, "failure", text);
    assert.match(text, /no builder for linux\/arm64 can take the build now: arm-gone cannot be reached \([^)]*127\.0\.0\.1/, text);
    assert.deepEqual(await registryTags(stack.registry, repository), []);
    assert.equal(await running(pool), 0, "the amd64 part's builder was given back");
  });

  test("a platform no builder serves: the check run names it", { timeout: 120_000 }, async () => {
    const pool = new BuilderPool({ config: poolFile([{ name: "amd", address: amd!.address, platforms: ["linux/amd64"] }, { name: "arm", address: arm!.address, platforms: ["linux/arm64"] }]), redis: redisCtx.redis, prefix: `${redisCtx.prefix}:s390x`, connectTimeoutMs: 3_000 });
    const { job, checkRunId } = await newBuild(`s390x-${unique()}`, ["linux/amd64", "linux/s390x"]);

    await assert.rejects(createBuildProcessor({ ...deps, builders: pool })(job, new AbortController().signal), (err: unknown) => (err as { transient?: boolean }).transient === false);

    assert.equal(fake.checkRun(checkRunId)?.conclusion, "failure");
    assert.match(shown(checkRunId), /no builder serves linux\/s390x/);
    assert.doesNotMatch(fake.checkRun(checkRunId)?.output.title ?? "", /amd64/, "only the platform nobody serves is named");
  });

  test("a part's builder SIGKILLed during the build: the attempt ends saying which builder and platform were lost and where the retry goes; the retry builds that platform there", { timeout: 300_000 }, async () => {
    const victims = { "arm-a": await daemon("linux/arm64"), "arm-b": await daemon("linux/arm64") };
    try {
      const pool = new BuilderPool({
        config: poolFile([{ name: "amd", address: amd!.address, platforms: ["linux/amd64"] }, ...Object.entries(victims).map(([name, d]) => ({ name, address: d.address, platforms: ["linux/arm64"] }))]),
        redis: redisCtx.redis,
        prefix: `${redisCtx.prefix}:killed`,
        connectTimeoutMs: 3_000,
      });
      const { job, checkRunId, repository, tags } = await newBuild(`killed-${unique()}`, PLATFORMS);
      const processor = createBuildProcessor({ ...deps, attemptsOf: async () => ({ attemptsMade: 0, attempts: 3 }), builders: pool });

      // GitHub answers slowly, so the parts are held well before their solves start: the arm64 builder dies in between.
      fake.delayMs = 1_500;
      const first = processor(job, new AbortController().signal);
      let chosen: string | undefined;
      for (let i = 0; i < 600 && !chosen; i++) {
        chosen = /linux\/arm64: builder (arm-[ab])/.exec(await logText(job.buildId))?.[1];
        if (!chosen) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(chosen, "the arm64 part held a builder");
      const other = chosen === "arm-a" ? "arm-b" : "arm-a";
      process.kill(victims[chosen as keyof typeof victims].pid, "SIGKILL");
      await assert.rejects(first, (err: unknown) => (err as { transient?: boolean }).transient === true);
      fake.delayMs = 0;
      const said = JSON.stringify(fake.checkRun(checkRunId)?.updates ?? []);
      assert.equal(fake.checkRun(checkRunId)?.status, "queued");
      assert.ok(said.includes(`builder ${chosen} was lost (linux/arm64); retrying on ${other}`), said.slice(-2000));
      assert.deepEqual(await registryTags(stack.registry, repository), [], "no tag after the failed attempt");

      // The queue's retry of the same job.
      const outcome = await processor(job, new AbortController().signal);
      const run = fake.checkRun(checkRunId);
      assert.equal(run?.conclusion, "success", shown(checkRunId));
      assert.match(run?.output.title ?? "", /2 attempts; the builder was lost once/);
      assert.ok(run?.output.summary?.includes(`\`linux/arm64\` on \`${other}\``), run?.output.summary ?? undefined);
      assert.match(await logText(job.buildId), new RegExp(`linux/arm64: builder ${chosen} was lost; retrying on ${other}`));
      assert.deepEqual(outcome.pushedTags, tags);
      assert.deepEqual(await builtPlatforms(victims[other as keyof typeof victims].address), ["linux/arm64"]);
      assert.equal(await running(pool), 0);
    } finally {
      fake.delayMs = 0;
      await Promise.all(Object.values(victims).map((d) => d.stop().catch(() => undefined)));
    }
  });

  test("parts go to standalone buildkitd when one serves the platform, never to a Docker Engine that serves it too (it cannot push by digest)", { timeout: 120_000 }, async () => {
    const pool = new BuilderPool({
      config: poolFile([{ name: "engine", address: stack.buildkitAddr, platforms: ["linux/amd64"] }, { name: "amd", address: amd!.address, platforms: ["linux/amd64"] }, { name: "arm", address: arm!.address, platforms: ["linux/arm64"] }]),
      redis: redisCtx.redis,
      prefix: `${redisCtx.prefix}:prefer`,
      connectTimeoutMs: 3_000,
    });
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `79/${i}/web`);
      const onRingAlone = keys.map((key) =>
        chooseBuilder(key, PLATFORMS, ["engine", "amd", "arm"].map((name) => ({ name, platforms: name === "arm" ? ["linux/arm64"] : ["linux/amd64"], available: true, draining: false, running: 0, maxConcurrent: undefined })), { split: true }),
      );
      assert.ok(onRingAlone.some((c) => c.kind === "split" && c.byPlatform["linux/amd64"] === "engine"), "the hash ring alone gives some keys' amd64 part to the Engine");
      const choices = await Promise.all(keys.map((key, i) => pool.splitFor({ buildId: `prefer-${i}`, key, platforms: PLATFORMS })));
      assert.deepEqual(new Set(choices.map((c) => JSON.stringify(c))), new Set([JSON.stringify({ "linux/amd64": "amd", "linux/arm64": "arm" })]));
    } finally {
      pool.stop();
    }
  });

  test("a part that lands on the Docker Engine (BuildKit 0.8, classic store) cannot be pushed by digest: the build fails saying so, naming the platform and the builder", { timeout: 300_000 }, async () => {
    const pool = new BuilderPool({ config: poolFile([{ name: "engine", address: stack.buildkitAddr, platforms: ["linux/amd64"] }, { name: "arm", address: arm!.address, platforms: ["linux/arm64"] }]), redis: redisCtx.redis, prefix: `${redisCtx.prefix}:engine`, connectTimeoutMs: 3_000 });
    const { job, checkRunId, repository } = await newBuild(`engine-${unique()}`, PLATFORMS);

    await assert.rejects(createBuildProcessor({ ...deps, builders: pool })(job, new AbortController().signal));

    const text = shown(checkRunId);
    assert.equal(fake.checkRun(checkRunId)?.conclusion, "failure", text);
    assert.match(text, /linux\/amd64 on builder engine: this Docker Engine \(classic image store\) cannot push an image by digest alone/, text);
    assert.deepEqual(await registryTags(stack.registry, repository), [], "no tag: the index was never written");
    assert.equal(await running(pool), 0);
  });
});
