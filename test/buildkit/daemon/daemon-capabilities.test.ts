import { test } from "node:test";
import assert from "node:assert/strict";
import { engineBuildkitVersion, parseMinorVersion, supportsGitSubdirFragment } from "../../../src/buildkit/daemon/daemon-capabilities.js";

test("versions parse with or without v and build suffixes", () => {
  assert.deepEqual(parseMinorVersion("v0.11.6"), [0, 11]);
  assert.deepEqual(parseMinorVersion("20.10.24+dfsg1"), [20, 10]);
  assert.equal(parseMinorVersion("dev"), undefined);
});

test("Engine 20.10 embeds BuildKit 0.8, later Engines at least 0.10", () => {
  assert.equal(engineBuildkitVersion("20.10.24+dfsg1"), "v0.8");
  assert.equal(engineBuildkitVersion("23.0.1"), "v0.10");
  assert.equal(engineBuildkitVersion("29.2.0"), "v0.10");
  assert.equal(engineBuildkitVersion("19.03.1"), undefined);
});

test("#ref:subdir from BuildKit 0.9 on; unknown versions take the contextsubdir path", () => {
  assert.equal(supportsGitSubdirFragment("v0.8"), false);
  assert.equal(supportsGitSubdirFragment("v0.8.3"), false);
  assert.equal(supportsGitSubdirFragment("v0.9.0"), true);
  assert.equal(supportsGitSubdirFragment("v0.11.6"), true);
  assert.equal(supportsGitSubdirFragment(undefined), false);
});
