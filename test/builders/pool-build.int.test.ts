import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BuilderPool, BuilderUnservableError, NoBuilderAvailableError, parseBuildersFile } from "../../src/builders/index.js";
import type { BuilderCandidate, BuilderChoice, BuildersConfig } from "../../src/builders/index.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { forwardingTrail } from "../../src/trail/forwarding-trail.js";
import type { BuildTrails } from "../../src/trail/build-trail.js";
import type { GitHubTrailsDeps } from "../../src/trail/github-trails.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import type { redisForTest } from "../github/redis-test-keys.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { startBuildkitd } from "../support/stack/buildkitd.js";
import type { BuildkitdInstance } from "../support/stack/buildkitd.js";
import { NO_BUILDKITD_HINT } from "../support/stack/buildkitd-binary.js";
import { freePort } from "../support/stack/free-port.js";
import { testStack } from "../support/stack/env.js";
import { tcpPipe } from "../support/tcp-pipe.js";
import { startWorkerWorld } from "../worker/worker-world.js";
import type { WorkerWorld } from "../worker/worker-world.js";
import { buildJob, captureLog, unique } from "../worker/worker-test-kit.js";

const stack = testStack();
const INSTALLATION = 78;
const OWNER = "pool";
const captured = captureLog();

let world: WorkerWorld;
let fake: FakeGitHub<GitRepo>;
let request: OctokitRequest;
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let trailDeps: GitHubTrailsDeps;
let deps: Omit<BuildProcessorDeps, "builders">;
let dirs: string[] = [];

/** Takes the available, undrained builders in this order, whatever the key: the first choice is known. */
const inOrder = (order: string[]) => (_key: string, _required: readonly string[], candidates: readonly BuilderCandidate[]): BuilderChoice => {
  const usable = order.map((n) => candidates.find((c) => c.name === n)).filter((c): c is BuilderCandidate => !!c && c.available && !c.draining);
  return usable[0] ? { kind: "chosen", name: usable[0].name } : { kind: "unservable", platforms: [] };
};

function poolFile(builders: Array<{ name: string; address: string; platforms?: string[] }>): BuildersConfig {
  const lines = builders.flatMap((b) => [`  - name: ${b.name}`, `    address: ${b.address}`, ...(b.platforms ? [`    platforms: [${b.platforms.join(", ")}]`] : [])]);
  return parseBuildersFile(["builders:", ...lines].join("\n"), "/test/builders.yml");
}

before(async () => {
  world = await startWorkerWorld({
    label: "pool-build",
    installation: INSTALLATION,
    owner: OWNER,
    appId: 4302,
    registry: { prefix: `${stack.registry}/pool-test`, host: stack.registry },
    logger: captured.logger,
    progressIntervalMs: 1_000,
    extraDeps: () => ({
      connectTimeoutMs: 3_000,
      attemptsOf: async () => ({ attemptsMade: 0, attempts: 3 }),
    }),
  });
  ({ fake, request, trailDeps, deps, redis: redisCtx } = world);
});

after(async () => {
  await world?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => undefined);
  dirs = [];
});

async function newBuild(name: string, dockerfile: string): Promise<{ job: ReturnType<typeof buildJob>; checkRunId: number }> {
  const repo = await fake.createRepo(INSTALLATION, OWNER, name, { private: true });
  const sha = await repo.commit({ Dockerfile: dockerfile, "hello.txt": `${name}\n` });
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  const checkRunId = (data as { id: number }).id;
  return { job: buildJob({ installationId: INSTALLATION, repoId: repo.id, owner: OWNER, repo: name, private: true, cloneUrl: repo.remote, sha, checkRunId }), checkRunId };
}

async function logText(buildId: string): Promise<string> {
  return JSON.stringify((await trailDeps.logs.read(buildId))?.entries ?? []);
}

