import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IMAGE_NAME_ANNOTATION, OciIndexError, REF_NAME_ANNOTATION, findTagged, putOciIndexEntry, readOciIndex } from "../../../src/buildkit/session/oci-index.js";
import type { OciDescriptor } from "../../../src/buildkit/session/oci-index.js";
import { ContentStoreError, OciLayoutStore } from "../../../src/buildkit/session/oci-layout-store.js";

const sha256 = (data: Buffer): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

async function layout(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-oci-layout-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function drain(stream: AsyncIterable<Buffer> | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream ?? []) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function storeError(kind: string, message?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof ContentStoreError, String(error));
    assert.equal(error.kind, kind);
    if (message) assert.match(error.message, message);
    return true;
  };
}

describe("OCI layout store", () => {
  test("a blob written in chunks is verified, moved into blobs/sha256 and read back by range", async (t) => {
    const dir = await layout(t);
    const store = new OciLayoutStore(dir);
    const data = randomBytes(300_000);
    const digest = sha256(data);
    const writer = await store.writer("layer-1", digest);
    for (let at = 0; at < data.length; at += 65_536) await writer.write(data.subarray(at, at + 65_536));
    assert.equal(writer.offset, data.length);
    assert.equal(store.activeWriter("layer-1"), writer);
    assert.equal(await writer.commit(data.length, digest), digest);
    assert.equal(store.activeWriter("layer-1"), undefined);

    assert.deepEqual(await readFile(join(dir, "blobs", "sha256", digest.slice(7))), data);
    assert.equal((await store.info(digest))?.size, data.length);
    assert.deepEqual(await drain((await store.reader(digest, 0, 0, 4096)).stream), data);
    assert.deepEqual(await drain((await store.reader(digest, 1000, 5000, 4096)).stream), data.subarray(1000, 6000));
    assert.deepEqual(await drain((await store.reader(digest, 299_000, 10_000, 4096)).stream), data.subarray(299_000));
    assert.equal((await store.reader(digest, data.length, 0, 4096)).stream, undefined);
    await assert.rejects(store.reader(digest, data.length + 1, 0, 4096), storeError("out-of-range"));
    await assert.rejects(store.reader(sha256(Buffer.from("absent")), 0, 0, 4096), storeError("not-found"));

    await store.close();
    assert.deepEqual(await readdir(dir), ["blobs"]);
  });

  test("content that does not match the expected digest or size never reaches blobs/", async (t) => {
    const dir = await layout(t);
    const store = new OciLayoutStore(dir);
    const claimed = sha256(Buffer.from("what the daemon announced"));
    const writer = await store.writer("bad", claimed);
    await writer.write(Buffer.from("something else"));
    await assert.rejects(writer.commit(0, claimed), storeError("failed-precondition", /unexpected commit digest sha256:[a-f0-9]{64}, expected sha256:/));
    await assert.rejects(writer.commit(99, undefined), storeError("failed-precondition", /unexpected commit size 14, expected 99/));
    await writer.abort();
    assert.equal(await store.info(claimed), undefined);
    assert.equal(await store.info(sha256(Buffer.from("something else"))), undefined);
    await store.close();
    assert.deepEqual(await readdir(dir), []);
  });

  test("a write can start over; without an expected digest the sha256 of the content names the blob", async (t) => {
    const store = new OciLayoutStore(await layout(t));
    const writer = await store.writer("restart", undefined);
    await writer.write(Buffer.from("partial junk"));
    await writer.restart();
    await writer.write(Buffer.from("final"));
    assert.equal(writer.digest(), sha256(Buffer.from("final")));
    assert.equal(await writer.commit(5, undefined), sha256(Buffer.from("final")));
    await store.close();
  });

  test("existing blobs, busy refs and malformed digests are refused with their kind", async (t) => {
    const dir = await layout(t);
    const store = new OciLayoutStore(dir);
    const data = Buffer.from("blob");
    const first = await store.writer("a", sha256(data));
    await first.write(data);
    await first.commit(data.length, sha256(data));
    await assert.rejects(store.writer("b", sha256(data)), storeError("already-exists"));

    const busy = await store.writer("busy", undefined);
    await assert.rejects(store.writer("busy", undefined), storeError("locked"));
    await busy.abort();
    await (await store.writer("busy", undefined)).abort();

    for (const digest of ["sha256:../../etc/passwd", "md5:abc", `sha256:${"A".repeat(64)}`, "sha256:abc"]) {
      await assert.rejects(store.info(digest), storeError("invalid-argument"));
    }
    await assert.rejects(store.writer("", undefined), storeError("invalid-argument"));
    await store.close();
    assert.deepEqual(await readdir(join(dir, "blobs", "sha256")), [sha256(data).slice(7)]);
  });

  test("a blob committed meanwhile under the same digest is kept and reported as already there", async (t) => {
    const store = new OciLayoutStore(await layout(t));
    const data = Buffer.from("raced");
    const one = await store.writer("one", undefined);
    const two = await store.writer("two", undefined);
    await one.write(data);
    await two.write(data);
    await one.commit(data.length, sha256(data));
    await assert.rejects(two.commit(data.length, sha256(data)), storeError("already-exists"));
    assert.equal((await store.info(sha256(data)))?.size, data.length);
    await store.close();
  });
});

