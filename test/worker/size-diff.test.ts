import { test } from "node:test";
import assert from "node:assert/strict";
import { compareImages } from "../../src/worker/size-diff.js";

test("layers compare by digest, a repeated layer counted as often as it occurs; platforms by name", () => {
  const layer = (digest: string, size: number, createdBy: string) => ({ digest, size, createdBy });
  const diff = compareImages(
    "main",
    { digest: "sha256:new", platforms: [
      { platform: "linux/amd64", digest: "m1", size: 0, layers: [layer("a", 10, "FROM"), layer("e", 1, "RUN true"), layer("e", 1, "RUN true"), layer("c", 30, "COPY c /")] },
      { platform: "linux/riscv64", digest: "m2", size: 5, layers: [layer("z", 5, "COPY z /")] },
    ] },
    { digest: "sha256:old", platforms: [
      { platform: "linux/amd64", digest: "m3", size: 0, layers: [layer("a", 10, "FROM"), layer("e", 1, "RUN true"), layer("b", 20, "COPY b /")] },
      { platform: "linux/arm64", digest: "m4", size: 0, layers: [] },
    ] },
  );
  assert.deepEqual(diff.platforms?.[0]?.layers.map((l) => [l.change, l.instruction]), [
    ["unchanged", "FROM"], ["unchanged", "RUN true"], ["added", "RUN true"], ["added", "COPY c /"], ["removed", "COPY b /"],
  ]);
  assert.equal(diff.platforms?.[1]?.baseSize, undefined, "a platform the base does not have");
  assert.deepEqual(diff.removedPlatforms, ["linux/arm64"]);
});
