import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readImageLayers } from "@buildkit-bot/buildkit";
import { RegistryError } from "../../../src/buildkit/errors.js";
import { MediaType } from "../../../src/buildkit/registry/manifest-media-types.js";
import { RegistryClient } from "../../../src/buildkit/registry/registry-client.js";
import { testStack } from "../../support/stack/env.js";

const unique = () => `bkb-test/image-layers-${randomBytes(4).toString("hex")}`;
const sha = (b: Buffer): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** An image of `layers` random blobs (sizes given) whose config history has an empty_layer step between them. */
async function pushImage(client: RegistryClient, repository: string, platform: { os: string; architecture: string }, sizes: number[]) {
  const layers = [];
  for (const size of sizes) {
    const blob = randomBytes(size);
    layers.push({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size, digest: await client.putBlob(repository, blob) });
  }
  const history = [
    { created_by: "ENV A=1", comment: "buildkit.dockerfile.v0", empty_layer: true },
    ...sizes.map((size) => [{ created_by: `COPY file-${size} / # buildkit` }, { created_by: "WORKDIR /x", empty_layer: true }]).flat(),
  ];
  const config = Buffer.from(JSON.stringify({ ...platform, config: {}, rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) }, history }));
  const configDigest = await client.putBlob(repository, config);
  const body = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: "application/vnd.oci.image.config.v1+json", size: config.length, digest: configDigest }, layers }),
  );
  const digest = await client.putManifest(repository, sha(body), { mediaType: MediaType.OciManifest, body });
  return { digest, size: body.length };
}

describe("readImageLayers against the stack registry", () => {
  const registry = testStack().registry;
  const client = new RegistryClient({ registry });

  test("a single manifest: each layer's compressed size and the instruction that made it, empty_layer steps skipped", async () => {
    const repository = unique();
    const image = await pushImage(client, repository, { os: "linux", architecture: "amd64" }, [300, 1200]);
    const got = await readImageLayers({ name: `${registry}/${repository}@${image.digest}` });
    assert.ok(got);
    assert.equal(got.digest, image.digest);
    assert.equal(got.platforms.length, 1);
    const [p] = got.platforms;
    assert.equal(p!.platform, "linux/amd64");
    assert.deepEqual(p!.layers.map((l) => [l.size, l.createdBy]), [[300, "COPY file-300 / # buildkit"], [1200, "COPY file-1200 / # buildkit"]]);
    assert.equal(p!.size, 1500);
  });

  test("an index: one entry per platform, the unknown/unknown attestation entry skipped", async () => {
    const repository = unique();
    const amd = await pushImage(client, repository, { os: "linux", architecture: "amd64" }, [100]);
    const arm = await pushImage(client, repository, { os: "linux", architecture: "arm64" }, [200, 50]);
    const attestation = await pushImage(client, repository, { os: "unknown", architecture: "unknown" }, [999]);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [
          { mediaType: MediaType.OciManifest, ...amd, platform: { os: "linux", architecture: "amd64" } },
          { mediaType: MediaType.OciManifest, ...attestation, platform: { os: "unknown", architecture: "unknown" }, annotations: { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": amd.digest } },
          { mediaType: MediaType.OciManifest, ...arm, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
        ],
      }),
    );
    await client.putManifest(repository, "main", { mediaType: MediaType.OciIndex, body: index });

    const got = await readImageLayers({ name: `${registry}/${repository}:main` });
    assert.ok(got);
    assert.equal(got.digest, sha(index));
    assert.deepEqual(got.platforms.map((p) => [p.platform, p.digest, p.size]), [["linux/amd64", amd.digest, 100], ["linux/arm64/v8", arm.digest, 250]]);
  });

  test("a tag that does not exist is undefined; a registry that does not answer is a RegistryError", async () => {
    const repository = unique();
    await pushImage(client, repository, { os: "linux", architecture: "amd64" }, [10]);
    assert.equal(await readImageLayers({ name: `${registry}/${repository}:nope` }), undefined);
    assert.equal(await readImageLayers({ name: `${registry}/${unique()}:main` }), undefined, "a repository that does not exist");
    await assert.rejects(readImageLayers({ name: "127.0.0.1:9/x/y:main" }), RegistryError);
  });
});
