/**
 * A builder whose kept clone of a repository is damaged, on each daemon for real: a fresh daemon of the kind (so the
 * test knows where its storage is) builds a commit, the test overwrites one blob of the daemon's clone of the remote
 * with garbage, and the next commit (which reuses that blob) fails to check out. The failure is told apart from a
 * refused token (the token is kept), the builder's clone is deleted through the Control API, and the retry clones
 * afresh and builds.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, readFile, readdir, realpath, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BuildKitClient, GitCloneRefusedError } from "../../src/buildkit/index.js";
import type { RegistryConfig } from "../../src/app/app-config.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { isTransientError } from "../../src/errors/index.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import { GitCloneDamagedError } from "../../src/worker/damaged-git-clone.js";
import { InstallationTokenCache } from "../../src/worker/token-cache.js";
import { InstallationAccounts } from "../../src/worker/installation-accounts.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { freshDaemonSkip, startFreshDaemon, testDaemons } from "../support/daemons.js";
import type { FreshDaemon } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { startWorkerWorld } from "./worker-world.js";
import type { WorkerWorld } from "./worker-world.js";
import { buildJob, captureLog, repositoryTokens, unique } from "./worker-test-kit.js";
import { eventually } from "../e2e/support/wait.js";

const stack = testStack();
const INSTALLATION = 79;
const OWNER = "clones";
const captured = captureLog();
const registry: RegistryConfig = { prefix: `${stack.registry}/clone-test`, host: stack.registry };

let world: WorkerWorld | undefined;
let fake: FakeGitHub<GitRepo>;
let request: OctokitRequest;
let deps: Omit<BuildProcessorDeps, "buildkitHost">;
before(async () => {
  world = await startWorkerWorld({ label: "worker-clones", installation: INSTALLATION, owner: OWNER, appId: 4313, registry, logger: captured.logger });
  ({ fake, request, deps } = world);
});
after(async () => {
  await world?.close();
});

/** The bare repositories under `root` whose `config` names `remote`: the daemon's clones of it (each once). */
async function clonesOf(root: string, remote: string): Promise<string[]> {
  const found = new Set<string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name !== "config") continue;
    const text = await readFile(join(entry.parentPath, "config"), "utf8").catch(() => "");
    // The Engine's overlay2 also reaches each layer through a short link (overlay2/l/…).
    if (text.includes(`url = ${remote}`)) found.add(await realpath(entry.parentPath));
  }
  return [...found];
}

/** Overwrites the loose object of `content`'s blob in `clone` with bytes git cannot inflate. */
async function garbleBlob(clone: string, content: string): Promise<void> {
  const id = execFileSync("git", ["hash-object", "--stdin"], { input: content }).toString().trim();
  const path = join(clone, "objects", id.slice(0, 2), id.slice(2));
  await chmod(path, 0o644);
  await writeFile(path, "not a git object");
}

/** The daemon's cache records of its clones of `remote`. */
async function sharedClones(client: BuildKitClient, remote: string): Promise<Array<{ ID: string; InUse: boolean }>> {
  const records = await new Promise<Array<{ ID: string; Description: string; InUse: boolean }>>((resolve, reject) =>
    client.control.DiskUsage({ filter: [] }, (err, res) => (err ? reject(err) : resolve(res?.record ?? []))),
  );
  return records.filter((r) => r.Description === `shared git repo for ${remote}`);
}

