import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BuildConfig } from "../../src/buildkit/build-config.js";
import { BuildKitClient } from "../../src/buildkit/client.js";
import { UnsupportedByDaemonError } from "../../src/buildkit/errors.js";
import type { ProgressEvent } from "../../src/buildkit/progress/events.js";
import { buildkitdDaemon, engineDaemon } from "../support/daemons.js";
import { startBuildkitd } from "../support/stack/buildkitd.js";
import { testStack } from "../support/stack/env.js";
import { writeTree } from "../support/write-tree.js";

const stack = testStack();
const unique = (): string => randomBytes(5).toString("hex");

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/** Checks that `desc` is a blob of `layout` with its size and digest. */
async function checkBlob(layout: string, desc: Descriptor): Promise<void> {
  const [algorithm, hex] = desc.digest.split(":") as [string, string];
  const path = join(layout, "blobs", algorithm, hex);
  assert.equal((await stat(path)).size, desc.size, `size of ${desc.digest}`);
  assert.equal(await sha256(path), desc.digest, `content of ${desc.digest}`);
}

function collect(): { events: ProgressEvent[]; onProgress: (e: ProgressEvent) => void } {
  const events: ProgressEvent[] = [];
  return { events, onProgress: (e) => events.push(e) };
}

function cachedSteps(events: ProgressEvent[]): string[] {
  return events.filter((e) => e.type === "step-cached").map((e) => (e as { name: string }).name);
}

function warnings(events: ProgressEvent[]): string[] {
  return events.filter((e) => e.type === "warning").map((e) => (e as { message: string }).message);
}

const buildkitd = buildkitdDaemon(stack);

