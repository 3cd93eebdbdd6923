import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { tagByDigest } from "@buildkit-bot/buildkit";
import { InvalidRequestError, RegistryError } from "../../../src/buildkit/errors.js";
import { RegistryClient } from "../../../src/buildkit/registry/registry-client.js";
import { startTagRefusingRegistry } from "../../support/tag-refusing-registry.js";
import { testStack } from "../../support/stack/env.js";
import { uploadTinyImage } from "./tiny-image.js";

const PASSWORD = `pw-${randomBytes(12).toString("hex")}`;
const unique = () => `bkb-test/tag-by-digest-${randomBytes(4).toString("hex")}`;

describe("tagByDigest against the stack registry", () => {
  const registry = testStack().registry;
  const client = new RegistryClient({ registry });

  test("points each tag at the pushed digest, by a copy of the manifest's bytes", async () => {
    const repository = unique();
    const image = await uploadTinyImage(client, repository);
    await client.putManifest(repository, "sha-1234567", image);

    const tagged = await tagByDigest({ digest: image.digest, names: [`${registry}/${repository}:main`, `${registry}/${repository}:latest`] });

    assert.deepEqual(tagged, [`${registry}/${repository}:main`, `${registry}/${repository}:latest`]);
    for (const tag of ["main", "latest"]) {
      const got = await client.getManifest(repository, tag);
      assert.equal(got.digest, image.digest, `${tag} has the digest`);
      assert.deepEqual(got.body, image.body, `${tag} has the same bytes`);
    }
  });

  test("a digest the repository does not have: the registry's 404, nothing tagged", async () => {
    const repository = unique();
    const image = await uploadTinyImage(client, repository);
    await assert.rejects(tagByDigest({ digest: image.digest, names: [`${registry}/${repository}:main`] }), (err: unknown) => err instanceof RegistryError && err.status === 404);
    assert.equal(await client.headManifest(repository, "main"), undefined);
  });

  test("a name with a digest instead of a tag is refused before anything is sent", async () => {
    await assert.rejects(
      tagByDigest({ digest: `sha256:${"a".repeat(64)}`, names: [`${registry}/x/y@sha256:${"b".repeat(64)}`] }),
      (err: unknown) => err instanceof InvalidRequestError && /a tag is needed/.test(err.message),
    );
  });

  test("a registry that refuses the tag: a RegistryError with its status and message, without the credentials", async () => {
    const refusing = await startTagRefusingRegistry(registry, ["main"]);
    try {
      const repository = unique();
      const image = await uploadTinyImage(client, repository);
      await client.putManifest(repository, "sha-1234567", image);
      const err = await tagByDigest({
        digest: image.digest,
        names: [`${refusing.host}/${repository}:main`],
        credentials: [{ host: refusing.host, username: "bot", password: PASSWORD }],
      }).then(
        () => assert.fail("expected a refusal"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof RegistryError, String(err));
      assert.equal(err.status, 403);
      assert.equal(err.transient, false);
      assert.match(err.message, /DENIED: tag main is protected/);
      assert.ok(!err.message.includes(PASSWORD) && !JSON.stringify(err).includes(PASSWORD), "no password in the error");
      assert.deepEqual(refusing.refused, [`${repository}:main`]);
      assert.equal(await client.headManifest(repository, "main"), undefined);
    } finally {
      await refusing.close();
    }
  });
});
