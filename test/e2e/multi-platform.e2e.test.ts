import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { testDaemons } from "../support/daemons.js";
import { startE2E } from "./support/e2e-harness.js";
import type { E2E, E2ERepo } from "./support/e2e-harness.js";
import { listTags, manifestDigest } from "./support/registry-api.js";
import { pathComponent } from "../../src/tenancy/index.js";

/**
 * Issue 13: a repository whose `.github/buildkit-bot.yml` asks for two platforms. A standalone buildkitd builds
 * both and the app pushes one manifest list (an index) under every planned tag; Docker Engine 20.10 (graphdriver
 * image store) cannot export a manifest list, and the check run says so instead of pushing half an image.
 */

const TIMEOUT = 240_000;
const PLATFORMS = ["linux/amd64", "linux/arm64"];
const CONFIG = ["images:", "  - name: multi", "    platforms: [linux/amd64, linux/arm64]", ""].join("\n");
const INDEX_TYPES = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

interface IndexManifest {
  mediaType?: string;
  manifests?: Array<{ digest: string; mediaType?: string; platform?: { os: string; architecture: string }; annotations?: Record<string, string> }>;
}

/** The index a tag names, as the registry serves it (and its media type); undefined when the tag is not an index. */
async function readIndex(registry: string, repository: string, tag: string): Promise<{ contentType: string; index: IndexManifest } | undefined> {
  const res = await fetch(`http://${registry}/v2/${repository}/manifests/${tag}`, { headers: { accept: INDEX_TYPES } });
  const contentType = res.headers.get("content-type") ?? "";
  const text = await res.text();
  if (!res.ok || !/index|manifest\.list/.test(contentType)) return undefined;
  return { contentType, index: JSON.parse(text) as IndexManifest };
}

for (const daemon of testDaemons()) {
  describe(`e2e: two platforms from the repository config on ${daemon.name}`, { skip: daemon.skip, timeout: 600_000 }, () => {
    let e2e: E2E;

    before(async () => {
      e2e = await startE2E({ name: `multi-${daemon.kind}`, daemon });
    });

    after(async () => {
      await e2e?.close();
    });

    const pushTwoPlatforms = async (): Promise<{ repo: E2ERepo; repository: string; sha: string }> => {
      const repo = await e2e.createRepo("multi", { "README.md": "hi\n" });
      const { sha } = await e2e.push(repo, {
        ".github/buildkit-bot.yml": CONFIG,
        Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n",
        "hello.txt": `${randomBytes(4).toString("hex")}\n`,
      });
      return { repo, repository: `${e2e.registryPrefix.slice(e2e.registry.addr.length + 1)}/${pathComponent(e2e.owner)}/multi`, sha };
    };

    if (daemon.kind === "buildkitd") {
      it("pushes one index with both platforms under every planned tag; the check run succeeds and names them", { timeout: TIMEOUT }, async () => {
        const { repo, repository, sha } = await pushTwoPlatforms();
        const run = await e2e.completedCheckRun(repo, sha, "buildkit-bot / multi", TIMEOUT);
        assert.equal(run.conclusion, "success", `${run.output.title}\n${run.output.summary}\n${run.output.text ?? ""}`);

        const tags = await listTags(e2e.registry.addr, repository);
        const planned = ["latest", "main", `sha-${sha.slice(0, 7)}`];
        for (const tag of planned) assert.ok(tags.includes(tag), `tag ${tag} in ${tags.join(", ")}`);
        const pushed = await readIndex(e2e.registry.addr, repository, "main");
        assert.ok(pushed, "the main tag is an index, not a single image manifest");
        const platforms = (pushed.index.manifests ?? [])
          .filter((m) => m.platform && m.platform.os !== "unknown")
          .map((m) => `${m.platform?.os}/${m.platform?.architecture}`)
          .sort();
        assert.deepEqual(platforms, PLATFORMS, JSON.stringify(pushed.index));
        for (const child of pushed.index.manifests ?? []) {
          const res = await fetch(`http://${e2e.registry.addr}/v2/${repository}/manifests/${child.digest}`, {
            method: "HEAD",
            headers: { accept: child.mediaType ?? "application/vnd.oci.image.manifest.v1+json" },
          });
          assert.equal(res.status, 200, `the ${child.platform?.architecture ?? "?"} manifest ${child.digest} is in the registry`);
        }

        const digest = await manifestDigest(e2e.registry.addr, repository, "main");
        for (const tag of planned) assert.equal(await manifestDigest(e2e.registry.addr, repository, tag), digest, `${tag} names the same index`);
        assert.ok(run.output.summary?.includes(String(digest)), `the check run shows the index's digest ${digest}:\n${run.output.summary}`);
        for (const platform of PLATFORMS) assert.ok(run.output.summary?.includes(platform), `the check run names ${platform}:\n${run.output.summary}`);
        // A default-branch push carries mode=max provenance: one attestation manifest per platform, each shown.
        const attestations = (pushed.index.manifests ?? []).filter((m) => m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest");
        assert.equal(attestations.length, PLATFORMS.length, JSON.stringify(pushed.index));
        assert.match(run.output.summary ?? "", /\*\*Provenance\*\* \(SLSA, `mode=max`\)/);
        for (const a of attestations) assert.ok(run.output.summary?.includes(a.digest), `the check run shows the attestation ${a.digest}:\n${run.output.summary}`);
        assert.ok(run.output.summary?.includes(`docker buildx imagetools inspect ${e2e.registry.addr}/${repository}@${digest} --format '{{ json .Provenance }}'`), String(run.output.summary));
        assert.equal((await e2e.finalStatus(repo, sha, "multi")).state, "success");
      });
    } else {
      it("refuses before building: the check run fails saying this Engine cannot push a multi-platform image, nothing is pushed", { timeout: TIMEOUT }, async (t) => {
        const { repo, repository, sha } = await pushTwoPlatforms();
        const run = await e2e.completedCheckRun(repo, sha, "buildkit-bot / multi", TIMEOUT);
        const shown = `${run.output.title}\n${run.output.summary}\n${run.output.text ?? ""}`;
        assert.equal(run.conclusion, "failure", shown);
        t.diagnostic(`the check run says: ${shown.replaceAll("\n", " | ")}`);
        assert.match(shown, /cannot export a multi-platform image/, "the check run says what the daemon cannot do");
        assert.match(shown, /standalone buildkitd/, "and what would");
        assert.deepEqual(await listTags(e2e.registry.addr, repository), [], "nothing pushed, not even one platform");
        assert.equal((await e2e.finalStatus(repo, sha, "multi")).state, "failure");
        // Refused before the solve: no step of the Dockerfile ran.
        const page = await (await fetch(String(run.details_url))).text();
        assert.ok(page.includes("multi-platform"), "the log page says why");
        assert.ok(!page.includes("COPY hello.txt"), "no build step in the log");
      });
    }
  });
}
