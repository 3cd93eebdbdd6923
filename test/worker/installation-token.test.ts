import { after, afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import nock from "nock";
import { Probot } from "probot";
import { JobOctokit } from "../../src/app/job-octokit.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import { isTransientError } from "../../src/errors/index.js";
import { mintRepositoryToken, TokenMintError } from "../../src/worker/installation-token.js";

const API = "https://github.example.test/api/v3";
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const probot = new Probot({ appId: 12, privateKey: privateKey.export({ type: "pkcs1", format: "pem" }).toString(), baseUrl: API, Octokit: JobOctokit, logLevel: "fatal" });
const appRequest = async (): Promise<OctokitRequest> => (await probot.auth()).request;

nock.disableNetConnect();
afterEach(() => {
  assert.ok(nock.isDone(), `unused expectations: ${nock.pendingMocks().join(", ")}`);
  nock.cleanAll();
});
after(() => nock.enableNetConnect());

test("asks the configured API (GHE base URL) for a token of one repository with contents: read only, as the App", async () => {
  let body: unknown;
  let auth = "";
  nock(API)
    .post("/app/installations/55/access_tokens", (b: unknown) => ((body = b), true))
    .reply(function () {
      auth = String(this.req.headers.authorization);
      return [201, { token: "ghs_scoped", expires_at: "2099-01-01T00:00:00Z", permissions: { contents: "read" } }];
    });
  assert.deepEqual(await mintRepositoryToken(await appRequest(), 55, 66), { token: "ghs_scoped", expiresAt: Date.UTC(2099, 0, 1) });
  assert.deepEqual(body, { repository_ids: [66], permissions: { contents: "read" } });
  assert.match(auth, /^bearer /i, "authenticated with the App's JWT");
});

test("a GitHub 5xx stays transient; a 422 (repository not in the installation) is final and says so without secrets", async () => {
  nock(API).post("/app/installations/55/access_tokens").reply(502, { message: "Bad Gateway" });
  await assert.rejects(mintRepositoryToken(await appRequest(), 55, 66), (err: unknown) => isTransientError(err));

  nock(API).post("/app/installations/55/access_tokens").reply(422, { message: "There is at least one repository that does not exist" });
  await assert.rejects(mintRepositoryToken(await appRequest(), 55, 66), (err: unknown) => {
    assert.ok(err instanceof TokenMintError);
    assert.equal(err.status, 422);
    assert.equal(isTransientError(err), false);
    assert.match(err.message, /repository 66 of installation 55 \(HTTP 422\)/);
    return true;
  });
});

test("a token without a readable expires_at is returned with no expiry (used once, never kept)", async () => {
  nock(API).post("/app/installations/55/access_tokens").reply(201, { token: "ghs_once", expires_at: "soon" });
  assert.deepEqual(await mintRepositoryToken(await appRequest(), 55, 66), { token: "ghs_once", expiresAt: undefined });
});