describe("type=local cache on buildkitd", { skip: buildkitd.skip, timeout: 900_000 }, () => {
  let client: BuildKitClient;
  let work: string;

  before(async () => {
    client = await BuildKitClient.connect(buildkitd.address);
    work = await mkdtemp(join(tmpdir(), "bkb-local-cache-"));
  });
  after(async () => {
    await client?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("an export with mode=max is an OCI layout a fresh buildkitd imports: both RUN steps CACHED", { skip: !stack.buildkitdBinary && "BKB_TEST_BUILDKITD_BIN is not set", timeout: 600_000 }, async () => {
    const mark = unique();
    const context = await writeTree(join(work, "ctx"), {
      Dockerfile: `FROM ${stack.baseImage}\nRUN echo first-${mark} > /x\nRUN echo second-${mark} > /x\n`,
    });
    const cache = join(work, "cache");
    const exported = await client.solve(BuildConfig.local(context).cacheTo(`type=local,dest=${cache},mode=max`).build());
    assert.ok(exported.exporterResponse["cache.manifest"], JSON.stringify(exported.exporterResponse));

    // The directory is an OCI image layout whose index names the cache manifest under "latest".
    assert.deepEqual(JSON.parse(await readFile(join(cache, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(await readFile(join(cache, "index.json"), "utf8")) as { schemaVersion: number; manifests: Descriptor[] };
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.manifests.length, 1);
    const [top] = index.manifests as [Descriptor];
    assert.equal(top.annotations?.["org.opencontainers.image.ref.name"], "latest");
    assert.equal(top.digest, (JSON.parse(exported.exporterResponse["cache.manifest"] as string) as Descriptor).digest);
    await checkBlob(cache, top);

    // Every blob the manifest names is there with its digest; mode=max exports the layers of both RUN steps.
    const manifest = JSON.parse(await readFile(join(cache, "blobs", "sha256", top.digest.slice("sha256:".length)), "utf8")) as {
      config?: Descriptor;
      layers?: Descriptor[];
      manifests?: Descriptor[];
    };
    const referenced = [...(manifest.config ? [manifest.config] : []), ...(manifest.layers ?? []), ...(manifest.manifests ?? [])];
    assert.ok(referenced.length >= 3, JSON.stringify(manifest));
    for (const desc of referenced) await checkBlob(cache, desc);
    // Nothing half-written is left behind.
    assert.deepEqual((await readdir(cache)).filter((n) => n !== "blobs" && n !== "index.json" && n !== "oci-layout"), []);

    // A fresh daemon has no build cache at all: whatever is CACHED there came from the directory.
    const fresh = await startBuildkitd({ dir: join(work, "fresh-daemon"), binary: stack.buildkitdBinary as string });
    try {
      const freshClient = await BuildKitClient.connect(fresh.address);
      try {
        const imported = collect();
        const result = await freshClient.solve(BuildConfig.local(context).cacheFrom(`type=local,src=${cache}`).build(), { onProgress: imported.onProgress });
        const cached = cachedSteps(imported.events);
        assert.ok(cached.some((n) => n.includes(`first-${mark}`)) && cached.some((n) => n.includes(`second-${mark}`)), cached.join("\n"));
        assert.ok(result.steps.cached >= 2);
        assert.deepEqual(warnings(imported.events), []);
      } finally {
        await freshClient.close();
      }
    } finally {
      await fresh.stop();
    }
  });

  test("a second export into the same directory replaces the latest entry and keeps the other index entries", { timeout: 300_000 }, async () => {
    const cache = join(work, "shared-cache");
    const build = async (mark: string): Promise<Descriptor> => {
      const context = await writeTree(join(work, `ctx-${mark}`), { Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${mark} > /y\n` });
      const result = await client.solve(BuildConfig.local(context).cacheTo({ type: "local", attrs: { dest: cache } }).build());
      return JSON.parse(result.exporterResponse["cache.manifest"] as string) as Descriptor;
    };
    const first = await build(`one-${unique()}`);
    // Another tool's entry in the same layout, e.g. an image tagged by hand.
    const indexPath = join(cache, "index.json");
    const index = JSON.parse(await readFile(indexPath, "utf8")) as { manifests: Descriptor[] };
    const other: Descriptor = { ...first, annotations: { "org.opencontainers.image.ref.name": "pinned" } };
    index.manifests.push(other);
    await writeFile(indexPath, JSON.stringify(index));

    const second = await build(`two-${unique()}`);
    assert.notEqual(second.digest, first.digest);
    const after = JSON.parse(await readFile(indexPath, "utf8")) as { manifests: Descriptor[] };
    const tags = after.manifests.map((m) => [m.annotations?.["org.opencontainers.image.ref.name"], m.digest]);
    assert.deepEqual(tags, [
      ["pinned", first.digest],
      ["latest", second.digest],
    ]);
    await checkBlob(cache, second);
    await checkBlob(cache, first);
  });

  test("importing from a directory without a cache warns and builds without it", { timeout: 120_000 }, async () => {
    const context = await writeTree(join(work, "ctx-empty"), { Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${unique()} > /z\n` });
    const empty = join(work, "no-cache-here");
    const progress = collect();
    await client.solve(BuildConfig.local(context).cacheFrom(`type=local,src=${empty}`).build(), { onProgress: progress.onProgress });
    assert.deepEqual(warnings(progress.events), [`local cache ${empty} has no index.json yet; building without it`]);
  });
});

describe("type=local cache on Docker Engine 20.10", { timeout: 120_000 }, () => {
  let client: BuildKitClient;
  let work: string;

  before(async () => {
    client = await BuildKitClient.connect(engineDaemon(stack).address);
    work = await mkdtemp(join(tmpdir(), "bkb-local-cache-engine-"));
  });
  after(async () => {
    await client?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("an export is refused before the build with a clear message", async () => {
    const context = await writeTree(join(work, "ctx"), { Dockerfile: "FROM scratch\nCOPY Dockerfile /\n" });
    const dest = join(work, "cache-out");
    await assert.rejects(client.solve(BuildConfig.local(context).cacheTo(`type=local,dest=${dest}`).build()), (e: unknown) => {
      assert.ok(e instanceof UnsupportedByDaemonError, String(e));
      assert.equal(e.feature, "cache-export");
      assert.match(e.message, /can only export an inline cache \(type=inline\), not type=local; use a standalone buildkitd/);
      return true;
    });
    await assert.rejects(stat(dest), { code: "ENOENT" });
  });

  test("an import is refused before the build with a clear message", async () => {
    const context = await writeTree(join(work, "ctx2"), { Dockerfile: "FROM scratch\nCOPY Dockerfile /\n" });
    await assert.rejects(client.solve(BuildConfig.local(context).cacheFrom(`type=local,src=${join(work, "cache-in")}`).build()), (e: unknown) => {
      assert.ok(e instanceof UnsupportedByDaemonError, String(e));
      assert.equal(e.feature, "cache-import");
      assert.match(e.message, /cannot import a type=local cache; use a standalone buildkitd for local caches/);
      return true;
    });
  });
});
