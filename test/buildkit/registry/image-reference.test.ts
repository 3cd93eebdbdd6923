import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidRequestError } from "../../../src/buildkit/errors.js";
import { credentialFor, fullRepository, parseImageReference, registryApiHost, toTag } from "../../../src/buildkit/registry/image-reference.js";

test("names with a registry host keep it; port, tag and digest are split off", () => {
  assert.deepEqual(parseImageReference("ghcr.io/owner/app:sha-1"), { registry: "ghcr.io", repository: "owner/app", tag: "sha-1", digest: undefined });
  assert.deepEqual(parseImageReference("127.0.0.1:5000/a/b/c"), { registry: "127.0.0.1:5000", repository: "a/b/c", tag: undefined, digest: undefined });
  assert.deepEqual(parseImageReference("localhost/app:1.0"), { registry: "localhost", repository: "app", tag: "1.0", digest: undefined });
  const digest = `sha256:${"a".repeat(64)}`;
  assert.deepEqual(parseImageReference(`reg.example:443/app:v1@${digest}`), { registry: "reg.example:443", repository: "app", tag: "v1", digest });
});

test("Docker Hub names are normalised like the Engine does", () => {
  assert.deepEqual(parseImageReference("busybox"), { registry: "docker.io", repository: "library/busybox", tag: undefined, digest: undefined });
  assert.deepEqual(parseImageReference("owner/app:latest"), { registry: "docker.io", repository: "owner/app", tag: "latest", digest: undefined });
  assert.equal(parseImageReference("index.docker.io/busybox").repository, "library/busybox");
  assert.equal(registryApiHost("docker.io"), "registry-1.docker.io");
  assert.equal(registryApiHost("ghcr.io"), "ghcr.io");
  assert.equal(fullRepository(parseImageReference("owner/app")), "docker.io/owner/app");
});

test("invalid names are InvalidRequestErrors", () => {
  for (const bad of ["ghcr.io/Owner/App:1", "ghcr.io/app:-bad", "ghcr.io/app:" + "x".repeat(129), "ghcr.io/", "app@sha256:short", "a//b"]) {
    assert.throws(() => parseImageReference(bad), InvalidRequestError, bad);
  }
});

test("credentialFor matches the host, and Docker Hub under any of its spellings", () => {
  const hub = { host: "https://index.docker.io/v1/", username: "u", password: "p" };
  const ghcr = { host: "ghcr.io", username: "x", password: "y" };
  assert.equal(credentialFor([hub, ghcr], "ghcr.io"), ghcr);
  assert.equal(credentialFor([hub, ghcr], "docker.io"), hub);
  assert.equal(credentialFor([hub, ghcr], "quay.io"), undefined);
});

test("toTag keeps clean short values and makes the rest valid, bounded and still distinct", () => {
  assert.equal(toTag("p-", "abc_1.2"), "p-abc_1.2");
  const a = toTag("p-", "refs/heads/a");
  const b = toTag("p-", "refs-heads-a");
  assert.notEqual(a, b);
  assert.match(a, /^[\w][\w.-]{0,127}$/);
  const long = toTag("p-", "x".repeat(500));
  assert.ok(long.length <= 128);
  assert.notEqual(long, toTag("p-", "x".repeat(501)));
});
