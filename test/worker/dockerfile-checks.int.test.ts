import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DockerfileChecksFailedError } from "../../src/buildkit/errors.js";
import type { RegistryConfig } from "../../src/app/app-config.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { buildkitdDaemon, engineDaemon } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { startWorkerWorld } from "./worker-world.js";
import type { WorkerWorld } from "./worker-world.js";
import { buildJob, captureLog, registryTags, unique } from "./worker-test-kit.js";

/**
 * Dockerfile build checks on real daemons: buildkitd v0.24 streams each finding as a `StatusResponse.warnings`
 * entry, which becomes a warning annotation on its line; `checks.fail_on: warning` fails the build before export.
 * The Engine 20.10 (BuildKit 0.8) runs no checks, and says so when the config asks for them.
 */
const stack = testStack();
const INSTALLATION = 78;
const OWNER = "lint";
const captured = captureLog();

let fake: FakeGitHub<GitRepo>;
let request: OctokitRequest;
let deps: BuildProcessorDeps;
const registry: RegistryConfig = { prefix: `${stack.registry}/checks-test`, host: stack.registry };

// Line 1: `FROM … as base` (FromAsCasing); line 3: `ENV greeting hello` (LegacyKeyValueFormat), in a subdirectory's Dockerfile.
const DOCKERFILE = (name: string): string => `FROM ${stack.baseImage} as base\nRUN echo ${name} > /name.txt\nENV greeting hello\nCOPY x.txt /x.txt\n`;

let world: WorkerWorld | undefined;
before(async () => {
  world = await startWorkerWorld({
    label: "checks",
    installation: INSTALLATION,
    owner: OWNER,
    appId: 4302,
    registry,
    logger: captured.logger,
    progressIntervalMs: 1_000,
  });
  ({ fake, request, deps } = world);
});
after(async () => {
  await world?.close();
});

async function setUp(prefix: string, checksFailOn?: "warning"): Promise<{ name: string; sha: string; checkRunId: number; job: BuildJob }> {
  const name = `${prefix}-${unique()}`;
  const repo = await fake.createRepo(INSTALLATION, OWNER, name, { private: true });
  const sha = await repo.commit({ "services/api/Dockerfile": DOCKERFILE(name), "services/api/x.txt": "x\n" });
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  const checkRunId = (data as { id: number }).id;
  const job = buildJob({
    installationId: INSTALLATION,
    repoId: repo.id,
    owner: OWNER,
    repo: name,
    private: true,
    cloneUrl: repo.remote,
    sha,
    checkRunId,
    image: {
      context: "services/api",
      dockerfile: "services/api/Dockerfile",
      tags: [`${registry.prefix}/${OWNER}/${name}:main`],
      push: true,
      ...(checksFailOn ? { checksFailOn } : {}),
    },
  });
  return { name, sha, checkRunId, job };
}

