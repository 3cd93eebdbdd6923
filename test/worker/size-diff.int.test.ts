import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import type { Socket } from "node:net";
import path from "node:path";
import { readImageLayers } from "@buildkit-bot/buildkit";
import type { RegistryConfig } from "../../src/app/app-config.js";
import { formatBytes } from "../../src/github/size-diff-output.js";
import type { OctokitRequest } from "../../src/github/octokit-request.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import { imageSizeDiff } from "../../src/worker/size-diff.js";
import { RegistryClient } from "../../src/buildkit/registry/registry-client.js";
import { uploadTinyImage } from "../buildkit/registry/tiny-image.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { testDaemons, buildkitdDaemon } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { startRegistry } from "../support/stack/registry.js";
import type { RegistryInstance } from "../support/stack/registry.js";
import { startWorkerWorld } from "./worker-world.js";
import type { WorkerWorld } from "./worker-world.js";
import { buildJob, captureLog, unique } from "./worker-test-kit.js";

/**
 * The check run of a pushed pull-request build compares the image with the base branch's, layer by layer, read
 * from the registry after the push: real builds on both daemons (a PR that grows the image and one that shrinks
 * it), a two-platform image on buildkitd, and a PR whose base branch has no image yet.
 */
const stack = testStack();
const INSTALLATION = 81;
const OWNER = "sizes";
const captured = captureLog();
const registry: RegistryConfig = { prefix: `${stack.registry}/size-test`, host: stack.registry };
const DOCKERFILE = "FROM scratch\nENV KEEP=1\nCOPY keep.txt /keep.txt\nCOPY grow.txt /grow.txt\n";

let fake: FakeGitHub<GitRepo>;
let request: OctokitRequest;
let deps: BuildProcessorDeps;

let world: WorkerWorld | undefined;
before(async () => {
  world = await startWorkerWorld({
    label: "sizes",
    installation: INSTALLATION,
    owner: OWNER,
    appId: 4305,
    registry,
    logger: captured.logger,
  });
  ({ fake, request, deps } = world);
});
after(async () => {
  await world?.close();
});

/** Text that gzip cannot shrink much, so the layer sizes follow the file sizes. */
const noise = (bytes: number): string => randomBytes(Math.ceil((bytes * 3) / 4)).toString("base64").slice(0, bytes);

interface World {
  repo: Awaited<ReturnType<FakeGitHub<GitRepo>["createRepo"]>>;
  name: string;
  image: string;
}

async function newRepo(prefix = registry.prefix): Promise<World> {
  const name = `size-${unique()}`;
  const repo = await fake.createRepo(INSTALLATION, OWNER, name, { private: true });
  return { repo, name, image: `${prefix}/${OWNER}/${name}` };
}

/** Commits `files` (on top of the last commit) and builds them, pushed as `image:tag`; returns the check run's summary. */
async function build(w: World, daemon: string, tag: string, files: Record<string, string>, image: Partial<BuildJob["image"]> = {}, with_: Partial<BuildProcessorDeps> = {}): Promise<string> {
  const sha = await w.repo.commit(files);
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: w.name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  const checkRunId = (data as { id: number }).id;
  const job = buildJob({ checkRunId, installationId: INSTALLATION, repoId: w.repo.id, owner: OWNER, repo: w.name, private: true, cloneUrl: w.repo.remote, sha, image: { tags: [`${w.image}:${tag}`], push: true, ...image } });
  await createBuildProcessor({ ...deps, ...with_, buildkitHost: daemon })(job, new AbortController().signal);
  const run = fake.checkRun(checkRunId);
  assert.equal(run?.conclusion, "success", run?.output.summary ?? "no check run");
  return run.output.summary ?? "";
}

const vsMain = (w: World) => ({ sizeBase: { branch: "main", reference: `${w.image}:main` } });

/** The sizes of `image:tag`'s layers (first platform), from the registry. */
async function layerSizes(w: World, tag: string): Promise<number[]> {
  const read = await readImageLayers({ name: `${w.image}:${tag}` });
  assert.ok(read);
  return read.platforms[0]!.layers.map((l) => l.size);
}

