import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { buildkitdDaemon } from "../support/daemons.js";
import { startBuildkitd } from "../support/stack/buildkitd.js";
import type { BuildkitdInstance } from "../support/stack/buildkitd.js";
import { testStack } from "../support/stack/env.js";
import { startE2E } from "./support/e2e-harness.js";
import type { E2E } from "./support/e2e-harness.js";
import { listTags } from "./support/registry-api.js";
import { cachedSteps, instructionSteps, logPage, showSteps, steps } from "./support/log-page.js";
import { pathComponent } from "../../src/tenancy/index.js";

/**
 * Issue 13: the cache fallback chain, warm. The base branch (main) builds on the stack's buildkitd and exports its
 * registry cache; then a new pull request's first build runs on a second, freshly started buildkitd that has
 * never seen the repository. The planner lists the new branch's own cache (absent: a same-repository PR is planned
 * as its head branch), then the base branch's: the PR build imports main's cache from the registry, and its RUN
 * steps come out cached.
 */

const TIMEOUT = 300_000;
const run = promisify(execFile);

/** What `buildctl du` lists: the daemon's cache records (buildctl ships beside buildkitd). */
async function cacheRecords(buildkitd: string, address: string): Promise<string[]> {
  const { stdout } = await run(join(dirname(buildkitd), "buildctl"), ["--addr", address, "du", "--format", "json"]);
  return ((JSON.parse(stdout) as Array<{ description?: string }> | null) ?? []).map((r) => r.description ?? "?");
}
const daemon = buildkitdDaemon();
const binary = testStack().buildkitdBinary;
const skip = daemon.skip || (binary ? false : "needs the buildkitd binary (BKB_TEST_BUILDKITD_BIN) to start a fresh daemon");

describe("e2e: a pull request's first build on a fresh buildkitd starts from its base branch's registry cache", { skip, timeout: 900_000 }, () => {
  let e2e: E2E;
  let fresh: BuildkitdInstance | undefined;
  let freshDir: string | undefined;

  before(async () => {
    e2e = await startE2E({ name: "warm-cache", daemon, roles: "split" });
  });

  after(async () => {
    await e2e?.close();
    await fresh?.stop();
    if (freshDir) await rm(freshDir, { recursive: true, force: true });
  });

  it("main exports buildcache-main; PR #5's first build (branch topic) on a fresh daemon imports it and its RUN steps are cached", { timeout: 600_000 }, async () => {
    const stamp = randomBytes(6).toString("hex");
    const repo = await e2e.createRepo("warm", { "README.md": "hi\n" });
    const repository = `${e2e.registryPrefix.slice(e2e.registry.addr.length + 1)}/${pathComponent(e2e.owner)}/warm`;
    const dockerfile = `FROM ${e2e.stack.baseImage}\nRUN echo ${stamp} > /a && sleep 1\nRUN cat /a /a > /b\nCOPY README.md /readme\n`;

    // 1. The base branch builds on the stack's daemon: every instruction runs, and its cache goes to the registry.
    const main = await e2e.push(repo, { Dockerfile: dockerfile });
    const mainRun = await e2e.completedCheckRun(repo, main.sha, "buildkit-bot / warm", TIMEOUT);
    assert.equal(mainRun.conclusion, "success", `${mainRun.output.title}\n${mainRun.output.summary}\n${mainRun.output.text ?? ""}`);
    const mainSteps = instructionSteps(steps(await logPage(mainRun)));
    assert.deepEqual(mainSteps.map((s) => s.status), ["done", "done", "done"], `the base branch built from nothing:\n${showSteps(mainSteps)}`);
    assert.ok((await listTags(e2e.registry.addr, repository)).includes("buildcache-main"), "main's registry cache was exported");

    // 2. A builder that has never seen the repository: a new buildkitd with an empty state root.
    const binaryPath = binary as string;
    // Outside the e2e dir: the daemon's mounts must be gone before its dir is removed.
    freshDir = await mkdtemp(join(tmpdir(), "bkb-fresh-bkd-"));
    fresh = await startBuildkitd({ dir: freshDir, binary: binaryPath });
    assert.deepEqual(await cacheRecords(binaryPath, fresh.address), [], "the fresh daemon holds no cache record");
    await e2e.restartWorker({ BUILDKIT_HOST: fresh.address });

    // 3. A new pull request from a new branch whose commit leaves the Dockerfile and what it copies alone.
    await repo.git.setRef("refs/heads/topic", main.sha);
    const head = await e2e.commit(repo, { "NOTES.md": `notes ${stamp}\n` }, { branch: "topic" });
    await repo.git.setRef("refs/pull/5/head", head);
    e2e.github.setPullRequest(repo.owner, repo.name, 5, { base: main.sha, head });
    await e2e.pullRequest(repo, { action: "opened", number: 5, head: { ref: "topic", sha: head }, base: { ref: "main", sha: main.sha } });

    const prRun = await e2e.completedCheckRun(repo, head, "buildkit-bot / warm", TIMEOUT);
    assert.equal(prRun.conclusion, "success", `${prRun.output.title}\n${prRun.output.summary}\n${prRun.output.text ?? ""}`);
    const build = (await e2e.buildJobs()).find((b) => b.repository.repoId === repo.repoId && b.sha === head);
    assert.ok(build, "the pull request's build job");
    const cacheTag = (tag: string): string => `${e2e.registryPrefix}/${pathComponent(e2e.owner)}/warm:${tag}`;
    assert.deepEqual(build.image.cache.imports, [cacheTag("buildcache-topic"), cacheTag("buildcache-main")], "the branch's own cache first, then its base branch's");
    assert.equal(build.image.cache.export, cacheTag("buildcache-topic"));

    const page = await logPage(prRun);
    assert.ok(page.includes(`daemon: ${fresh.address}`), `the PR built on the fresh daemon (${fresh.address})`);
    const allSteps = steps(page);
    assert.ok(
      allSteps.some((s) => s.name === `importing cache manifest from ${cacheTag("buildcache-main")}`),
      `the daemon read main's cache manifest from the registry:\n${showSteps(allSteps)}`,
    );
    const prSteps = instructionSteps(allSteps);
    assert.deepEqual(prSteps.map((s) => s.status), ["cached", "cached", "cached"], `every instruction came from main's registry cache:\n${showSteps(prSteps)}`);
    assert.ok(cachedSteps(prRun) >= 3, `the check run counts the cached steps:\n${prRun.output.summary}`);
    assert.ok((await listTags(e2e.registry.addr, repository)).includes("buildcache-topic"), "the branch's own cache is exported for its next build");
  });
});
