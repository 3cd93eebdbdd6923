import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertNoSecrets, findSecretPath } from "../../src/queue/job-data-guard.js";
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
});
