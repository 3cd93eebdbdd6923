import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { BuildKitClient } from "../../../src/buildkit/client.js";
import type { GitServer } from "../../support/git-server.js";
import { startGitServer } from "../../support/git-server.js";
import { testStack } from "../../support/stack/env.js";

// Paths only a standalone buildkitd takes: Control.Info and the `image` exporter pushing by itself.
const host = process.env.BUILDKIT_HOST;
const skip = host ? false : "needs a standalone buildkitd: set BUILDKIT_HOST (e.g. unix:///run/buildkit/buildkitd.sock) to run";

describe("standalone buildkitd", { timeout: 600_000 }, () => {
  const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
  let git: GitServer;
  let client: BuildKitClient;

  before(async () => {
    if (!host) return;
    git = await startGitServer({ tokens: [TOKEN] });
    client = await BuildKitClient.connect(host);
  });
  after(async () => {
    if (!host) return;
    await client?.close();
    await git?.close();
  });

  test("health uses Control.Info and reports the BuildKit version", { skip }, async () => {
    const health = await client.health();
    assert.equal(health.daemon, "buildkitd");
    assert.equal(health.infoSupported, true);
    assert.match(health.version?.buildkit ?? "", /^v?\d+\.\d+/);
    assert.ok(health.workers.length > 0 && health.workers.every((w) => w.platforms.length > 0));
  });

  test("the image exporter pushes, and the result digest is the registry's", { skip, timeout: 300_000 }, async () => {
    const stack = testStack();
    const repo = await git.createRepo("octo", `bkd-${randomBytes(4).toString("hex")}`);
    const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${randomBytes(4).toString("hex")} > /x\n` });
    const repository = `bkb-test/bkd-${randomBytes(4).toString("hex")}`;
    const names = [`${stack.registry}/${repository}:latest`];
    const result = await client.solve({
      context: { type: "git", remote: repo.remote, ref: sha },
      gitAuthToken: TOKEN,
      output: { type: "image", names, push: true, insecure: true },
    });
    assert.equal(result.timings.pushMs, 0);
    const res = await fetch(`http://${stack.registry}/v2/${repository}/manifests/latest`, {
      method: "HEAD",
      headers: { Accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-content-digest"), result.digest);
  });
});
