/**
 * The worker's own namespace check through the real build processor: a build job edited (in Redis, by anyone) to
 * push or export cache outside its account's namespaces is refused, not trusted: the check run fails saying why,
 * nothing reaches the registry, the job fails without a retry. The namespaces come from the tenants by the job's
 * installation id, whatever owner the job claims.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
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
    const cases: Array<{ what: string; edit: (job: BuildJob, name: string) => void; refused: RegExp }> = [
      {
        what: "tags pointing at another account",
        edit: (job, name) => {
          job.image.tags = [`${stack.registry}/tampered-test/victim/${name}:main`];
        },
        refused: /push .*tampered-test\/victim\//,
      },
      {
        what: "a cache export into another account",
        edit: (job, name) => {
          job.image.cache = { imports: [], export: `${stack.registry}/tampered-test/victim/${name}:buildcache-main` };
        },
        refused: /cache (export|import)|push .*victim/,
      },
      {
        what: "the owner renamed to the victim (the installation id still says acme)",
        edit: (job, name) => {
          job.repository = { ...job.repository, owner: "victim" };
          job.image.tags = [`${stack.registry}/tampered-test/victim/${name}:main`];
        },
        refused: /the job names victim as the owner, but installation 78 belongs to acme/,
      },
    ];
    for (const c of cases) {
      test(`${c.what}: refused before anything is pushed, the check run says why, no retry`, async () => {
        const name = `t-${unique()}`;
        const repo = await fake.createRepo(INSTALLATION, "acme", name, { private: true });
        const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": `${name}\n` });
        const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
        const checkRunId = (data as { id: number }).id;
        const job = buildJob({
          installationId: INSTALLATION,
          repoId: repo.id,
          owner: "acme",
          repo: name,
          private: true,
          cloneUrl: repo.remote,
          sha,
          checkRunId,
          image: { tags: [`${stack.registry}/tampered-test/acme/${name}:main`], push: true },
        });
        c.edit(job, name);
        const refused = c.refused;
        await assert.rejects(processor()(job, new AbortController().signal), (err: unknown) => {
          assert.ok(err instanceof OutsideNamespacesError || err instanceof TenantRefusedError, String(err));
          assert.equal(isTransientError(err), false);
          assert.match(err.message, refused);
          return true;
        });
        const run = fake.checkRun(checkRunId);
        if (job.repository.owner === "acme") {
          assert.equal(run?.conclusion, "failure");
          assert.match(run?.output.summary ?? "", /refused: /);
        } else {
          // The job names the run under the victim's repository, where GitHub refuses the write: the run stays as
          // it was, for the reconciler; and neither the victim's repository nor its check runs were touched.
          assert.equal(run?.status, "queued");
          assert.equal(fake.findCheckRuns({ owner: "victim", repo: name }).length, 0);
        }
        assert.deepEqual(await registryTags(stack.registry, `tampered-test/victim/${name}`), [], "nothing reached the victim's path");
      });
    }
  });
}
