import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidRequestError } from "../../../src/buildkit/errors.js";
import { gitAuthSecretId, gitRemoteHost } from "../../../src/buildkit/solve/git-context.js";

test("the secret id carries the host exactly as written, port included", () => {
  assert.equal(gitAuthSecretId("https://github.com/octo/app.git"), "GIT_AUTH_TOKEN.github.com");
  assert.equal(gitAuthSecretId("http://127.0.0.1:8418/octo/app.git"), "GIT_AUTH_TOKEN.127.0.0.1:8418");
  assert.equal(gitAuthSecretId("https://git.example:443/octo/app.git"), "GIT_AUTH_TOKEN.git.example:443");
});

test("remotes with credentials or without a scheme are refused without echoing them", () => {
  for (const remote of ["https://x-access-token:s3cr3t@github.com/o/r.git", "git@github.com:o/r.git", "github.com/o/r"]) {
    assert.throws(
      () => gitRemoteHost(remote),
      (err: unknown) => err instanceof InvalidRequestError && !err.message.includes("s3cr3t"),
      remote,
    );
  }
});
