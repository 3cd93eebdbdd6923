import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidRequestError } from "../../../src/buildkit/errors.js";
import { gitAuthSecretId, gitContextAttrs, gitRemoteHost } from "../../../src/buildkit/solve/git-context.js";

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

test("HEAD stays out of the fragment where an empty ref is the default branch (BuildKit >= 0.9), not on 0.8", () => {
  const remote = "http://127.0.0.1:8418/octo/app.git";
  assert.deepEqual(gitContextAttrs({ remote, ref: "HEAD" }, "Dockerfile", true), { context: remote, filename: "Dockerfile" });
  assert.deepEqual(gitContextAttrs({ remote, ref: "HEAD", subdir: "svc" }, "Dockerfile", true), { context: `${remote}#:svc`, filename: "Dockerfile" });
  // BuildKit 0.8 reads an empty ref as "master".
  assert.deepEqual(gitContextAttrs({ remote, ref: "HEAD" }, "Dockerfile", false), { context: `${remote}#HEAD`, filename: "Dockerfile" });
  assert.deepEqual(gitContextAttrs({ remote, ref: "HEAD", subdir: "svc" }, "Dockerfile", false), {
    context: `${remote}#HEAD`,
    contextsubdir: "svc",
    filename: "svc/Dockerfile",
  });
  assert.deepEqual(gitContextAttrs({ remote, ref: "main", subdir: "svc" }, "Dockerfile", true), { context: `${remote}#main:svc`, filename: "Dockerfile" });
  assert.deepEqual(gitContextAttrs({ remote, ref: "main" }, "Dockerfile", false), { context: `${remote}#main`, filename: "Dockerfile" });
});