for (const daemon of testDaemons(stack)) {
  describe(`size diff on ${daemon.name}`, { skip: daemon.skip, timeout: 600_000 }, () => {
    test("a PR that grows the image and one that shrinks it: the total, its change and each layer with its instruction", { timeout: 400_000 }, async () => {
      const w = await newRepo();
      const keep = noise(20_000);
      const mainSummary = await build(w, daemon.address, "main", { Dockerfile: DOCKERFILE, "keep.txt": keep, "grow.txt": noise(5_000) });
      assert.doesNotMatch(mainSummary, /Image size/, "the default branch's own build compares with nothing");
      const [keepSize, smallSize] = await layerSizes(w, "main");

      const grown = await build(w, daemon.address, "pr-1", { "grow.txt": noise(60_000) }, vsMain(w));
      const [, bigSize] = await layerSizes(w, "pr-1");
      const total = keepSize! + bigSize!;
      const change = `+${formatBytes(bigSize! - smallSize!)}, +${(((bigSize! - smallSize!) / (keepSize! + smallSize!)) * 100).toFixed(1)}%`;
      assert.ok(grown.includes(`**Image size:** ${formatBytes(total)} (${change} vs \`main\`)`), grown);
      assert.ok(grown.includes("Layers: 1 added"), grown);
      assert.ok(grown.includes(`| added | ${formatBytes(bigSize!)} | \`COPY grow.txt /grow.txt\` |`), grown);
      assert.ok(grown.includes(`| removed | ${formatBytes(smallSize!)} | \`COPY grow.txt /grow.txt\` |`), grown);
      assert.ok(grown.includes(`| same | ${formatBytes(keepSize!)} | \`COPY keep.txt /keep.txt\` |`), grown);
      assert.ok(grown.indexOf("| added |") < grown.indexOf("| removed |") && grown.indexOf("| removed |") < grown.indexOf("| same |"), grown);

      const shrunk = await build(w, daemon.address, "pr-2", { "grow.txt": "tiny\n" }, vsMain(w));
      const [, tinySize] = await layerSizes(w, "pr-2");
      assert.match(shrunk, new RegExp(`\\*\\*Image size:\\*\\* ${formatBytes(keepSize! + tinySize!)} \\(−${formatBytes(smallSize! - tinySize!)}, −[\\d.]+% vs \`main\`\\)`), shrunk);
      assert.ok(shrunk.includes(`| added | ${formatBytes(tinySize!)} | \`COPY grow.txt /grow.txt\` |`), shrunk);
      assert.ok(shrunk.includes(`| removed | ${formatBytes(smallSize!)} | \`COPY grow.txt /grow.txt\` |`), shrunk);
    });

    test("no base image yet: one line, and the build succeeds", { timeout: 300_000 }, async () => {
      const w = await newRepo();
      const summary = await build(w, daemon.address, "pr-3", { Dockerfile: DOCKERFILE, "keep.txt": "k\n", "grow.txt": "g\n" }, vsMain(w));
      const [a, b] = await layerSizes(w, "pr-3");
      assert.ok(summary.includes(`**Image size:** ${formatBytes(a! + b!)}; no \`main\` image to compare with yet (\`${w.image}:main\` not found)`), summary);
      assert.doesNotMatch(summary, /\| Layer \| Size \|/);
    });
  });
}