describe("the build processor on a pool of builders", { skip: stack.buildkitdBinary ? false : NO_BUILDKITD_HINT, timeout: 600_000 }, () => {
  test("the first choice refuses the connection: the build succeeds on the next in the same attempt, and says so", { timeout: 300_000 }, async () => {
    const pipe = await tcpPipe(stack.buildkitdAddr!);
    const pool = new BuilderPool({ config: poolFile([{ name: "refusing", address: pipe.address }, { name: "engine", address: stack.buildkitAddr }]), redis: redisCtx.redis, prefix: redisCtx.prefix, choose: inOrder(["refusing", "engine"]), connectTimeoutMs: 3_000 });
    await pool.probe();
    assert.equal((await pool.snapshot())[0]!.available, true, "the probe found it");
    await pipe.close();
    const { job, checkRunId } = await newBuild(`refused-${unique()}`, "FROM scratch\nCOPY hello.txt /hello.txt\n");

    const outcome = await createBuildProcessor({ ...deps, builders: pool })(job, new AbortController().signal);

    assert.equal(outcome.summary, "built, not pushed");
    const run = fake.checkRun(checkRunId);
    assert.equal(run?.conclusion, "success");
    assert.ok(!/attempts/.test(run?.output.title ?? ""), `one attempt: ${run?.output.title}`);
    const log = await logText(job.buildId);
    assert.match(log, /builder refusing refused the connection \([^)]*127\.0\.0\.1[^)]*\); skipped/);
    assert.match(log, /builder: engine/);
    assert.equal((await pool.snapshot()).reduce((n, b) => n + b.running, 0), 0, "the builder's slot was given back");
  });

  test("a builder SIGKILLed mid-build: the attempt ends saying where the retry goes, and the retry builds there", { timeout: 300_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "bkb-pool-build-victim-"));
    dirs.push(dir);
    const victim: BuildkitdInstance = await startBuildkitd({ dir, binary: stack.buildkitdBinary! });
    try {
      const pool = new BuilderPool({ config: poolFile([{ name: "victim", address: victim.address }, { name: "survivor", address: stack.buildkitdAddr! }]), redis: redisCtx.redis, prefix: redisCtx.prefix, choose: inOrder(["victim", "survivor"]), connectTimeoutMs: 3_000 });
      await pool.probe();
      const { job, checkRunId } = await newBuild(`killed-${unique()}`, `FROM ${stack.baseImage}\nARG ATTEMPT=1\nRUN echo step-started && sleep 10\nCOPY hello.txt /hello.txt\n`);
      const processor = createBuildProcessor({ ...deps, builders: pool });

      const first = processor(job, new AbortController().signal);
      // Kill the daemon once the RUN step is under way.
      for (let i = 0; i < 600 && !(await logText(job.buildId)).includes("step-started"); i++) await new Promise((r) => setTimeout(r, 100));
      process.kill(victim.pid, "SIGKILL");
      await assert.rejects(first, (err: unknown) => err instanceof Error && (err as { transient?: boolean }).transient === true);
      const queued = fake.checkRun(checkRunId);
      assert.equal(queued?.status, "queued");
      const said = JSON.stringify(queued?.updates ?? []);
      assert.ok(said.includes("builder victim was lost; retrying on survivor"), said.slice(-2000));

      // The queue's retry of the same job, in this process or another.
      await processor(job, new AbortController().signal);
      const run = fake.checkRun(checkRunId);
      assert.equal(run?.conclusion, "success");
      assert.match(run?.output.title ?? "", /2 attempts; the builder was lost once/);
      assert.match(await logText(job.buildId), /builder victim was lost; retrying on survivor/);
    } finally {
      await victim.stop().catch(() => undefined);
    }
  });

  test("affinity across rebuilds: on a pool of 3 real builders, a repository's image rebuilt 3 times lands on the same builder each time, and its RUN step comes back cached", { timeout: 300_000 }, async () => {
    const started: BuildkitdInstance[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const dir = await mkdtemp(join(tmpdir(), `bkb-pool-affinity-${i}-`));
        dirs.push(dir);
        started.push(await startBuildkitd({ dir, binary: stack.buildkitdBinary! }));
      }
      const builders = [{ name: "stack", address: stack.buildkitdAddr! }, ...started.map((b, i) => ({ name: `fresh-${i}`, address: b.address }))];
      // The shipped choice (consistent hashing with bounded loads), not a fixed order.
      const pool = new BuilderPool({ config: poolFile(builders), redis: redisCtx.redis, prefix: `${redisCtx.prefix}:affinity`, connectTimeoutMs: 3_000 });
      await pool.probe();
      assert.ok((await pool.snapshot()).every((b) => b.available), "all three builders answer");
      const processor = createBuildProcessor({ ...deps, builders: pool });
      const name = `affinity-${unique()}`;
      const repo = await fake.createRepo(INSTALLATION, OWNER, name, { private: true });
      const dockerfile = `FROM ${stack.baseImage}\nRUN echo ${name} > /warm && sleep 1\nCOPY hello.txt /hello.txt\n`;
      const landed: string[] = [];
      const runSteps: string[] = [];
      for (let i = 0; i < 3; i++) {
        const sha = await repo.commit({ Dockerfile: dockerfile, "hello.txt": `rebuild ${i}\n` });
        const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
        const checkRunId = (data as { id: number }).id;
        const job = buildJob({ installationId: INSTALLATION, repoId: repo.id, owner: OWNER, repo: name, private: true, cloneUrl: repo.remote, sha, checkRunId });
        await processor(job, new AbortController().signal);
        assert.equal(fake.checkRun(checkRunId)?.conclusion, "success");
        const records = ((await trailDeps.logs.read(job.buildId))?.entries ?? []).flatMap((e) => ("records" in e ? e.records : []));
        const said = records.flatMap((r) => (r.t === "line" ? [r.text] : [])).join("\n");
        const builder = /builder: (\S+)/.exec(said)?.[1];
        assert.ok(builder, `the log names the builder:\n${said.slice(0, 2000)}`);
        landed.push(builder);
        const run = records.flatMap((r) => (r.t === "step" && / RUN echo /.test(r.name) ? [r.status] : []));
        runSteps.push(run.at(-1) ?? "missing");
      }
      assert.deepEqual(landed, [landed[0], landed[0], landed[0]], `every rebuild on the first build's builder: ${landed.join(", ")}`);
      assert.equal(runSteps[0], "done", `the first build ran its RUN step: ${runSteps.join(", ")}`);
      assert.deepEqual(runSteps.slice(1), ["cached", "cached"], `the rebuilds found it in that builder's cache: ${runSteps.join(", ")}`);
      assert.equal((await pool.snapshot()).reduce((n, b) => n + b.running, 0), 0, "every slot was given back");
    } finally {
      for (const b of started) await b.stop().catch(() => undefined);
    }
  });

  test("the builder and the worker's slot are given back once the solve is done, before the build reports its success", { timeout: 300_000 }, async () => {
    const prefix = `${redisCtx.prefix}:freed`;
    const pool = new BuilderPool({ config: poolFile([{ name: "only", address: stack.buildkitdAddr! }]), redis: redisCtx.redis, prefix, connectTimeoutMs: 3_000 });
    await pool.probe();
    const { job, checkRunId } = await newBuild(`freed-${unique()}`, "FROM scratch\nCOPY hello.txt /hello.txt\n");
    const seen: string[] = [];
    let runningAtReport: number | undefined;
    const trails: BuildTrails = {
      begin: async (j, options) => {
        const trail = await deps.trails.begin(j, options);
        return forwardingTrail(trail, {
          succeeded: async (result, summary) => {
            seen.push("report");
            runningAtReport = (await pool.snapshot()).reduce((n, b) => n + b.running, 0);
            return trail.succeeded(result, summary);
          },
        });
      },
    };
    const slot = { free: () => void seen.push("slot freed") };

    const outcome = await createBuildProcessor({ ...deps, trails, builders: pool })(job, new AbortController().signal, slot);

    assert.equal(outcome.summary, "built, not pushed");
    assert.equal(fake.checkRun(checkRunId)?.conclusion, "success");
    assert.deepEqual(seen, ["slot freed", "report"], "the worker's slot went back before the report");
    assert.equal(runningAtReport, 0, "the builder was given back before the report");
  });

  test("the check run says why no builder can take the build: none reachable, all draining, or a platform none serves (named)", { timeout: 300_000 }, async () => {
    const shown = (checkRunId: number): string => {
      const run = fake.checkRun(checkRunId);
      return `${run?.output.title}\n${run?.output.summary}\n${run?.output.text ?? ""}`;
    };
    const lastAttempt = { ...deps, attemptsOf: async () => ({ attemptsMade: 2, attempts: 3 }) };

    // None reachable: an earlier attempt goes back to queued saying so, the last one fails saying so.
    const gone = new BuilderPool({ config: poolFile([{ name: "gone-1", address: `tcp://127.0.0.1:${await freePort()}` }, { name: "gone-2", address: `tcp://127.0.0.1:${await freePort()}` }]), redis: redisCtx.redis, prefix: `${redisCtx.prefix}:gone`, connectTimeoutMs: 3_000 });
    const unreachable = /no builder can take the build now: gone-1 cannot be reached \([^)]*127\.0\.0\.1[^)]*\), gone-2 cannot be reached \([^)]*127\.0\.0\.1/;
    const retried = await newBuild(`gone-${unique()}`, "FROM scratch\nCOPY hello.txt /hello.txt\n");
    await assert.rejects(createBuildProcessor({ ...deps, builders: gone })(retried.job, new AbortController().signal), (err: unknown) => err instanceof NoBuilderAvailableError);
    assert.equal(fake.checkRun(retried.checkRunId)?.status, "queued");
    assert.match(shown(retried.checkRunId), /Waiting to retry/);
    assert.match(shown(retried.checkRunId), unreachable, shown(retried.checkRunId));
    const failed = await newBuild(`gone-${unique()}`, "FROM scratch\nCOPY hello.txt /hello.txt\n");
    await assert.rejects(createBuildProcessor({ ...lastAttempt, builders: gone })(failed.job, new AbortController().signal));
    assert.equal(fake.checkRun(failed.checkRunId)?.conclusion, "failure");
    assert.match(shown(failed.checkRunId), unreachable, shown(failed.checkRunId));
    assert.doesNotMatch(shown(failed.checkRunId), /draining/);

    // All draining: named as draining, not as unreachable.
    const drained = new BuilderPool({ config: poolFile([{ name: "kept-1", address: stack.buildkitdAddr! }, { name: "kept-2", address: stack.buildkitAddr }]), redis: redisCtx.redis, prefix: `${redisCtx.prefix}:drained`, connectTimeoutMs: 3_000 });
    await drained.drain("kept-1");
    await drained.drain("kept-2");
    try {
      const build = await newBuild(`drained-${unique()}`, "FROM scratch\nCOPY hello.txt /hello.txt\n");
      await assert.rejects(createBuildProcessor({ ...lastAttempt, builders: drained })(build.job, new AbortController().signal));
      assert.equal(fake.checkRun(build.checkRunId)?.conclusion, "failure");
      assert.match(shown(build.checkRunId), /no builder can take the build now: kept-1 and kept-2 are draining/, shown(build.checkRunId));
      assert.doesNotMatch(shown(build.checkRunId), /cannot be reached/);
    } finally {
      await drained.undrain("kept-1");
      await drained.undrain("kept-2");
    }

    // A platform no builder serves: failed for good at the first attempt, naming the platform.
    const narrow = new BuilderPool({ config: poolFile([{ name: "amd-only", address: stack.buildkitdAddr!, platforms: ["linux/amd64"] }]), redis: redisCtx.redis, prefix: `${redisCtx.prefix}:narrow`, connectTimeoutMs: 3_000 });
    const s390x = await newBuild(`s390x-${unique()}`, "FROM scratch\nCOPY hello.txt /hello.txt\n");
    const job = { ...s390x.job, image: { ...s390x.job.image, platforms: ["linux/s390x"] } };
    await assert.rejects(createBuildProcessor({ ...deps, builders: narrow })(job, new AbortController().signal), (err: unknown) => err instanceof BuilderUnservableError);
    assert.equal(fake.checkRun(s390x.checkRunId)?.conclusion, "failure");
    assert.match(shown(s390x.checkRunId), /no builder serves linux\/s390x: add a builder for it to the builders file/, shown(s390x.checkRunId));
  });
});