for (const daemon of testDaemons(stack)) {
  describe(`a damaged clone of the repository on a fresh ${daemon.name}`, { skip: daemon.skip || freshDaemonSkip(daemon, stack), timeout: 600_000 }, () => {
    let dir: string;
    let fresh: FreshDaemon | undefined;
    let client: BuildKitClient | undefined;
    const tokens = new InstallationTokenCache();
    const accounts = new InstallationAccounts();
    before(async () => {
      dir = await mkdtemp("/tmp/bkb-clone-");
      fresh = await startFreshDaemon(daemon, dir, stack);
      client = await BuildKitClient.connect(fresh.address);
    });
    after(async () => {
      await client?.close();
      await fresh?.stop();
      await rm(dir, { recursive: true, force: true });
    });
    const storage = (): string => join(dir, daemon.kind === "docker-engine" ? "data" : "root");

    test("the failure says the clone is damaged, the clone is deleted and the retry builds with the same token", { timeout: 300_000 }, async () => {
      const repo = await fake.createRepo(INSTALLATION, OWNER, `damaged-${unique()}`);
      const name = repo.fullName.split("/")[1]!;
      const readme = `kept across commits ${unique()}\n`;
      const build = async (sha: string) => {
        const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
        const runId = (data as { id: number }).id;
        const job = buildJob({ installationId: INSTALLATION, repoId: repo.id, owner: OWNER, repo: name, private: true, cloneUrl: repo.remote, sha, checkRunId: runId });
        const run = (attemptsMade: number) =>
          createBuildProcessor({ ...deps, buildkitHost: fresh!.address, tokens, accounts, attemptsOf: async () => ({ attemptsMade, attempts: 3 }) })(job, new AbortController().signal);
        return { runId, run };
      };

      const first = await build(await repo.commit({ Dockerfile: "FROM scratch\nCOPY README.md /a\n", "README.md": readme }));
      await first.run(0);
      assert.equal(fake.checkRun(first.runId)?.conclusion, "success");
      // A build that finds the clone still held (the last build's release is not awaited) clones afresh beside it;
      // the Engine keeps two, one for the Dockerfile's read and one for the context. All of them are garbled.
      await eventually(async () => (await sharedClones(client!, repo.remote)).every((r) => !r.InUse) || undefined, "the daemon to let go of its clones");
      const clones = await clonesOf(storage(), repo.remote);
      assert.equal(clones.length, (await sharedClones(client!, repo.remote)).length, `every kept clone of ${repo.remote} under ${storage()}`);
      assert.ok(clones.length > 0);
      for (const clone of clones) await garbleBlob(clone, readme);

      // The next commit keeps README.md: the daemon fetches only what its clone lacks and reads the garbled blob.
      const second = await build(await repo.commit({ Dockerfile: "FROM scratch\nCOPY README.md /b\n" }));
      await assert.rejects(second.run(0), (err: unknown) => {
        assert.ok(err instanceof GitCloneDamagedError, `a damaged clone, got ${String(err)}`);
        assert.equal(isTransientError(err), true, "the attempt is retried");
        assert.ok(err.deleted.length > 0, "the daemon's clone records were deleted");
        assert.ok(err.cause instanceof GitCloneRefusedError && err.cause.failure === "damaged-cache", String(err.cause));
        return true;
      });
      assert.equal(fake.checkRun(second.runId)?.status, "queued", "the check run waits for the retry");
      assert.deepEqual(await sharedClones(client!, repo.remote), [], "the daemon keeps no clone of the remote any more");
      assert.deepEqual(await clonesOf(storage(), repo.remote), [], "and its files are gone");
      assert.ok(captured.text().includes("deleted a builder's damaged clone of the repository"));

      await second.run(1);
      const run = fake.checkRun(second.runId);
      assert.equal(run?.conclusion, "success", `${run?.output?.title}\n${run?.output?.summary}`);
      assert.match(run?.output?.summary ?? "", /2 attempts; the builder's clone of the repository was damaged once/);
      const minted = repositoryTokens(fake, repo.id);
      assert.equal(minted.length, 1, "the token was not blamed: all three attempts used the one minted");
    });

    test("forgetting a remote the daemon never cloned deletes nothing", { timeout: 60_000 }, async () => {
      assert.deepEqual(await client!.forgetGitRemote(`http://127.0.0.1:1/${OWNER}/never-${unique()}.git`), []);
      await assert.rejects(client!.forgetGitRemote("http://x-access-token:t@127.0.0.1:1/o/r.git"), /must not carry credentials/);
    });
  });
}
