import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildkitdDaemon } from "../support/daemons.js";
import { startBuildkitd } from "../support/stack/buildkitd.js";
import type { BuildkitdInstance } from "../support/stack/buildkitd.js";
import { testStack } from "../support/stack/env.js";
import { startE2E } from "./support/e2e-harness.js";
import type { E2E } from "./support/e2e-harness.js";
import { listTags, manifestDigest } from "./support/registry-api.js";
import { pathComponent } from "../../src/tenancy/index.js";

/**
 * Issue 17 point 2, through the whole app: the builders file names two buildkitd, each started with
 * `--oci-worker-platform` for one platform and narrowed to it, so no builder serves a two-platform image. A push
 * asking for linux/amd64 and linux/arm64 is split: each platform built on its builder, pushed by digest, and the
 * parts joined into one index under every planned tag; the check run says which builder built which platform.
 */

const TIMEOUT = 300_000;
const daemon = buildkitdDaemon();
const binary = testStack().buildkitdBinary;
const skip = daemon.skip || (binary ? false : "needs the buildkitd binary (BKB_TEST_BUILDKITD_BIN) to start builders of one platform each");
const CONFIG = ["images:", "  - name: split", "    platforms: [linux/amd64, linux/arm64]", ""].join("\n");
const INDEX_TYPES = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

describe("e2e: a two-platform image split over two builders of one platform each", { skip, timeout: 900_000 }, () => {
  let e2e: E2E;
  let dir: string;
  const builders: BuildkitdInstance[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-split-e2e-"));
    for (const platform of ["linux/amd64", "linux/arm64"]) {
      builders.push(await startBuildkitd({ dir: join(dir, platform.replace("/", "-")), binary: binary as string, args: ["--oci-worker-platform", platform] }));
    }
    const buildersFile = join(dir, "builders.yml");
    await writeFile(
      buildersFile,
      ["builders:", `  - name: amd\n    address: ${builders[0]?.address}\n    platforms: [linux/amd64]`, `  - name: arm\n    address: ${builders[1]?.address}\n    platforms: [linux/arm64]`, ""].join("\n"),
    );
    e2e = await startE2E({ name: "split", daemon, env: { BUILDKIT_BOT_BUILDERS_FILE: buildersFile } });
  });

  after(async () => {
    await e2e?.close();
    for (const b of builders) await b.stop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("pushes one index with both platforms under every planned tag, and the check run names each platform's builder", { timeout: TIMEOUT }, async () => {
    const repo = await e2e.createRepo("split", { "README.md": "hi\n" });
    const { sha } = await e2e.push(repo, { ".github/buildkit-bot.yml": CONFIG, Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": `${randomBytes(4).toString("hex")}\n` });
    const run = await e2e.completedCheckRun(repo, sha, "buildkit-bot / split", TIMEOUT);
    const shown = `${run.output.title}\n${run.output.summary}\n${run.output.text ?? ""}`;
    assert.equal(run.conclusion, "success", shown);

    const repository = `${e2e.registryPrefix.slice(e2e.registry.addr.length + 1)}/${pathComponent(e2e.owner)}/split`;
    const planned = ["latest", "main", `sha-${sha.slice(0, 7)}`];
    // Each part exports its own registry cache, beside the branch's cache tag; the parts themselves went by digest.
    const caches = ["buildcache-main-linux-amd64", "buildcache-main-linux-arm64"];
    assert.deepEqual((await listTags(e2e.registry.addr, repository)).sort(), [...planned, ...caches].sort(), "the planned tags, one cache per platform, and no other");
    const digest = await manifestDigest(e2e.registry.addr, repository, "main");
    for (const tag of planned) assert.equal(await manifestDigest(e2e.registry.addr, repository, tag), digest, `${tag} names the index`);
    const res = await fetch(`http://${e2e.registry.addr}/v2/${repository}/manifests/main`, { headers: { accept: INDEX_TYPES } });
    const index = (await res.json()) as { manifests: Array<{ platform?: { os: string; architecture: string } }> };
    const platforms = index.manifests.filter((m) => m.platform && m.platform.os !== "unknown").map((m) => `${m.platform?.os}/${m.platform?.architecture}`).sort();
    assert.deepEqual(platforms, ["linux/amd64", "linux/arm64"], JSON.stringify(index));
    assert.ok(run.output.summary?.includes("`linux/amd64` on `amd`") && run.output.summary.includes("`linux/arm64` on `arm`"), shown);
    assert.equal((await e2e.finalStatus(repo, sha, "split")).state, "success");
  });
});
