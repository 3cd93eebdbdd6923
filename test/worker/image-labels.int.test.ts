import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Probot } from "probot";
import type { RegistryConfig } from "../../src/app/app-config.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { workerWorldOfFile } from "./worker-world.js";
import { buildJob, captureLog, unique, registryJson } from "./worker-test-kit.js";

/** The pushed image's config carries the config's labels and the OCI source, revision and created labels (both daemons). */
const stack = testStack();
const INSTALLATION = 79;
const OWNER = "labels";
const captured = captureLog();
const registry: RegistryConfig = { prefix: `${stack.registry}/labels-test`, host: stack.registry };

let fake: FakeGitHub<GitRepo>;
let request: Awaited<ReturnType<Probot["auth"]>>["request"];
let deps: BuildProcessorDeps;

workerWorldOfFile({ label: "labels", installation: INSTALLATION, owner: OWNER, appId: 4303, registry, logger: captured.logger }, (world) => ({ fake, request, deps } = world));

/** The labels of `repository:tag`'s image config, read from the registry (the first real platform of an index). */
async function pushedLabels(repository: string, tag: string): Promise<Record<string, string>> {
  const get = (path: string) => registryJson(stack.registry, repository, path);
  let manifest = await get(`manifests/${tag}`);
  const entries = manifest.manifests as Array<{ digest: string; platform?: { os: string } }> | undefined;
  if (entries) {
    const image = entries.find((m) => m.platform?.os !== "unknown");
    assert.ok(image, "the index has an image");
    manifest = await get(`manifests/${image.digest}`);
  }
  const config = await get(`blobs/${(manifest.config as { digest: string }).digest}`);
  return ((config.config as { Labels?: Record<string, string> } | undefined)?.Labels ?? {}) as Record<string, string>;
}

for (const daemon of testDaemons(stack)) {
  describe(`image labels on ${daemon.name}`, { skip: daemon.skip, timeout: 300_000 }, () => {
    test("the config's labels and the OCI source, revision and created labels are in the pushed image's config", { timeout: 240_000 }, async () => {
      const name = `lbl-${unique()}`;
      const repo = await fake.createRepo(INSTALLATION, OWNER, name, { private: true });
      const sha = await repo.commit({ Dockerfile: "FROM scratch\nLABEL from.dockerfile=yes\nCOPY x.txt /x.txt\n", "x.txt": `${name}\n` });
      const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
      const job = buildJob({
        checkRunId: (data as { id: number }).id,
        installationId: INSTALLATION,
        repoId: repo.id,
        owner: OWNER,
        repo: name,
        private: true,
        cloneUrl: repo.remote,
        sha,
        image: { tags: [`${registry.prefix}/${OWNER}/${name}:main`], push: true, labels: { team: "core", "org.opencontainers.image.licenses": "MIT" } },
      });
      const before = Date.now();

      await createBuildProcessor({ ...deps, buildkitHost: daemon.address })(job, new AbortController().signal);

      const labels = await pushedLabels(`labels-test/${OWNER}/${name}`, "main");
      assert.equal(labels.team, "core");
      assert.equal(labels["org.opencontainers.image.licenses"], "MIT");
      assert.equal(labels["from.dockerfile"], "yes", "the Dockerfile's own LABEL stays");
      assert.equal(labels["org.opencontainers.image.source"], repo.remote.replace(/\.git$/, ""));
      assert.equal(labels["org.opencontainers.image.revision"], sha);
      const created = Date.parse(labels["org.opencontainers.image.created"] ?? "");
      assert.ok(created >= before - 1000 && created <= Date.now(), `created is the build's time (${labels["org.opencontainers.image.created"]})`);
    });
  });
}
