/**
 * Build secrets through the real build processor on both daemons: the operator's secret reaches `RUN
 * --mount=type=secret` through the session's Secrets service when the job lists its id and the tenants file gives
 * it to the repository; an id the job does not list is not served (BuildKit's "secret …: not found", and the check
 * run says which id); a job asking for an id given only to another repository, or a fork's job asking for any, is
 * refused before the daemon is asked; a fork's build mounts nothing. The value never reaches the build log.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { isTransientError } from "../../src/errors/index.js";
import { loadTenants } from "../../src/tenancy/index.js";
import type { LogStore } from "../../src/trail/log-store.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import { UngrantedSecretError } from "../../src/worker/secret-guard.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { startWorkerWorld } from "./worker-world.js";
import type { WorkerWorld } from "./worker-world.js";
import { buildJob, captureLog, unique } from "./worker-test-kit.js";

const stack = testStack();
const INSTALLATION = 91;
const captured = captureLog();
const NPM_TOKEN = `npm-secret-${unique()}-never-logged`;
const OTHER_TOKEN = `other-secret-${unique()}-never-logged`;
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

let fake: FakeGitHub<GitRepo>;
let request: OctokitRequest;
let deps: BuildProcessorDeps;
let logs: LogStore;
let dir: string;

let world: WorkerWorld | undefined;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bkb-build-secrets-"));
  await writeFile(join(dir, "other-token"), `${OTHER_TOKEN}\n`);
  const file = join(dir, "tenants.yml");
  await writeFile(
    file,
    [
      "unlisted_accounts: serve",
      "accounts:",
      "  - login: acme",
      `    installation_id: ${INSTALLATION}`,
      "    build_secrets:",
      "      - id: npm_token",
      "        env: ACME_NPM_TOKEN",
      "      - id: other_token",
      "        file: other-token",
      "        repositories: [someone-else]",
      "",
    ].join("\n"),
  );
  const registry = { prefix: `${stack.registry}/secrets-test`, host: stack.registry };
  world = await startWorkerWorld({
    label: "build-secrets",
    installation: INSTALLATION,
    owner: "acme",
    appId: 4312,
    registry,
    logger: captured.logger,
    extraDeps: () => ({
      buildkitHost: stack.buildkitdAddr ?? stack.buildkitAddr,
      tenants: loadTenants(file, { registry, repoConfigLimits: DEFAULT_CONFIG_LIMITS }, { ACME_NPM_TOKEN: NPM_TOKEN }),
    }),
  });
  ({ fake, request, deps } = world);
  logs = world.trailDeps.logs;
});

after(async () => {
  await world?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Everything the build's log page holds, as one text. */
async function buildLogText(buildId: string): Promise<string> {
  return JSON.stringify(await logs.read(buildId));
}

