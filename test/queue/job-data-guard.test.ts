import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertNoSecrets, findSecretPath, ownInstallationOf } from "../../src/queue/job-data-guard.js";
import { buildJobId } from "../../src/queue/job-ids.js";
import { SecretInJobDataError } from "../../src/queue/queue-errors.js";

describe("job data guard", () => {
  it("finds credential-shaped values and names where", () => {
    assert.equal(findSecretPath({ a: { b: ["ok", "ghs_" + "A".repeat(36)] } }), "$.a.b[1]");
    assert.equal(findSecretPath({ url: "https://x-access-token:abc123@github.com/a/b.git" }), "$.url");
    assert.equal(findSecretPath({ k: "-----BEGIN RSA PRIVATE KEY-----\nMII..." }), "$.k");
    assert.equal(findSecretPath({ h: "Bearer abcdefghijklmnopqrstuvwxyz" }), "$.h");
    assert.equal(findSecretPath({ t: "github_pat_" + "x".repeat(40) }), "$.t");
    assert.throws(() => assertNoSecrets({ token: "ghp_" + "z".repeat(36) }), SecretInJobDataError);
  });

  it("lets ordinary job data through", () => {
    assert.doesNotThrow(() =>
      assertNoSecrets({
        cloneUrl: "https://github.com/acme/widgets.git",
        sha: "a".repeat(40),
        tags: ["ghcr.io/acme/api:main", "127.0.0.1:5000/acme/api:sha-abc"],
        ref: "refs/heads/feature/token-refresh",
      }),
    );
  });

  it("takes a build's installation from its job id, and refuses data that names another build or installation", () => {
    const id = buildJobId({ installationId: 41, repoId: 7, sha: "a".repeat(40), image: "api", attempt: 1 });
    const repository = { installationId: 41 };
    assert.deepEqual(ownInstallationOf(id, { buildId: id, repository } as never), { ok: true, installationId: 41 });
    assert.deepEqual(ownInstallationOf(id, { buildId: id, repository: { installationId: 42 } } as never), {
      ok: false,
      installationId: 41,
      message: `refused: build job ${id} belongs to installation 41, but its data names installation 42 (its data was altered in Redis)`,
    });
    const other = buildJobId({ installationId: 42, repoId: 8, sha: "b".repeat(40), image: "api", attempt: 1 });
    assert.equal(ownInstallationOf(id, { buildId: other, repository: { installationId: 42 } } as never).installationId, 41);
    assert.deepEqual(ownInstallationOf("ev-1", { buildId: "ev-1", repository } as never), { ok: false, installationId: undefined, message: "refused: job ev-1 is not a build job id (its data was altered in Redis)" });
    assert.equal(ownInstallationOf(id, {} as never).ok, false);
  });
});