const buildkitd = buildkitdDaemon(stack);
describe("size diff of a two-platform image on buildkitd", { skip: buildkitd.skip, timeout: 600_000 }, () => {
  test("each platform's layers are compared with the base's same platform", { timeout: 400_000 }, async () => {
    const w = await newRepo();
    const platforms = ["linux/amd64", "linux/arm64"];
    await build(w, buildkitd.address, "main", { Dockerfile: DOCKERFILE, "keep.txt": noise(10_000), "grow.txt": noise(2_000) }, { platforms });
    const summary = await build(w, buildkitd.address, "pr-4", { "grow.txt": noise(30_000) }, { platforms, ...vsMain(w) });
    assert.match(summary, /\*\*Image size\*\* vs `main`: `linux\/amd64` [\d.]+ kB \(\+[\d.]+ kB, \+[\d.]+%\), `linux\/arm64` [\d.]+ kB \(\+[\d.]+ kB, \+[\d.]+%\)/, summary);
    for (const p of platforms) assert.ok(summary.includes(`\`${p}\`: Layers: 1 added`), summary);
    assert.equal(summary.match(/\| added \| [\d.]+ kB \| `COPY grow\.txt \/grow\.txt` \|/g)?.length, 2, summary);
    assert.equal(summary.match(/\| same \| [\d.]+ kB \| `COPY keep\.txt \/keep\.txt` \|/g)?.length, 2, summary);
  });
});

for (const daemon of testDaemons(stack)) {
  describe(`size diff from a registry that needs credentials, on ${daemon.name}`, { skip: daemon.skip, timeout: 600_000 }, () => {
    const credentials = { username: "pusher", password: `pw-${randomBytes(12).toString("hex")}` };
    let dir: string;
    let reg: RegistryInstance;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), "bkb-size-diff-"));
      reg = await startRegistry({ dir, htpasswd: credentials });
    });
    after(async () => {
      await reg?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test("both images are read with the push's credentials, which appear nowhere", { timeout: 400_000 }, async () => {
      const authed: Partial<BuildProcessorDeps> = { registry: { prefix: `${reg.addr}/auth`, host: reg.addr, credentials } };
      const w = await newRepo(`${reg.addr}/auth`);
      await build(w, daemon.address, "main", { Dockerfile: DOCKERFILE, "keep.txt": noise(8_000), "grow.txt": noise(1_000) }, {}, authed);
      const summary = await build(w, daemon.address, "pr-5", { "grow.txt": noise(9_000) }, vsMain(w), authed);
      assert.match(summary, /\*\*Image size:\*\* [\d.]+ kB \(\+[\d.]+ kB, \+[\d.]+% vs `main`\)/, summary);
      assert.match(summary, /\| added \| [\d.]+ kB \| `COPY grow\.txt \/grow\.txt` \|/, summary);
      await assert.rejects(readImageLayers({ name: `${w.image}:main` }), /401/, "the registry refuses anonymous reads");
      assert.ok(!summary.includes(credentials.password) && !captured.text().includes(credentials.password), "the password is in no summary and no log");
    });
  });
}

describe("size diff when the base cannot be read", () => {
  test("a registry that refuses the connection, or never answers: one line, no error", { timeout: 60_000 }, async () => {
    const repository = `size-test/unread-${unique()}`;
    const client = new RegistryClient({ registry: stack.registry });
    const tiny = await uploadTinyImage(client, repository);
    await client.putManifest(repository, "pr-9", tiny);
    const pushed = [`${stack.registry}/${repository}:pr-9`];
    const jobWithBase = (reference: string): BuildJob =>
      buildJob({ installationId: INSTALLATION, repoId: 1, owner: OWNER, repo: "x", private: true, cloneUrl: "", sha: "0".repeat(40), image: { push: true, sizeBase: { branch: "main", reference } } });

    const refused = await imageSizeDiff(jobWithBase("127.0.0.1:9/x/app:main"), pushed, tiny.digest, { request: {} });
    assert.equal(refused?.platforms, undefined);
    assert.match(refused?.note ?? "", /^not compared with `main`: 127\.0\.0\.1:9: GET \/v2\/x\/app\/manifests\/main: /);

    const sockets = new Set<Socket>();
    const silent = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = silent.address() as { port: number };
      const quiet = await imageSizeDiff(jobWithBase(`127.0.0.1:${port}/x/app:main`), pushed, tiny.digest, { request: {}, timeoutMs: 1_000 });
      assert.deepEqual(quiet, { base: "main", note: "not compared with `main`: the registry did not answer within 1 s" });
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
