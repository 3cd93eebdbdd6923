import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import nock from "nock";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import { isTransientError } from "../../src/errors/index.js";
import { generateAppPrivateKey } from "../support/webhooks.js";
import { captureLog } from "./app-test-kit.js";

describe("JobOctokit (Octokit used inside jobs)", () => {
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  async function installationOctokit() {
    nock.disableNetConnect();
    const probot = new Probot({ appId: 1, privateKey: generateAppPrivateKey(), Octokit: JobOctokit, log: captureLog().logger });
    nock("https://api.github.com")
      .post("/app/installations/7/access_tokens")
      .reply(201, { token: "ghs_testtoken", expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {} });
    return probot.auth(7);
  }

  it("does not retry a GitHub 5xx itself: one request, a transient error for BullMQ", async () => {
    const octokit = await installationOctokit();
    const scope = nock("https://api.github.com").post("/repos/acme/widgets/check-runs").once().reply(502, { message: "Bad Gateway" });
    await assert.rejects(
      octokit.request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "widgets", name: "x", head_sha: "a".repeat(40) }),
      (err: unknown) => isTransientError(err) && (err as { status: number }).status === 502,
    );
    assert.ok(scope.isDone());
    assert.deepEqual(nock.pendingMocks(), []);
  });

  it("does not wait out a rate limit: the error comes back at once, with its reset time", async () => {
    const octokit = await installationOctokit();
    const reset = Math.floor(Date.now() / 1000) + 120;
    nock("https://api.github.com")
      .get("/repos/acme/widgets")
      .once()
      .reply(403, { message: "API rate limit exceeded" }, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) });
    await assert.rejects(octokit.request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "widgets" }), (err: unknown) =>
      isTransientError(err),
    );
  });
});
