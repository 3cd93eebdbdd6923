import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidRequestError } from "../../../src/buildkit/errors.js";
import { stagedNames } from "../../../src/buildkit/push/engine-publish.js";
import { STAGING_TAG_PREFIX, isStagingTag, stagingTag } from "../../../src/buildkit/push/staging-tag.js";
import { placeholderManifest } from "../../../src/buildkit/registry/retire-tag.js";

test("one staged name per distinct repository, tagged with the build's staging tag", () => {
  const names = ["127.0.0.1:5000/owner/app:latest", "127.0.0.1:5000/owner/app:sha-1", "ghcr.io/owner/app:latest", "owner/app"];
  assert.deepEqual(stagedNames(names, "b1"), [
    `127.0.0.1:5000/owner/app:${STAGING_TAG_PREFIX}b1`,
    `ghcr.io/owner/app:${STAGING_TAG_PREFIX}b1`,
    `docker.io/owner/app:${STAGING_TAG_PREFIX}b1`,
  ]);
});

test("different build refs never share a staging tag, even after cleaning up their characters", () => {
  const refs = ["refs/heads/main", "refs-heads-main", "Refs/Heads/Main", "x".repeat(300), "x".repeat(301), "a b"];
  const tags = refs.map(stagingTag);
  assert.equal(new Set(tags).size, refs.length);
  for (const tag of tags) {
    assert.match(tag, /^[\w][\w.-]{0,127}$/);
    assert.ok(isStagingTag(tag));
  }
});

test("invalid input is refused before anything is exported", () => {
  assert.throws(() => stagedNames([], "b1"), InvalidRequestError);
  assert.throws(() => stagedNames(["ghcr.io/o/a:latest"], " "), InvalidRequestError);
  assert.throws(() => stagedNames([`ghcr.io/o/a@sha256:${"a".repeat(64)}`], "b1"), InvalidRequestError);
  assert.throws(() => stagedNames([`ghcr.io/o/a:${STAGING_TAG_PREFIX}x`], "b1"), InvalidRequestError);
});

test("a placeholder manifest is its tag's own: the same bytes for the same tag, other bytes for any other tag, no layers", () => {
  const config = `sha256:${"0".repeat(64)}`;
  assert.deepEqual(placeholderManifest(config, "o/a", "pr-7"), placeholderManifest(config, "o/a", "pr-7"));
  assert.notDeepEqual(placeholderManifest(config, "o/a", "pr-7"), placeholderManifest(config, "o/a", "pr-8"));
  assert.notDeepEqual(placeholderManifest(config, "o/a", "pr-7"), placeholderManifest(config, "o/b", "pr-7"));
  const parsed = JSON.parse(placeholderManifest(config, "o/a", "pr-7").toString("utf8"));
  assert.deepEqual(parsed.layers, []);
  assert.equal(parsed.config.digest, config);
});
