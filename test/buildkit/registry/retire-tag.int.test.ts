import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { retireTags } from "../../../src/buildkit/registry/retire-tag.js";
import { RegistryClient } from "../../../src/buildkit/registry/registry-client.js";
import { startRegistry } from "../../support/stack/registry.js";
import type { RegistryInstance } from "../../support/stack/registry.js";
import { testStack } from "../../support/stack/env.js";
import { uploadTinyImage } from "./tiny-image.js";

const stack = testStack();

/** One image under several tags of one repository; returns its digest. */
async function imageUnder(client: RegistryClient, repository: string, tags: string[]): Promise<string> {
  const image = await uploadTinyImage(client, repository);
  for (const tag of tags) assert.equal(await client.putManifest(repository, tag, image), image.digest);
  return image.digest;
}

describe("retireTags on Distribution 2.8", () => {
  let noDeletes: RegistryInstance;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-retire-"));
    noDeletes = await startRegistry({ dir, deletes: false });
  });

  after(async () => {
    await noDeletes?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("a tag that shares its image with a branch tag goes; the branch tag and the image stay", async () => {
    const client = new RegistryClient({ registry: stack.registry });
    const repository = `bkb-test/retire-${randomBytes(4).toString("hex")}/app`;
    const digest = await imageUnder(client, repository, ["pr-7", "feature-x"]);

    const results = await retireTags({ tags: [{ name: `${stack.registry}/${repository}:pr-7`, expect: [digest] }] });

    assert.deepEqual(results, [{ name: `${stack.registry}/${repository}:pr-7`, outcome: "deleted" }]);
    assert.equal(await client.headManifest(repository, "pr-7"), undefined, "pr-7 answers 404");
    assert.equal((await client.headManifest(repository, "feature-x"))?.digest, digest, "the branch tag still resolves to the image");
    assert.equal((await client.getManifest(repository, digest)).digest, digest, "the image itself is still there");
  });

  test("a tag that now points at another image than expected is left alone", async () => {
    const client = new RegistryClient({ registry: stack.registry });
    const repository = `bkb-test/retire-${randomBytes(4).toString("hex")}/app`;
    const ours = await imageUnder(client, repository, ["pr-8"]);
    const theirs = await imageUnder(client, repository, ["pr-8"]);
    assert.notEqual(ours, theirs);

    const [result] = await retireTags({ tags: [{ name: `${stack.registry}/${repository}:pr-8`, expect: [ours] }] });

    assert.equal(result?.outcome, "moved");
    assert.equal((await client.headManifest(repository, "pr-8"))?.digest, theirs);
  });

  test("a tag already gone is absent; a tag retired twice at once is deleted once", async () => {
    const client = new RegistryClient({ registry: stack.registry });
    const repository = `bkb-test/retire-${randomBytes(4).toString("hex")}/app`;
    const digest = await imageUnder(client, repository, ["pr-9"]);
    const name = `${stack.registry}/${repository}:pr-9`;

    const both = await Promise.all([retireTags({ tags: [{ name, expect: [digest] }] }), retireTags({ tags: [{ name, expect: [digest] }] })]);

    for (const [result] of both) assert.ok(result && ["deleted", "absent"].includes(result.outcome), JSON.stringify(result));
    assert.equal(await client.headManifest(repository, "pr-9"), undefined);
    assert.deepEqual(await retireTags({ tags: [{ name }] }), [{ name, outcome: "absent" }]);
  });

  test("a registry started without deletes: refused, asked nothing else, the tag still points at its image", async () => {
    const client = new RegistryClient({ registry: noDeletes.addr });
    const repository = `bkb-test/retire-${randomBytes(4).toString("hex")}/app`;
    const digest = await imageUnder(client, repository, ["pr-3", "main"]);

    const [result] = await retireTags({ tags: [{ name: `${noDeletes.addr}/${repository}:pr-3`, expect: [digest] }] });

    assert.equal(result?.outcome, "refused");
    assert.match(result?.detail ?? "", /405/);
    assert.equal((await client.headManifest(repository, "pr-3"))?.digest, digest, "pr-3 was not re-pointed");
    assert.equal((await client.headManifest(repository, "main"))?.digest, digest);
  });
});