describe("Dockerfile build checks on buildkitd", { skip: buildkitdDaemon(stack).skip, timeout: 600_000 }, () => {
  const processor = (): ReturnType<typeof createBuildProcessor> => createBuildProcessor({ ...deps, buildkitHost: buildkitdDaemon(stack).address });

  test("findings are warning annotations on their lines, with the rule and its documentation; the build still passes and pushes", { timeout: 300_000 }, async () => {
    const { name, checkRunId, job } = await setUp("lint-ok");

    await processor()(job, new AbortController().signal);

    const run = fake.checkRun(checkRunId);
    assert.equal(run?.conclusion, "success");
    const byRule = new Map(run.annotations.map((a) => [/^Dockerfile check: (\w+)$/.exec(a.title ?? "")?.[1], a]));
    const casing = byRule.get("FromAsCasing");
    assert.ok(casing, `a FromAsCasing annotation (got ${JSON.stringify(run.annotations)})`);
    assert.equal(casing.path, "services/api/Dockerfile", "the path from the repository root");
    assert.equal(casing.start_line, 1);
    assert.equal(casing.annotation_level, "warning");
    assert.match(casing.message, /^FromAsCasing: .*casing do not match/);
    assert.match(casing.message, /https:\/\/docs\.docker\.com\/\S*from-as-casing/, "the rule's documentation");
    const legacy = byRule.get("LegacyKeyValueFormat");
    assert.ok(legacy, "a LegacyKeyValueFormat annotation");
    assert.equal(legacy.start_line, 3);
    assert.match(legacy.message, /https:\/\/docs\.docker\.com\/\S*legacy-key-value-format/);
    assert.equal(run.annotations.length, new Set(run.annotations.map((a) => `${a.title}:${a.start_line}`)).size, "each finding once");

    const summary = run.output.summary ?? "";
    assert.match(summary, new RegExp(`\\*\\*Dockerfile checks:\\*\\* ${run.annotations.length} findings`), summary);
    assert.match(summary, /\| \[FromAsCasing\]\(https:\/\/docs\.docker\.com\/\S+\) \| `services\/api\/Dockerfile:1` \|/);
    assert.match(run.output.title ?? "", new RegExp(`, ${run.annotations.length} Dockerfile check warnings$`));
    assert.deepEqual(await registryTags(stack.registry, `checks-test/${OWNER}/${name}`), ["main"], "pushed: fail_on is none");
  });

  test("fail_on: warning fails the build before export: conclusion failure with the annotations, nothing pushed", { timeout: 300_000 }, async () => {
    const { name, sha, checkRunId, job } = await setUp("lint-fail", "warning");

    await assert.rejects(processor()(job, new AbortController().signal), (err: unknown) => {
      assert.ok(err instanceof DockerfileChecksFailedError, String(err));
      assert.ok(err.rules.includes("FromAsCasing") && err.rules.includes("LegacyKeyValueFormat"), err.rules.join(", "));
      return true;
    });

    const run = fake.checkRun(checkRunId);
    assert.equal(run?.conclusion, "failure");
    const summary = run.output.summary ?? "";
    const headline = /build checks found violations of ([A-Za-z, ]+); with BUILDKIT_DOCKERFILE_CHECK error=true any finding fails the build/.exec(summary);
    assert.deepEqual(headline?.[1]?.split(", ").sort(), ["FromAsCasing", "LegacyKeyValueFormat"], summary);
    assert.doesNotMatch(summary, /failed to solve/, "the daemon's wording is not the headline");
    const rules = run.annotations.map((a) => /^Dockerfile check: (\w+)$/.exec(a.title ?? "")?.[1]);
    assert.ok(rules.includes("FromAsCasing") && rules.includes("LegacyKeyValueFormat"), `the findings are annotated (got ${JSON.stringify(run.annotations)})`);
    assert.ok(run.annotations.every((a) => a.path === "services/api/Dockerfile" && a.annotation_level === "warning"));
    assert.equal(fake.latestStatus(OWNER, name, sha, "buildkit-bot/app")?.state, "failure");
    assert.deepEqual(await registryTags(stack.registry, `checks-test/${OWNER}/${name}`), [], "nothing pushed");
  });
});

describe("Dockerfile build checks on the Docker Engine 20.10 (BuildKit 0.8 runs none)", { skip: engineDaemon(stack).skip, timeout: 600_000 }, () => {
  const processor = (): ReturnType<typeof createBuildProcessor> => createBuildProcessor({ ...deps, buildkitHost: engineDaemon(stack).address });

  test("fail_on: warning: the build passes, and the check run says once that the checks need a newer BuildKit", { timeout: 300_000 }, async () => {
    const { name, checkRunId, job } = await setUp("engine-fail-on", "warning");

    await processor()(job, new AbortController().signal);

    const run = fake.checkRun(checkRunId);
    assert.equal(run?.conclusion, "success");
    const summary = run.output.summary ?? "";
    const said = summary.match(/Dockerfile build checks need BuildKit v0\.14 or newer; this builder runs BuildKit v0\.8[^ ]* \(docker-engine\), so `checks\.fail_on: warning` was not applied/g);
    assert.equal(said?.length, 1, summary);
    assert.deepEqual(run.annotations, [], "no findings on BuildKit 0.8");
    assert.deepEqual(await registryTags(stack.registry, `checks-test/${OWNER}/${name}`), ["main"]);
  });

  test("fail_on: none (the default): nothing is said about checks", { timeout: 300_000 }, async () => {
    const { checkRunId, job } = await setUp("engine-default");

    await processor()(job, new AbortController().signal);

    const run = fake.checkRun(checkRunId);
    assert.equal(run?.conclusion, "success");
    assert.doesNotMatch(run.output.summary ?? "", /Dockerfile (build )?checks/);
  });
});
