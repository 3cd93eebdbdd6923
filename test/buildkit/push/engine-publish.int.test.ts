import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { EngineApi } from "../../../src/buildkit/engine/engine-api.js";
import { EngineApiError, PushRefusedError } from "../../../src/buildkit/errors.js";
import { publishFromEngine, stagedNames } from "../../../src/buildkit/push/engine-publish.js";
import { STAGING_TAG_PREFIX } from "../../../src/buildkit/push/staging-tag.js";
import { RegistryClient } from "../../../src/buildkit/registry/registry-client.js";
import { startTokenServer } from "../../support/registry-token-server.js";
import type { TokenServer } from "../../support/registry-token-server.js";
import { testStack } from "../../support/stack/env.js";
import { buildTestImage } from "../engine/build-test-image.js";
import { startRegistry } from "../../support/stack/registry.js";
import type { RegistryInstance } from "../../support/stack/registry.js";

const stack = testStack();
const engine = new EngineApi(stack.dockerSocket);
const id = randomBytes(4).toString("hex");
const localNames = new Set<string>();

/** Builds a distinct image under the staged names of `buildRef` (what the `moby` exporter does in a real build). */
async function exportAsStaged(names: string[], buildRef: string): Promise<{ imageId: string; staged: string[] }> {
  const staged = stagedNames(names, buildRef);
  staged.forEach((n) => localNames.add(n));
  await buildTestImage(stack.dockerSocket, staged, `publish ${id} ${buildRef}\n`);
  return { imageId: (await engine.inspectImage(staged[0] as string)).Id, staged };
}

/** The config digest of a pushed manifest = the Engine's image ID on the graphdriver store. */
async function configDigestOf(client: RegistryClient, repository: string, digest: string): Promise<string> {
  const manifest = await client.getManifest(repository, digest);
  return (JSON.parse(manifest.body.toString("utf8")) as { config: { digest: string } }).config.digest;
}

after(async () => {
  for (const name of localNames) {
    await engine.removeImage(name).catch((err: unknown) => {
      if (!(err instanceof EngineApiError && err.status === 404)) throw err;
    });
  }
});

