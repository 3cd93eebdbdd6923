import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { retireStagingTag } from "../../../src/buildkit/push/staging-placeholder.js";
import { stagingTag } from "../../../src/buildkit/push/staging-tag.js";
import { MediaType } from "../../../src/buildkit/registry/manifest-media-types.js";
import { RegistryClient } from "../../../src/buildkit/registry/registry-client.js";
import { testStack } from "../../support/stack/env.js";

const stack = testStack();

/** Points `tag` at an image of its own (a distinct config, no layers), as a staged push leaves it. */
async function stageImage(client: RegistryClient, repository: string, tag: string): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, tag }));
  const configDigest = await client.putBlob(repository, config);
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: [],
    }),
  );
  return client.putManifest(repository, tag, { mediaType: MediaType.OciManifest, body });
}

describe("retireStagingTag on the stack registry", () => {
  test("many builds retiring their staging tags at once in one repository: every tag stops pinning its image", async () => {
    const client = new RegistryClient({ registry: stack.registry });
    const repository = `bkb-test/retire-${randomBytes(4).toString("hex")}/app`;
    const tags = Array.from({ length: 16 }, (_, i) => stagingTag(`build-${i}`));
    const images = await Promise.all(tags.map((tag) => stageImage(client, repository, tag)));

    const warnings = await Promise.all(tags.map((tag) => retireStagingTag(client, repository, tag)));

    assert.deepEqual(warnings.flat(), []);
    for (const [i, tag] of tags.entries()) {
      const remote = await client.headManifest(repository, tag);
      assert.equal(remote, undefined, `${tag} still points at ${remote?.digest} (its image was ${images[i]})`);
    }
  });
});
