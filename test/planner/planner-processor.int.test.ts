import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import nock from "nock";
import { Probot, ProbotOctokit } from "probot";
import { plannerProcessor } from "../../src/planner/planner-processor.js";
import type { BuildJobInput } from "../../src/queue/build-queue.js";
import type { BuildJob, EventJob } from "../../src/queue/job-types.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { API, contentsBody, nockGitHub } from "./github-nock.js";
import { CheckRunHandoff } from "../../src/queue/check-run-handoff.js";

const gh = nockGitHub();
let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
before(async () => {
  redisCtx = await redisForTest("planner-processor");
});
afterEach(() => gh.assertAllUsed());
after(async () => {
  gh.restore();
  await redisCtx.cleanup();
});

const SHA = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";

test("the processor plans with the installation's Probot Octokit", async () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const probot = new Probot({
    appId: 123,
    privateKey: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
  });
  const token = "ghs_installationtokenfortests0000000000";
  let authHeader = "";
  nock(API).post("/app/installations/55/access_tokens").reply(201, { token, expires_at: "2099-01-01T00:00:00Z" });
  nock(API)
    .get("/repos/acme/tool/contents/.github%2Fbuildkit-bot.yml")
    .query({ ref: SHA })
    .reply(function () {
      authHeader = String(this.req.headers.authorization);
      return [200, contentsBody(".github/buildkit-bot.yml", "images:\n  - name: cli\n")];
    });
  let created: Record<string, unknown> = {};
  nock(API)
    .post("/repos/acme/tool/check-runs", (b: Record<string, unknown>) => ((created = b), true))
    .reply(201, { id: 4242 });

  const builds: BuildJobInput[] = [];
  const process = plannerProcessor({
    probot,
    redis: redisCtx.redis,
    enqueueBuild: async (job) => {
      builds.push(job);
      return { ...job, buildId: "bld-test", attempt: 1, queuedAt: "2026-11-23T08:00:00.000Z" } as BuildJob;
    },
    withdrawBuild: async () => assert.fail("nothing to withdraw"),
    config: { registry: { prefix: "127.0.0.1:5000" } },
    keyPrefix: redisCtx.prefix,
  });
  const job: EventJob = {
    deliveryId: "processor-1",
    event: "push",
    reason: "push",
    repository: {
      installationId: 55,
      repoId: 66,
      owner: "acme",
      repo: "tool",
      private: false,
      defaultBranch: "main",
      cloneUrl: "https://github.com/acme/tool.git",
    },
    sha: SHA,
    ref: "refs/heads/dev",
    before: "0".repeat(40),
    receivedAt: "2026-11-23T08:00:00.000Z",
  };
  await process(job, new AbortController().signal);

  assert.equal(authHeader.toLowerCase(), `token ${token}`);
  assert.equal(created.name, "buildkit-bot / cli");
  assert.equal(builds.length, 1);
  assert.deepEqual(await new CheckRunHandoff(redisCtx.redis, redisCtx.prefix).read("bld-test"), { kind: "created", checkRunId: 4242 });
  // Owner-scoped: `<prefix>/<owner>/<repo>`.
  assert.deepEqual(builds[0]!.image.tags, ["127.0.0.1:5000/acme/tool:dev", "127.0.0.1:5000/acme/tool:sha-abcdefa"]);
});
