/**
 * The worker's own namespace check through the real build processor: a build job edited (in Redis, by anyone) to
 * push or export cache outside its account's namespaces is refused, not trusted: nothing reaches the registry, the
 * job fails without a retry, and its check run is completed at once as failed saying why, with the commit status,
 * through a token GitHub confines to the job's one repository. The namespaces come from the tenants by the job's
 * installation id, whatever owner the job claims. A job whose owner is not its installation's account (either may
 * be the forged one) has its run concluded in the repository GitHub says the confined token reaches, in words that
 * name neither account, and a write the job points at another repository of the account is refused by GitHub.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import { statusContext } from "../../src/github/check-run-names.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { isTransientError } from "../../src/errors/index.js";
import { loadTenants, OutsideNamespacesError } from "../../src/tenancy/index.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import { TenantRefusedError } from "../../src/worker/namespace-guard.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { startWorkerWorld } from "./worker-world.js";
import type { WorkerWorld } from "./worker-world.js";
import { buildJob, captureLog, registryTags, unique } from "./worker-test-kit.js";

const stack = testStack();
const INSTALLATION = 78;
const captured = captureLog();

let fake: FakeGitHub<GitRepo>;
let request: OctokitRequest;
let deps: BuildProcessorDeps;
let dir: string;

let world: WorkerWorld | undefined;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bkb-tampered-"));
  const file = join(dir, "tenants.yml");
  // acme is listed by installation id too: a job claiming another owner still gets acme's namespaces.
  await writeFile(file, `unlisted_accounts: serve\naccounts:\n  - login: acme\n    installation_id: ${INSTALLATION}\n`);
  const registry = { prefix: `${stack.registry}/tampered-test`, host: stack.registry };
  world = await startWorkerWorld({
    label: "tampered",
    installation: INSTALLATION,
    owner: "acme",
    appId: 4311,
    registry,
    logger: captured.logger,
    extraDeps: () => ({
      buildkitHost: stack.buildkitdAddr ?? stack.buildkitAddr,
      tenants: loadTenants(file, { registry, repoConfigLimits: DEFAULT_CONFIG_LIMITS }, {}),
      attemptsOf: async () => ({ attemptsMade: 0, attempts: 3 }),
    }),
  });
  ({ fake, request, deps } = world);
});

after(async () => {
  await world?.close();
  await rm(dir, { recursive: true, force: true });
});

for (const daemon of testDaemons(stack)) {
  describe(`a tampered build job on ${daemon.name}`, { skip: daemon.skip, timeout: 300_000 }, () => {
    const processor = (): ReturnType<typeof createBuildProcessor> => createBuildProcessor({ ...deps, buildkitHost: daemon.address });
    /** The job's data as planned: its own repository, its own run; `edit` tampers with it. */
    interface Planned {
      name: string;
      repoId: number;
      sha: string;
      checkRunId: number;
      /** Another repository of the same account, with a run of the bot's on the same commit. */
      neighbour: { name: string; checkRunId: number };
    }
    /**
     * How the job's own run ends: failed saying why, failed in generic words (the job's owner is not its
     * installation's account, so neither is named), or not at all (the write the job points elsewhere is refused by GitHub).
     */
    type Report = "saying why" | "in generic words" | "refused by GitHub";
    const cases: Array<{ what: string; edit: (job: BuildJob, p: Planned) => void; refused: RegExp; report: Report }> = [
      {
        what: "tags pointing at another account",
        edit: (job, p) => {
          job.image.tags = [`${stack.registry}/tampered-test/victim/${p.name}:main`];
        },
        refused: /push .*tampered-test\/victim\//,
        report: "saying why",
      },
      {
        what: "a cache export into another account",
        edit: (job, p) => {
          job.image.cache = { imports: [], export: `${stack.registry}/tampered-test/victim/${p.name}:buildcache-main` };
        },
        refused: /cache (export|import)|push .*victim/,
        report: "saying why",
      },
      {
        // The installation could write there; the token confined to the job's repository (by id) cannot.
        what: "the repository and run renamed to another of the account's (the repository id still the job's)",
        edit: (job, p) => {
          job.repository = { ...job.repository, repo: p.neighbour.name };
          job.checkRunId = p.neighbour.checkRunId;
          job.image.tags = [`${stack.registry}/tampered-test/victim/${p.name}:main`];
        },
        refused: /push .*tampered-test\/victim\//,
        report: "refused by GitHub",
      },
      {
        what: "the owner renamed to the victim (the installation id still says acme)",
        edit: (job, p) => {
          job.repository = { ...job.repository, owner: "victim" };
          job.image.tags = [`${stack.registry}/tampered-test/victim/${p.name}:main`];
        },
        refused: /the job names victim as the owner, but installation 78 belongs to acme/,
        report: "in generic words",
      },
    ];
    for (const c of cases) {
      test(`${c.what}: refused before anything is pushed, ${c.report === "refused by GitHub" ? "nothing written to GitHub" : `the check run completed at once ${c.report}`}, no retry`, async () => {
        const name = `t-${unique()}`;
        const repo = await fake.createRepo(INSTALLATION, "acme", name, { private: true });
        const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": `${name}\n` });
        const runName = "buildkit-bot / app";
        const createRun = async (repoName: string): Promise<number> => {
          const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: repoName, name: runName, head_sha: sha, status: "queued" });
          return (data as { id: number }).id;
        };
        const neighbour = await fake.createRepo(INSTALLATION, "acme", `${name}-n`, { private: true });
        await neighbour.commit({ Dockerfile: "FROM scratch\n" });
        const planned: Planned = { name, repoId: repo.id, sha, checkRunId: await createRun(name), neighbour: { name: `${name}-n`, checkRunId: await createRun(`${name}-n`) } };
        const job = buildJob({
          installationId: INSTALLATION,
          repoId: repo.id,
          owner: "acme",
          repo: name,
          private: true,
          cloneUrl: repo.remote,
          sha,
          checkRunId: planned.checkRunId,
          image: { tags: [`${stack.registry}/tampered-test/acme/${name}:main`], push: true },
        });
        c.edit(job, planned);
        const refused = c.refused;
        const callsBefore = fake.calls.length;
        await assert.rejects(processor()(job, new AbortController().signal), (err: unknown) => {
          assert.ok(err instanceof OutsideNamespacesError || err instanceof TenantRefusedError, String(err));
          assert.equal(isTransientError(err), false);
          assert.match(err.message, refused);
          return true;
        });
        const calls = fake.calls.slice(callsBefore);
        const writes = calls.filter((k) => k.method !== "GET" && !k.path.endsWith("/access_tokens"));
        const context = statusContext(job.image.name);
        const run = fake.checkRun(planned.checkRunId);
        // Every token asked for the report (checks, statuses): one, confined to the job's repository.
        const reportMints = calls.filter((k) => k.path.endsWith("/access_tokens") && (k.body as { permissions?: { checks?: unknown } } | undefined)?.permissions?.checks !== undefined);
        assert.deepEqual(
          reportMints.map((k) => ({ status: k.status, body: k.body })),
          [{ status: 201, body: { repository_ids: [repo.id], permissions: { checks: "write", statuses: "write" } } }],
          "exactly one token for the report, confined to the job's repository",
        );
        if (c.report === "saying why") {
          // Completed right after the refusal, not left for a sweep: failed, saying it was refused and why.
          assert.equal(run?.status, "completed");
          assert.equal(run?.conclusion, "failure");
          assert.equal(run?.output.title, "Build failed");
          assert.match(run?.output.summary ?? "", /refused: this build would reach outside the namespaces of acme \(/);
          assert.match(run?.output.summary ?? "", refused);
          const status = fake.latestStatus("acme", name, sha, context);
          assert.equal(status?.state, "failure");
          assert.match(status?.description ?? "", /^Failed: refused: /);
          assert.deepEqual(
            writes.map((k) => `${k.method} ${k.path} ${k.status}`),
            [`PATCH /repos/acme/${name}/check-runs/${planned.checkRunId} 200`, `POST /repos/acme/${name}/statuses/${sha} 201`],
          );
          const shown = JSON.stringify([run?.output, status]);
          for (const token of fake.tokens.keys()) assert.ok(!shown.includes(token), "no token in the report");
        } else if (c.report === "in generic words") {
          // Owner and installation disagree, so either may be forged: GitHub says which repository the confined
          // token reaches (the job's own, by id), and the run and status are concluded there naming neither account.
          assert.ok(calls.some((k) => k.method === "GET" && k.path === "/installation/repositories" && k.status === 200), "the token's repository asked of GitHub");
          assert.equal(run?.status, "completed");
          assert.equal(run?.conclusion, "failure");
          assert.equal(run?.output.title, "Build failed");
          assert.match(run?.output.summary ?? "", /> refused: this build job's data does not match its installation$/m);
          assert.equal(run?.details_url, null, "no link to the log page, which shows the job's own words");
          const status = fake.latestStatus("acme", name, sha, context);
          assert.equal(status?.state, "failure");
          assert.equal(status?.description, "Failed: refused: this build job's data does not match its installation");
          assert.equal(status?.target_url, null);
          const shown = JSON.stringify([run, status]);
          assert.doesNotMatch(shown, /victim/i, "nothing of the other account in what the installation's repository shows");
          for (const token of fake.tokens.keys()) assert.ok(!shown.includes(token), "no token in the report");
          assert.deepEqual(
            writes.map((k) => `${k.method} ${k.path} ${k.status}`),
            [`PATCH /repos/acme/${name}/check-runs/${planned.checkRunId} 200`, `POST /repos/acme/${name}/statuses/${sha} 201`],
          );
          assert.deepEqual(
            writes.filter((k) => k.path.startsWith("/repos/victim/")),
            [],
            "no write under the other account",
          );
        } else {
          assert.equal(run?.status, "queued", "the job's own run is not written to");
          assert.deepEqual(run?.updates.length, 1, "only its creation");
          assert.deepEqual(fake.statusHistory("acme", name, sha), []);
          // The write the job pointed at the neighbour's run was refused by GitHub, as the token cannot reach it.
          assert.deepEqual(
            writes.map((k) => `${k.method} ${k.path} ${k.status}`),
            [`PATCH /repos/acme/${name}-n/check-runs/${planned.neighbour.checkRunId} 404`],
          );
        }
        const other = fake.checkRun(planned.neighbour.checkRunId);
        assert.equal(other?.status, "queued", "the neighbour's run untouched");
        assert.equal(other?.updates.length, 1);
        assert.deepEqual(fake.statusHistory("acme", `${name}-n`, sha), []);
        assert.equal(fake.findCheckRuns({ owner: "victim" }).length, 0);
        assert.deepEqual(await registryTags(stack.registry, `tampered-test/victim/${name}`), [], "nothing reached the victim's path");
      });
    }

    test("the owner renamed, and GitHub fails the look-up of the token's repository: nothing written anywhere, a warning with ids and the HTTP status only", async () => {
      const name = `t-${unique()}`;
      const repo = await fake.createRepo(INSTALLATION, "acme", name, { private: true });
      const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": `${name}\n` });
      const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
      const checkRunId = (data as { id: number }).id;
      const job = buildJob({ installationId: INSTALLATION, repoId: repo.id, owner: "victim", repo: name, private: true, cloneUrl: repo.remote, sha, checkRunId, image: { tags: [`${stack.registry}/tampered-test/victim/${name}:main`], push: true } });
      fake.failNext("GET", "/installation/repositories", 502);
      const callsBefore = fake.calls.length;
      const logBefore = captured.text().length;

      await assert.rejects(processor()(job, new AbortController().signal), (err: unknown) => err instanceof TenantRefusedError && !isTransientError(err));

      const calls = fake.calls.slice(callsBefore);
      assert.ok(calls.some((k) => k.method === "GET" && k.path === "/installation/repositories" && k.status === 502), "the look-up was tried and failed");
      assert.deepEqual(
        calls.filter((k) => k.method !== "GET" && !k.path.endsWith("/access_tokens")).map((k) => `${k.method} ${k.path}`),
        [],
        "no write: neither where the job points nor in the installation's repository",
      );
      const run = fake.checkRun(checkRunId);
      assert.equal(run?.status, "queued");
      assert.equal(run?.updates.length, 1, "only its creation");
      assert.deepEqual(fake.statusHistory("acme", name, sha), []);
      const warning = captured
        .text()
        .slice(logBefore)
        .split("\n")
        .find((line) => line.includes("refused build job: nothing written to GitHub"));
      assert.ok(warning, "the refusal that reached nobody is logged");
      const fields = JSON.parse(warning) as Record<string, unknown>;
      assert.equal(fields.buildId, job.buildId);
      assert.equal(fields.repoId, repo.id);
      assert.equal(fields.why, "the repository the token reaches could not be looked up (HTTP 502)");
      for (const token of fake.tokens.keys()) assert.ok(!warning.includes(token), "no token in the warning");
    });
  });
}
