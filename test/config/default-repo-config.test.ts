import { test } from "node:test";
import assert from "node:assert/strict";
import { repositoryPathComponent, rootDockerfileConfig } from "../../src/config/default-repo-config.js";

test("repository names become valid image names", async (t) => {
  const cases: Array<[string, string]> = [
    ["shop", "shop"],
    ["My.Repo", "my.repo"],
    ["Hello_World", "hello_world"],
    ["a--b", "a-b"],
    ["-x-", "x"],
    ["___", "repo"],
  ];
  for (const [raw, want] of cases) {
    await t.test(raw, () => {
      assert.equal(repositoryPathComponent(raw), want);
      assert.match(want, /^[a-z0-9][a-z0-9._-]*$/);
    });
  }
});

test("without a config, the root Dockerfile is one image with defaults", () => {
  const config = rootDockerfileConfig("Shop");
  assert.equal(config.fromFile, false);
  assert.equal(config.images.length, 1);
  assert.deepEqual(config.images[0], {
    name: "shop",
    context: "",
    dockerfile: "Dockerfile",
    platforms: [],
    buildArgs: {},
    paths: [],
    push: { pullRequests: false },
    cache: { kind: "per-ref" },
    line: 0,
  });
});