describe("OCI layout index.json", () => {
  const manifest = (n: number): OciDescriptor => ({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
    size: 100 + n,
  });

  test("the first entry creates index.json and oci-layout", async (t) => {
    const dir = await layout(t);
    assert.equal(await readOciIndex(dir), undefined);
    await putOciIndexEntry(dir, manifest(1), "latest");
    assert.deepEqual(JSON.parse(await readFile(join(dir, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
    assert.deepEqual(JSON.parse(await readFile(join(dir, "index.json"), "utf8")), {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ ...manifest(1), annotations: { [REF_NAME_ANNOTATION]: "latest" } }],
    });
    assert.deepEqual((await readdir(dir)).sort(), ["index.json", "oci-layout"]);
  });

  test("an update replaces the entry with the same tag and keeps every other entry and field", async (t) => {
    const dir = await layout(t);
    const image = { ...manifest(7), annotations: { [IMAGE_NAME_ANNOTATION]: "docker.io/library/app:latest", [REF_NAME_ANNOTATION]: "latest" } };
    const other = { ...manifest(8), annotations: { [REF_NAME_ANNOTATION]: "v1", "org.example.note": "kept" } };
    const untagged = manifest(9);
    await writeFile(
      join(dir, "index.json"),
      JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", annotations: { owner: "me" }, manifests: [image, other, untagged, { ...manifest(1), annotations: { [REF_NAME_ANNOTATION]: "latest" } }] }),
    );
    await putOciIndexEntry(dir, manifest(2), "latest");
    const index = await readOciIndex(dir);
    assert.deepEqual(index?.annotations, { owner: "me" });
    assert.deepEqual(index?.manifests, [image, other, untagged, { ...manifest(2), annotations: { [REF_NAME_ANNOTATION]: "latest" } }]);
    // A tag is looked up by image name first, as buildctl does; then by OCI ref name.
    assert.equal(findTagged(index!, "latest")?.digest, manifest(2).digest);
    assert.equal(findTagged(index!, "docker.io/library/app:latest")?.digest, manifest(7).digest);
    assert.equal(findTagged(index!, "v1")?.digest, manifest(8).digest);
    assert.equal(findTagged(index!, "v2"), undefined);
  });

  test("concurrent updates of one index all land", async (t) => {
    const dir = await layout(t);
    await Promise.all([1, 2, 3, 4, 5, 6].map((n) => putOciIndexEntry(dir, manifest(n), `t${n}`)));
    const tags = (await readOciIndex(dir))?.manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION]).sort();
    assert.deepEqual(tags, ["t1", "t2", "t3", "t4", "t5", "t6"]);
    assert.deepEqual((await readdir(dir)).sort(), ["index.json", "oci-layout"]);
  });

  test("a broken index.json is an error, not an empty cache", async (t) => {
    const dir = await layout(t);
    await writeFile(join(dir, "index.json"), "{not json");
    await assert.rejects(readOciIndex(dir), OciIndexError);
    await assert.rejects(putOciIndexEntry(dir, manifest(1), "latest"), /is not valid JSON/);
    assert.equal(await readFile(join(dir, "index.json"), "utf8"), "{not json");
    await writeFile(join(dir, "index.json"), JSON.stringify({ manifests: [{ size: 1 }] }));
    await assert.rejects(readOciIndex(dir), /invalid manifests list/);
  });
});
