import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { RegistryError } from "../../../src/buildkit/errors.js";
import { MediaType } from "../../../src/buildkit/registry/manifest-media-types.js";
import { RegistryClient } from "../../../src/buildkit/registry/registry-client.js";
import { startTokenServer } from "../../support/registry-token-server.js";
import type { TokenServer } from "../../support/registry-token-server.js";
import { testStack } from "../../support/stack/env.js";
import { startRegistry } from "../../support/stack/registry.js";
import type { RegistryInstance } from "../../support/stack/registry.js";
import { uploadTinyImage } from "./tiny-image.js";

const USER = "bkb-user";
const PASSWORD = `pw-${randomBytes(12).toString("hex")}`;
const unique = () => `bkb-test/registry-client-${randomBytes(4).toString("hex")}`;

async function assertRegistryError(promise: Promise<unknown>, status: number, secret = PASSWORD): Promise<RegistryError> {
  const err = await promise.then(
    () => assert.fail("expected a RegistryError"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RegistryError, `expected RegistryError, got ${String(err)}`);
  assert.equal(err.status, status, err.message);
  assert.ok(!err.message.includes(secret), "the password must not appear in the message");
  assert.ok(!JSON.stringify(err).includes(secret), "the password must not appear in the error's fields");
  assert.ok(!err.message.includes(Buffer.from(`${USER}:${secret}`).toString("base64")), "nor the basic auth header");
  return err;
}

describe("RegistryClient against the plain stack registry", () => {
  const registry = testStack().registry;
  const client = new RegistryClient({ registry });

  test("puts a manifest and reads it back by tag and by digest, digest as the registry reports it", async () => {
    const repository = unique();
    const image = await uploadTinyImage(client, repository);
    const digest = await client.putManifest(repository, "v1", image);
    assert.equal(digest, image.digest);

    const raw = await fetch(`http://${registry}/v2/${repository}/manifests/v1`, {
      method: "HEAD",
      headers: { Accept: MediaType.DockerManifest },
    });
    assert.equal(raw.headers.get("docker-content-digest"), digest);

    const head = await client.headManifest(repository, "v1");
    assert.deepEqual(head, { digest, mediaType: MediaType.DockerManifest });

    const byTag = await client.getManifest(repository, "v1");
    assert.equal(byTag.digest, digest);
    assert.equal(byTag.mediaType, MediaType.DockerManifest);
    assert.deepEqual(byTag.body, image.body);

    const byDigest = await client.getManifest(repository, digest);
    assert.equal(byDigest.digest, digest);
    assert.deepEqual(byDigest.body, image.body);
  });

  test("copies a manifest to another tag (what publishing does) and both tags resolve to one digest", async () => {
    const repository = unique();
    const image = await uploadTinyImage(client, repository);
    const digest = await client.putManifest(repository, "staging", image);
    const manifest = await client.getManifest(repository, digest);
    assert.equal(await client.putManifest(repository, "latest", manifest), digest);
    assert.equal((await client.headManifest(repository, "latest"))?.digest, digest);
  });

  test("a missing manifest: HEAD gives undefined, GET a 404 RegistryError with the registry's code", async () => {
    const repository = unique();
    assert.equal(await client.headManifest(repository, "nope"), undefined);
    const err = await assertRegistryError(client.getManifest(repository, "nope"), 404);
    assert.ok(err.registryCode === "MANIFEST_UNKNOWN" || err.registryCode === "NAME_UNKNOWN", err.registryCode);
    assert.equal(err.transient, false);
    assert.match(err.message, new RegExp(registry.replace(/\./g, "\\.")));
  });

  test("a manifest naming blobs the repository does not have is refused with BLOB_UNKNOWN / MANIFEST_BLOB_UNKNOWN", async () => {
    const other = unique();
    const image = await uploadTinyImage(client, other);
    const err = await assertRegistryError(client.putManifest(unique(), "x", image), 400);
    assert.match(err.registryCode ?? "", /BLOB_UNKNOWN/);
  });

  test("an unreachable registry is a transient RegistryError without a status", async () => {
    const closed = new RegistryClient({ registry: "127.0.0.1:1" });
    const err = await closed.getManifest("x/y", "latest").then(
      () => assert.fail("expected an error"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RegistryError);
    assert.equal(err.status, undefined);
    assert.equal(err.transient, true);
    assert.match(err.message, /127\.0\.0\.1:1/);
  });
});

describe("RegistryClient against a basic-auth registry", () => {
  let dir: string;
  let reg: RegistryInstance;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "bkb-basic-registry-"));
    reg = await startRegistry({ dir, htpasswd: { username: USER, password: PASSWORD } });
  });
  after(async () => {
    await reg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("right credentials: push and read back", async () => {
    const client = new RegistryClient({ registry: reg.addr, credentials: { username: USER, password: PASSWORD } });
    const repository = unique();
    const image = await uploadTinyImage(client, repository);
    const digest = await client.putManifest(repository, "v1", image);
    assert.equal(digest, image.digest);
    assert.equal((await client.getManifest(repository, "v1")).digest, digest);
    assert.equal((await client.headManifest(repository, digest))?.digest, digest);
  });

  test("no credentials: 401 RegistryError saying credentials are missing", async () => {
    const client = new RegistryClient({ registry: reg.addr });
    const err = await assertRegistryError(client.getManifest("any/repo", "latest"), 401, PASSWORD);
    assert.match(err.message, /no credentials/);
    assert.equal(err.transient, false);
  });

  test("wrong credentials: 401 RegistryError without the password", async () => {
    const wrong = `${PASSWORD}-wrong`;
    const client = new RegistryClient({ registry: reg.addr, credentials: { username: USER, password: wrong } });
    const err = await assertRegistryError(client.getManifest("any/repo", "latest"), 401, wrong);
    assert.match(err.message, /credentials rejected/);
  });
});