for (const daemon of testDaemons(stack)) {
  describe(`build secrets on ${daemon.name}`, { skip: daemon.skip, timeout: 300_000 }, () => {
    const processor = (): ReturnType<typeof createBuildProcessor> => createBuildProcessor({ ...deps, buildkitHost: daemon.address });

    async function setUp(dockerfile: string, opts: { private?: boolean } = {}): Promise<{ repo: Awaited<ReturnType<typeof fake.createRepo>>; name: string; sha: string; checkRunId: number }> {
      const name = `s-${unique()}`;
      const repo = await fake.createRepo(INSTALLATION, "acme", name, { private: opts.private ?? true });
      const sha = await repo.commit({ Dockerfile: dockerfile });
      const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
      return { repo, name, sha, checkRunId: (data as { id: number }).id };
    }
    const jobOf = (s: Awaited<ReturnType<typeof setUp>>, extra: { secrets?: string[]; fork?: boolean; private?: boolean }): BuildJob =>
      buildJob({
        installationId: INSTALLATION,
        repoId: s.repo.id,
        owner: "acme",
        repo: s.name,
        private: extra.private ?? true,
        cloneUrl: s.repo.remote,
        sha: s.sha,
        checkRunId: s.checkRunId,
        ...(extra.fork
          ? {
              fork: true,
              gitRef: "refs/pull/5/head",
              pullRequest: { number: 5, headRef: "feature", headSha: s.sha, baseRef: "main", baseSha: s.sha, headRepoFullName: "someone/fork", fork: true },
            }
          : {}),
        image: extra.secrets ? { secrets: extra.secrets } : {},
      });

    test("a granted secret listed by the job is mounted with the operator's value; the log never shows it", async () => {
      const s = await setUp(
        `FROM ${stack.baseImage}\n` +
          `RUN --mount=type=secret,id=npm_token cat /run/secrets/npm_token > /dev/null && test -s /run/secrets/npm_token && test "$(sha256sum < /run/secrets/npm_token | cut -c1-64)" = "${sha256(NPM_TOKEN)}"\n`,
      );
      const job = jobOf(s, { secrets: ["npm_token"] });
      await processor()(job, new AbortController().signal);
      const run = fake.checkRun(s.checkRunId);
      assert.equal(run?.conclusion, "success", run?.output.summary ?? "");
      const text = await buildLogText(job.buildId);
      assert.ok(text.length > 0, "the build wrote a log");
      assert.ok(!text.includes(NPM_TOKEN), "the value is not in the build log");
      assert.ok(!JSON.stringify(job).includes(NPM_TOKEN), "the job carries the id only");
    });

    test("a secret the job does not list is not served: BuildKit says not found and the check run names the id", async () => {
      const s = await setUp(`FROM ${stack.baseImage}\nRUN --mount=type=secret,id=other_token,required=true test -s /run/secrets/other_token\n`);
      const job = jobOf(s, { secrets: ["npm_token"] });
      await assert.rejects(processor()(job, new AbortController().signal));
      const run = fake.checkRun(s.checkRunId);
      assert.equal(run?.conclusion, "failure");
      const said = `${run?.output.summary ?? ""}\n${run?.output.text ?? ""}`;
      // buildkitd: "secret other_token: not found"; the Engine's BuildKit 0.8: "secret other_token not found: not found".
      assert.match(said, /secret other_token:? not found/);
      assert.match(said, /the build secret "other_token" is not granted to this build/);
      assert.ok(!said.includes(OTHER_TOKEN) && !said.includes(NPM_TOKEN));
    });

    test("a job asking for a secret given only to another repository is refused before the daemon is asked", async () => {
      const s = await setUp(`FROM ${stack.baseImage}\nRUN --mount=type=secret,id=other_token test -s /run/secrets/other_token\n`);
      const job = jobOf(s, { secrets: ["other_token"] });
      await assert.rejects(processor()(job, new AbortController().signal), (err: unknown) => {
        assert.ok(err instanceof UngrantedSecretError, String(err));
        assert.equal(isTransientError(err), false);
        assert.match(err.message, new RegExp(`"other_token" is not granted to acme/${s.name}`));
        return true;
      });
      const run = fake.checkRun(s.checkRunId);
      assert.equal(run?.conclusion, "failure");
      assert.match(run?.output.summary ?? "", /"other_token" is not granted/);
      assert.ok(!JSON.stringify(run).includes(OTHER_TOKEN));
    });

    test("a fork's build mounts no secret, and a fork job asking for one is refused", async () => {
      const s = await setUp(`FROM ${stack.baseImage}\nRUN --mount=type=secret,id=npm_token test ! -e /run/secrets/npm_token\n`, { private: false });
      await s.repo.setRef("refs/pull/5/head", s.sha);
      // As the planner queues it: no ids.
      await processor()(jobOf(s, { fork: true, private: false }), new AbortController().signal);
      assert.equal(fake.checkRun(s.checkRunId)?.conclusion, "success", fake.checkRun(s.checkRunId)?.output.summary ?? "");

      const again = await setUp(`FROM ${stack.baseImage}\nRUN --mount=type=secret,id=npm_token test -s /run/secrets/npm_token\n`, { private: false });
      await again.repo.setRef("refs/pull/5/head", again.sha);
      await assert.rejects(processor()(jobOf(again, { fork: true, private: false, secrets: ["npm_token"] }), new AbortController().signal), (err: unknown) => {
        assert.ok(err instanceof UngrantedSecretError, String(err));
        assert.match(err.message, /a fork's pull request gets no build secrets/);
        return true;
      });
      assert.equal(fake.checkRun(again.checkRunId)?.conclusion, "failure");
    });
  });
}
