import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { NO_BUILDKITD_HINT, locateBuildkitd } from "./buildkitd-binary.js";

describe("locateBuildkitd: variable, then the shared tarball, then PATH", () => {
  let dir: string;
  let onPath: string;
  const noShared = () => join(dir, "no-shared");
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-locate-"));
    onPath = join(dir, "path-bin");
    await mkdir(onPath);
    await writeFile(join(onPath, "buildkitd"), "#!/bin/sh\n");
    await chmod(join(onPath, "buildkitd"), 0o755);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("takes BKB_BUILDKITD_BIN first, and refuses one that is not executable", async () => {
    const found = await locateBuildkitd(join(dir, "bin"), { BKB_BUILDKITD_BIN: join(onPath, "buildkitd"), PATH: "" }, noShared());
    assert.deepEqual(found, { path: join(onPath, "buildkitd"), source: "variable" });
    await assert.rejects(locateBuildkitd(join(dir, "bin"), { BKB_BUILDKITD_BIN: join(dir, "missing") }, noShared()), /BKB_BUILDKITD_BIN=.* is not an executable file/);
  });

  it("without ../shared, takes buildkitd from PATH; with neither, finds none", async () => {
    assert.deepEqual(await locateBuildkitd(join(dir, "bin"), { PATH: `/nonexistent:${onPath}` }, noShared()), {
      path: join(onPath, "buildkitd"),
      source: "path",
    });
    assert.equal(await locateBuildkitd(join(dir, "bin"), { PATH: "/nonexistent" }, noShared()), undefined);
  });

  it("the skip line names every way to provide one", () => {
    for (const way of ["BKB_BUILDKITD_BIN", "PATH", "BKB_TEST_BUILDKITD_ADDR", "runc", "containernetworking-plugins"]) {
      assert.ok(NO_BUILDKITD_HINT.includes(way), way);
    }
    assert.equal(NO_BUILDKITD_HINT.includes("\n"), false);
  });
});