describe("publishFromEngine on the stack registry", () => {
  const repository = `bkb-test/publish-${id}/app`;
  const full = `${stack.registry}/${repository}`;
  const client = new RegistryClient({ registry: stack.registry });

  test("two concurrent builds pushing the same final tag each get their own image's digest back", async () => {
    const namesA = [`${full}:latest`, `${full}:sha-aaaa`];
    const namesB = [`${full}:latest`, `${full}:sha-bbbb`];
    const a = await exportAsStaged(namesA, `build-a-${id}`);
    const b = await exportAsStaged(namesB, `build-b-${id}`);
    assert.notEqual(a.imageId, b.imageId);

    const [resultA, resultB] = await Promise.all([
      publishFromEngine({ engine, names: namesA, buildRef: `build-a-${id}`, credentials: [] }),
      publishFromEngine({ engine, names: namesB, buildRef: `build-b-${id}`, credentials: [] }),
    ]);

    assert.notEqual(resultA.digest, resultB.digest);
    assert.equal(await configDigestOf(client, repository, resultA.digest), a.imageId, "A got A's image");
    assert.equal(await configDigestOf(client, repository, resultB.digest), b.imageId, "B got B's image");
    assert.deepEqual(resultA.names, namesA);
    assert.deepEqual(resultB.names, namesB);
    assert.ok(resultA.pushMs >= 0 && resultB.pushMs >= 0);

    assert.equal((await client.headManifest(repository, "sha-aaaa"))?.digest, resultA.digest);
    assert.equal((await client.headManifest(repository, "sha-bbbb"))?.digest, resultB.digest);
    const latest = (await client.headManifest(repository, "latest"))?.digest;
    assert.ok(latest === resultA.digest || latest === resultB.digest, `latest is ${latest}`);

    for (const name of [...a.staged, ...b.staged]) assert.equal(await engine.imageExists(name), false, `${name} removed locally`);
    // The stack registry allows deletes: the retired staging tags are gone; elsewhere they point at a placeholder.
    for (const [staged, result] of [
      [a.staged[0], resultA],
      [b.staged[0], resultB],
    ] as const) {
      const tag = (staged as string).split(":").pop() as string;
      assert.ok(tag.startsWith(STAGING_TAG_PREFIX));
      const remote = await client.headManifest(repository, tag);
      assert.ok(remote === undefined || remote.digest !== result.digest, `the staging tag no longer pins the image (warnings: ${result.warnings.join("; ") || "none"})`);
      if (remote !== undefined) assert.ok(result.warnings.length > 0);
    }
  });

  test("several repositories on one registry get the same digest; each keeps its own tags", async () => {
    const other = `bkb-test/publish-${id}/mirror`;
    const names = [`${full}:multi`, `${stack.registry}/${other}:multi`, `${stack.registry}/${other}:v2`];
    const built = await exportAsStaged(names, `build-multi-${id}`);
    assert.equal(built.staged.length, 2);
    const result = await publishFromEngine({ engine, names, buildRef: `build-multi-${id}`, credentials: [] });
    assert.equal(result.repositories.length, 2);
    assert.ok(result.repositories.every((r) => r.digest === result.digest));
    assert.equal((await client.headManifest(repository, "multi"))?.digest, result.digest);
    assert.equal((await client.headManifest(other, "multi"))?.digest, result.digest);
    assert.equal((await client.headManifest(other, "v2"))?.digest, result.digest);
    for (const name of built.staged) assert.equal(await engine.imageExists(name), false);
  });

  test("a refused push still removes the local staging names", async () => {
    const names = [`127.0.0.1:1/bkb-test/publish-${id}:latest`];
    const built = await exportAsStaged(names, `build-refused-${id}`);
    const err = await publishFromEngine({ engine, names, buildRef: `build-refused-${id}`, credentials: [] }).then(
      () => assert.fail("expected a PushRefusedError"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PushRefusedError, String(err));
    assert.equal(err.transient, true);
    for (const name of built.staged) assert.equal(await engine.imageExists(name), false);
  });
});

describe("publishFromEngine to a token-auth registry", () => {
  const username = "bkb-publisher";
  const password = `pw-${randomBytes(12).toString("hex")}`;
  let dir: string;
  let tokens: TokenServer;
  let reg: RegistryInstance;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "bkb-publish-token-registry-"));
    tokens = await startTokenServer({ dir, username, password });
    reg = await startRegistry({ dir, tokenAuth: tokens.registryTokenAuth() });
  });
  after(async () => {
    await reg?.stop();
    await tokens?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("pushes through the Engine and sets the final tags through the registry API, with the credentials", async () => {
    const repository = `bkb-test/publish-auth-${id}`;
    const names = [`${reg.addr}/${repository}:latest`, `${reg.addr}/${repository}:v1`];
    const built = await exportAsStaged(names, `build-auth-${id}`);
    const result = await publishFromEngine({
      engine,
      names,
      buildRef: `build-auth-${id}`,
      credentials: [{ host: reg.addr, username, password }],
    });
    const client = new RegistryClient({ registry: reg.addr, credentials: { username, password } });
    assert.equal((await client.headManifest(repository, "latest"))?.digest, result.digest);
    assert.equal((await client.headManifest(repository, "v1"))?.digest, result.digest);
    assert.equal(await configDigestOf(client, repository, result.digest), built.imageId);
    for (const name of built.staged) assert.equal(await engine.imageExists(name), false);
    // The token server grants no `delete`: the staging tag is kept, re-pointed at the placeholder.
    const stagedTag = (built.staged[0] as string).split(":").pop() as string;
    const remote = await client.headManifest(repository, stagedTag);
    assert.ok(remote && remote.digest !== result.digest);
    assert.ok(result.warnings.some((w) => w.includes(stagedTag)));
    assert.ok(!JSON.stringify(result).includes(password));
  });

  test("without credentials the publish is refused (inside the Engine's 200 stream)", async () => {
    const names = [`${reg.addr}/bkb-test/publish-anon-${id}:latest`];
    const built = await exportAsStaged(names, `build-anon-${id}`);
    const err = await publishFromEngine({ engine, names, buildRef: `build-anon-${id}`, credentials: [] }).then(
      () => assert.fail("expected a PushRefusedError"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PushRefusedError, String(err));
    assert.equal(err.transient, false);
    for (const name of built.staged) assert.equal(await engine.imageExists(name), false);
  });
});
