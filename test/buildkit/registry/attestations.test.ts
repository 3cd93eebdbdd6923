import { test } from "node:test";
import assert from "node:assert/strict";
import { indexEntries, isAttestationEntry, platformEntries } from "@buildkit-bot/buildkit";
import type { IndexEntry } from "@buildkit-bot/buildkit";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const d = (c: string): string => `sha256:${c.repeat(64)}`;

// The shape BuildKit v0.24 pushes for a single-platform image with provenance (docs/attestations/attestation-storage.md).
const INDEX = {
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [
    { mediaType: OCI_MANIFEST, digest: d("a"), size: 480, platform: { architecture: "amd64", os: "linux" } },
    {
      mediaType: OCI_MANIFEST,
      digest: d("b"),
      size: 566,
      annotations: { "vnd.docker.reference.digest": d("a"), "vnd.docker.reference.type": "attestation-manifest" },
      platform: { architecture: "unknown", os: "unknown" },
    },
  ],
};

test("an index's attestation entries are told from its platform images", () => {
  const entries = indexEntries("application/vnd.oci.image.index.v1+json", JSON.stringify(INDEX)) as IndexEntry[];
  assert.equal(entries.length, 2);
  assert.deepEqual(platformEntries(entries).map((e) => e.digest), [d("a")]);
  assert.deepEqual(entries.filter(isAttestationEntry).map((e) => e.digest), [d("b")]);
});

test("unknown/unknown is an attestation even without the annotation; a marked entry is one whatever its platform", () => {
  assert.equal(isAttestationEntry({ platform: { os: "unknown", architecture: "unknown" } }), true);
  assert.equal(isAttestationEntry({ platform: { os: "linux", architecture: "arm64" }, annotations: { "vnd.docker.reference.type": "attestation-manifest" } }), true);
  assert.equal(isAttestationEntry({ platform: { os: "linux", architecture: "arm64" } }), false);
  assert.equal(isAttestationEntry({}), false);
});

test("a single image manifest has no entries; a manifest list without the media type header is still read by its body", () => {
  assert.equal(indexEntries(OCI_MANIFEST, JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] })), undefined);
  assert.equal(indexEntries("application/json", Buffer.from(JSON.stringify(INDEX)))?.length, 2);
});