describe("RegistryClient against a bearer-token registry", () => {
  let dir: string;
  let tokens: TokenServer;
  let reg: RegistryInstance;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "bkb-token-registry-"));
    tokens = await startTokenServer({ dir, username: USER, password: PASSWORD });
    reg = await startRegistry({ dir, tokenAuth: tokens.registryTokenAuth() });
  });
  after(async () => {
    await reg?.stop();
    await tokens?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("right credentials: fetches a token for the repository scope, pushes and reads back", async () => {
    const client = new RegistryClient({ registry: reg.addr, credentials: { username: USER, password: PASSWORD } });
    const repository = unique();
    const image = await uploadTinyImage(client, repository);
    const digest = await client.putManifest(repository, "v1", image);
    assert.equal(digest, image.digest);
    const got = await client.getManifest(repository, "v1");
    assert.equal(got.digest, digest);
    assert.deepEqual(got.body, image.body);

    const granted = tokens.requests.filter((r) => r.status === 200 && r.user === USER);
    assert.ok(granted.some((r) => r.scopes.includes(`repository:${repository}:pull,push`)), JSON.stringify(tokens.requests));
    assert.ok(granted.some((r) => r.scopes.includes(`repository:${repository}:pull`)), JSON.stringify(tokens.requests));
  });

  test("tokens are cached per scope until they expire", async () => {
    const client = new RegistryClient({ registry: reg.addr, credentials: { username: USER, password: PASSWORD } });
    const repository = unique();
    const image = await uploadTinyImage(client, repository);
    await client.putManifest(repository, "v1", image);
    const before = tokens.requests.length;
    await client.getManifest(repository, "v1");
    await client.headManifest(repository, "v1");
    await client.getManifest(repository, image.digest);
    const pullTokens = tokens.requests.slice(before).filter((r) => r.scopes.includes(`repository:${repository}:pull`));
    assert.equal(pullTokens.length, 1, JSON.stringify(tokens.requests.slice(before)));
  });

  test("wrong credentials: 401 RegistryError from the token server, without the password", async () => {
    const wrong = `${PASSWORD}-wrong`;
    const client = new RegistryClient({ registry: reg.addr, credentials: { username: USER, password: wrong } });
    const err = await assertRegistryError(client.getManifest("any/repo", "latest"), 401, wrong);
    assert.match(err.message, /token server/);
    assert.equal(err.registryCode, "UNAUTHORIZED");
  });

  test("anonymous: the token grants nothing, so the registry's 401 surfaces", async () => {
    const client = new RegistryClient({ registry: reg.addr });
    const err = await assertRegistryError(client.getManifest("any/repo", "latest"), 401, PASSWORD);
    assert.equal(err.registryCode, "UNAUTHORIZED");
  });
});
