import { test } from "node:test";
import assert from "node:assert/strict";
import { PushProgressTracker, isTransientPushError, pushRefused } from "../../../src/buildkit/engine/push-progress.js";
import { registryAuthHeader } from "../../../src/buildkit/engine/registry-auth-header.js";

const DIGEST = `sha256:${"ab".repeat(32)}`;

test("the digest comes from the aux line, or from the status line when there is no aux", () => {
  const withAux = new PushProgressTracker();
  withAux.accept(`{"status":"v1: digest: ${DIGEST} size: 527"}`);
  withAux.accept(`{"progressDetail":{},"aux":{"Tag":"v1","Digest":"${DIGEST}","Size":527}}`);
  assert.deepEqual(withAux.outcome, { digest: DIGEST, size: 527 });

  const statusOnly = new PushProgressTracker();
  statusOnly.accept('{"status":"The push refers to repository [r/x]"}');
  statusOnly.accept(`{"status":"latest: digest: ${DIGEST} size: 1234"}`);
  assert.deepEqual(statusOnly.outcome, { digest: DIGEST, size: 1234 });
});

test("an error line anywhere in the stream is the outcome's error; non-JSON lines are ignored", () => {
  const t = new PushProgressTracker();
  assert.equal(t.accept("not json"), undefined);
  t.accept('{"status":"Preparing","id":"abc"}');
  const line = t.accept('{"errorDetail":{"message":"no basic auth credentials"},"error":"no basic auth credentials"}');
  assert.equal(line?.error, "no basic auth credentials");
  t.accept('{"error":"a later error"}');
  assert.equal(t.outcome.error, "no basic auth credentials");
  assert.equal(t.outcome.digest, undefined);
});

test("network, timeout, 5xx and rate limits are transient; auth and missing images are not", () => {
  for (const m of [
    'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused',
    "net/http: TLS handshake timeout",
    "received unexpected HTTP status: 503 Service Unavailable",
    "toomanyrequests: Too Many Requests",
  ]) {
    assert.equal(isTransientPushError(m), true, m);
  }
  for (const m of ["no basic auth credentials", "unauthorized: authentication required", "An image does not exist locally with the tag: x", "denied: requested access to the resource is denied"]) {
    assert.equal(isTransientPushError(m), false, m);
  }
  const err = pushRefused("ghcr.io", "ghcr.io/o/a:t", "connection refused");
  assert.equal(err.registry, "ghcr.io");
  assert.equal(err.transient, true);
  assert.match(err.message, /ghcr\.io\/o\/a:t.*connection refused/);
});

test("X-Registry-Auth is base64url with padding of the auth config; {} when anonymous", () => {
  assert.equal(registryAuthHeader(undefined), "e30=");
  const header = registryAuthHeader({ host: "ghcr.io", username: "x-access-token", password: "p>?~" });
  assert.ok(!/[+/]/.test(header));
  assert.equal(header.length % 4, 0);
  const decoded = JSON.parse(Buffer.from(header.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8"));
  assert.deepEqual(decoded, { username: "x-access-token", password: "p>?~", serveraddress: "ghcr.io" });
});
