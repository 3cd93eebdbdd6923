import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { pushImageIndex } from "@buildkit-bot/buildkit";
import { InvalidRequestError, RegistryError } from "../../../src/buildkit/errors.js";
import { MediaType } from "../../../src/buildkit/registry/manifest-media-types.js";
import { RegistryClient } from "../../../src/buildkit/registry/registry-client.js";
import { testStack } from "../../support/stack/env.js";
import { uploadTinyImage } from "./tiny-image.js";

const unique = () => `bkb-test/push-index-${randomBytes(4).toString("hex")}`;

interface Index {
  mediaType: string;
  manifests: Array<{ mediaType: string; digest: string; size: number; platform?: { os: string; architecture: string; variant?: string } }>;
}

describe("pushImageIndex against the stack registry", () => {
  const registry = testStack().registry;
  const client = new RegistryClient({ registry });

  test("joins parts pushed by digest into one manifest list under every tag, each with its platform and size", async () => {
    const repository = unique();
    const amd = await uploadTinyImage(client, repository);
    const arm = await uploadTinyImage(client, repository);
    for (const part of [amd, arm]) await client.putManifest(repository, part.digest, part);

    const pushed = await pushImageIndex({
      names: [`${registry}/${repository}:sha-1234567`, `${registry}/${repository}:main`],
      parts: [{ digest: amd.digest, platform: "linux/amd64" }, { digest: arm.digest, platform: "linux/arm64/v8" }],
    });

    assert.deepEqual(pushed.tagged, [`${registry}/${repository}:sha-1234567`, `${registry}/${repository}:main`]);
    assert.equal(pushed.mediaType, MediaType.DockerManifestList, "schema-2 parts make a Docker manifest list");
    for (const tag of ["sha-1234567", "main"]) {
      const got = await client.getManifest(repository, tag);
      assert.equal(got.digest, pushed.digest);
      const index = JSON.parse(got.body.toString("utf8")) as Index;
      assert.deepEqual(index.manifests, [
        { mediaType: MediaType.DockerManifest, digest: amd.digest, size: amd.body.length, platform: { os: "linux", architecture: "amd64" } },
        { mediaType: MediaType.DockerManifest, digest: arm.digest, size: arm.body.length, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
      ]);
    }

    // A part that is itself an index gives its own manifests (and platforms), not itself.
    const outer = await pushImageIndex({ names: [`${registry}/${repository}:both`], parts: [{ digest: pushed.digest, platform: "linux/amd64" }] });
    const both = JSON.parse((await client.getManifest(repository, "both")).body.toString("utf8")) as Index;
    assert.deepEqual(both.manifests.map((m) => m.digest), [amd.digest, arm.digest]);
    assert.equal(outer.digest, pushed.digest, "the same parts make the same bytes");
  });

  test("a part the repository does not hold: the registry's refusal, no tag", async () => {
    const repository = unique();
    const image = await uploadTinyImage(client, repository);
    await assert.rejects(
      pushImageIndex({ names: [`${registry}/${repository}:main`], parts: [{ digest: image.digest, platform: "linux/amd64" }] }),
      (err: unknown) => err instanceof RegistryError && err.status === 404,
    );
    assert.equal(await client.headManifest(repository, "main"), undefined);
  });

  test("names without a tag, or no parts, are refused before any request", async () => {
    const digest = `sha256:${"a".repeat(64)}`;
    await assert.rejects(pushImageIndex({ names: [`${registry}/x/y@${digest}`], parts: [{ digest, platform: "linux/amd64" }] }), InvalidRequestError);
    await assert.rejects(pushImageIndex({ names: [`${registry}/x/y:t`], parts: [] }), InvalidRequestError);
  });
});
