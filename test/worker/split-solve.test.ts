import { test } from "node:test";
import assert from "node:assert/strict";
import type { BuildRequest } from "@buildkit-bot/buildkit";
import { partRequest, platformCacheRef } from "../../src/worker/split-solve.js";

const base: BuildRequest = {
  context: { type: "git", remote: "https://git.example/o/app.git", ref: "0123456789abcdef0123456789abcdef01234567" },
  platforms: ["linux/amd64", "linux/arm64"],
  output: { type: "image", names: ["r.example/o/app:sha-0123456", "r.example/o/app:main"], push: true, insecure: true },
  cacheExports: [{ type: "registry", attrs: { ref: "r.example/o/app:buildcache", mode: "max" } }],
  cacheImports: [{ type: "registry", attrs: { ref: "r.example/o/app:buildcache" } }],
  registryAuth: [{ host: "r.example", username: "u", password: "p" }],
};

test("a part's request: its platforms, pushed by digest under the same names, its own cache tag (imports its own first, then the shared one)", () => {
  const part = partRequest(base, ["linux/arm64"]);
  assert.deepEqual(part.platforms, ["linux/arm64"]);
  assert.deepEqual(part.output, { ...base.output, pushByDigest: true });
  assert.deepEqual(part.cacheExports, [{ type: "registry", attrs: { ref: "r.example/o/app:buildcache-linux-arm64", mode: "max" } }]);
  assert.deepEqual(part.cacheImports?.map((e) => e.attrs?.ref), ["r.example/o/app:buildcache-linux-arm64", "r.example/o/app:buildcache"]);
  assert.equal(part.registryAuth, base.registryAuth);
  assert.deepEqual(base.platforms, ["linux/amd64", "linux/arm64"], "the build's request is left as it was");
});

test("a part of a build that pushes nothing exports nothing", () => {
  const { output: _, ...unpushed } = base;
  assert.equal(partRequest(unpushed, ["linux/amd64"]).output, undefined);
});

test("per-platform cache refs: a tag gets the platform appended (at most 128 characters), a ref without a tag gets it as its tag, a digest is left alone", () => {
  assert.equal(platformCacheRef("127.0.0.1:5000/o/app:cache", ["linux/arm64/v8"]), "127.0.0.1:5000/o/app:cache-linux-arm64-v8");
  assert.equal(platformCacheRef("127.0.0.1:5000/o/app", ["linux/amd64", "linux/386"]), "127.0.0.1:5000/o/app:linux-amd64_linux-386");
  const digest = `r.example/o/app@sha256:${"a".repeat(64)}`;
  assert.equal(platformCacheRef(digest, ["linux/amd64"]), digest);
  const long = platformCacheRef(`r.example/o/app:${"t".repeat(125)}`, ["linux/amd64"]);
  assert.equal(long.slice(long.lastIndexOf(":") + 1).length, 128);
});
