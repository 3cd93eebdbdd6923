import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import nock from "nock";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import { metricsRegistry } from "../../src/metrics/index.js";
import { parseMetrics, sampleSum } from "../support/metrics-text.js";
import type { MetricSample } from "../support/metrics-text.js";
import { generateAppPrivateKey } from "../support/webhooks.js";
import { captureLog } from "../app/app-test-kit.js";

/** Every request of the app's Octokit is counted by method and answer, its writes apart, and GitHub's rate-limit refusals by kind. */
describe("GitHub request metrics (JobOctokit)", () => {
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  const now = async (): Promise<MetricSample[]> => parseMetrics(await metricsRegistry.metrics());
  const moved = (after: MetricSample[], before: MetricSample[], name: string, labels: Record<string, string>): number => sampleSum(after, name, labels) - sampleSum(before, name, labels);

  it("counts reads, writes, their answers, and secondary and primary rate-limit refusals; never a URL", async () => {
    nock.disableNetConnect();
    const probot = new Probot({ appId: 1, privateKey: generateAppPrivateKey(), Octokit: JobOctokit, log: captureLog().logger });
    nock("https://api.github.com")
      .post("/app/installations/7/access_tokens")
      .reply(201, { token: "ghs_testtoken", expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {} });
    const octokit = await probot.auth(7);
    const before = await now();
    const api = nock("https://api.github.com");
    // The installation token is minted on the first request: a POST, not counted as a write.
    api.get("/repos/acme/widgets").reply(200, { id: 1 });
    api.post("/repos/acme/widgets/check-runs").reply(201, { id: 2 });
    // A secondary limit: every write of the app pauses for Retry-After.
    api.patch("/repos/acme/widgets/check-runs/2").reply(403, { message: "You have exceeded a secondary rate limit" }, { "retry-after": "30" });
    api.post("/repos/acme/widgets/statuses/" + "a".repeat(40)).reply(429, { message: "Too many requests" });
    // A primary limit: one installation's hourly budget.
    api.get("/repos/acme/widgets/contents/x").reply(403, { message: "API rate limit exceeded" }, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 60) });
    api.get("/repos/acme/widgets/contents/y").reply(404, { message: "Not Found" });

    await octokit.request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "widgets" });
    await octokit.request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "widgets", name: "x", head_sha: "a".repeat(40) });
    const fails = [
      octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{id}", { owner: "acme", repo: "widgets", id: 2, status: "completed" }),
      octokit.request("POST /repos/{owner}/{repo}/statuses/{sha}", { owner: "acme", repo: "widgets", sha: "a".repeat(40), state: "success" }),
      octokit.request("GET /repos/{owner}/{repo}/contents/{path}", { owner: "acme", repo: "widgets", path: "x" }),
      octokit.request("GET /repos/{owner}/{repo}/contents/{path}", { owner: "acme", repo: "widgets", path: "y" }),
    ];
    for (const f of fails) await assert.rejects(f);
    assert.deepEqual(nock.pendingMocks(), []);

    const after = await now();
    const requests = "buildkit_bot_github_requests_total";
    assert.equal(moved(after, before, requests, { method: "GET", status: "2xx" }), 1);
    assert.equal(moved(after, before, requests, { method: "GET", status: "4xx" }), 2);
    assert.equal(moved(after, before, requests, { method: "POST", status: "2xx" }), 2, "the token mint and the check run");
    assert.equal(moved(after, before, requests, { method: "POST", status: "4xx" }), 1);
    assert.equal(moved(after, before, requests, { method: "PATCH", status: "4xx" }), 1);
    assert.equal(moved(after, before, "buildkit_bot_github_writes_total", { status: "2xx" }), 1);
    assert.equal(moved(after, before, "buildkit_bot_github_writes_total", { status: "4xx" }), 2);
    assert.equal(moved(after, before, "buildkit_bot_github_rate_limited_total", { limit: "secondary" }), 2);
    assert.equal(moved(after, before, "buildkit_bot_github_rate_limited_total", { limit: "primary" }), 1);
    const text = await metricsRegistry.metrics();
    assert.ok(!text.includes("acme") && !text.includes("widgets") && !text.includes("ghs_"), "no owner, repository or token in the metrics");
  });
});
