import { test } from "node:test";
import assert from "node:assert/strict";
import { gitPinsOf } from "../../src/worker/build-info-pins.js";

const encode = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64");

test("git pins from containerimage.buildinfo (BuildKit v0.10–v0.11)", () => {
  const info = {
    frontend: "dockerfile.v0",
    sources: [
      { type: "docker-image", ref: "docker.io/library/busybox:latest", pin: "sha256:abc" },
      { type: "git", ref: "https://github.com/acme/api.git#refs/pull/4/head", pin: "1".repeat(40) },
    ],
  };
  assert.deepEqual(gitPinsOf({ "containerimage.buildinfo": encode(info) }), ["1".repeat(40)]);
});

test("no buildinfo (Engine 20.10) or an unreadable one: no pins", () => {
  assert.deepEqual(gitPinsOf({ "containerimage.digest": "sha256:1" }), []);
  assert.deepEqual(gitPinsOf({ "containerimage.buildinfo": "not base64 json" }), []);
});
