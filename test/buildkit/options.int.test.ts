import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, mkdtemp, open, readFile, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { BuildConfig } from "../../src/buildkit/build-config.js";
import { BuildKitClient } from "../../src/buildkit/client.js";
import { EngineApi } from "../../src/buildkit/engine/engine-api.js";
import { StepFailedError, UnsupportedByDaemonError } from "../../src/buildkit/errors.js";
import type { ProgressEvent } from "../../src/buildkit/progress/events.js";
import type { FreshDaemon } from "../support/daemons.js";
import { buildkitdDaemon, freshDaemonSkip, startFreshDaemon, testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { writeTree } from "../support/write-tree.js";
import { MANIFEST_TYPES, readImageConfig, readManifest } from "./registry-reads.js";

const stack = testStack();
const run = promisify(execFile);
const unique = (): string => randomBytes(5).toString("hex");
const engine = new EngineApi(stack.dockerSocket);


async function listFiles(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push(path);
    if (entry.isDirectory()) out.push(...(await listFiles(root, path)));
  }
  return out.sort();
}

function collect(): { events: ProgressEvent[]; onProgress: (e: ProgressEvent) => void } {
  const events: ProgressEvent[] = [];
  return { events, onProgress: (e) => events.push(e) };
}

function logText(events: ProgressEvent[]): string {
  return events.map((e) => (e.type === "log" ? e.data : "")).join("");
}

/** Names of the steps that finished as CACHED. */
function cachedSteps(events: ProgressEvent[]): string[] {
  return events.filter((e) => e.type === "step-cached").map((e) => (e as { name: string }).name);
}

/** Every regular file under `root` whose content contains `needle`. */
async function filesContaining(root: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const path of await listFiles(root)) {
    const info = await lstat(join(root, path));
    if (info.isFile() && (await readFile(join(root, path))).includes(needle)) hits.push(path);
  }
  return hits;
}

for (const daemon of testDaemons()) describe(`every build option on ${daemon.name}`, { skip: daemon.skip, timeout: 900_000 }, () => {
  let client: BuildKitClient;
  let work: string;
  const localImages: string[] = [];

  before(async () => {
    client = await BuildKitClient.connect(daemon.address);
    work = await mkdtemp(join(tmpdir(), "bkb-options-"));
  });
  after(async () => {
    await client?.close();
    for (const image of localImages) await engine.removeImage(image).catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("<Dockerfile>.dockerignore wins over .dockerignore; both keep files out (checked through a type=local export)", { timeout: 120_000 }, async () => {
    const context = await writeTree(join(work, "ignore-ctx"), {
      Dockerfile: "FROM scratch\nCOPY . /\n",
      "release.Dockerfile": "FROM scratch\nCOPY . /\n",
      ".dockerignore": "a.txt\n",
      "release.Dockerfile.dockerignore": "b.txt\n*.Dockerfile*\n",
      "a.txt": "a",
      "b.txt": "b",
    });
    const plain = join(work, "ignore-plain");
    await client.solve(BuildConfig.local(context).output({ type: "local", dest: plain }).build());
    const plainFiles = await listFiles(plain);
    assert.ok(!plainFiles.includes("a.txt") && plainFiles.includes("b.txt"), plainFiles.join(" "));

    const release = join(work, "ignore-release");
    await client.solve(BuildConfig.local(context).dockerfile(join(context, "release.Dockerfile")).output({ type: "local", dest: release }).build());
    assert.deepEqual(await listFiles(release), [".dockerignore", "Dockerfile", "a.txt"]);
  });

  test("file modes, mtimes and symlinks survive the context transfer and the local export", { timeout: 120_000 }, async () => {
    const context = await writeTree(join(work, "stat-ctx"), { Dockerfile: "FROM scratch\nCOPY files /files\n", "files/run.sh": "#!/bin/sh\n", "files/private": "p" });
    await chmod(join(context, "files/run.sh"), 0o750);
    await chmod(join(context, "files/private"), 0o600);
    const mtime = new Date("2001-09-09T01:46:40Z");
    await utimes(join(context, "files/private"), mtime, mtime);
    await run("ln", ["-s", "run.sh", join(context, "files/link")]);
    const dest = join(work, "stat-out");
    await client.solve(BuildConfig.local(context).output({ type: "local", dest }).build());
    assert.equal((await stat(join(dest, "files/run.sh"))).mode & 0o7777, 0o750);
    assert.equal((await stat(join(dest, "files/private"))).mode & 0o7777, 0o600);
    assert.equal((await stat(join(dest, "files/private"))).mtime.getTime(), mtime.getTime());
    assert.ok((await lstat(join(dest, "files/link"))).isSymbolicLink());
  });

  test("a large file is streamed, not held in memory, and arrives intact", { timeout: 300_000 }, async () => {
    const size = 256 * 1024 * 1024;
    const context = await writeTree(join(work, "big-file-ctx"), {
      Dockerfile: `FROM ${stack.baseImage}\nCOPY big.bin /big.bin\nRUN wc -c < /big.bin && md5sum /big.bin\n`,
    });
    const block = randomBytes(1024 * 1024);
    const hash = createHash("md5");
    const file = await open(join(context, "big.bin"), "w");
    try {
      for (let i = 0; i < size / block.length; i++) {
        block.writeUInt32BE(i, 0);
        hash.update(block);
        await file.write(block);
      }
    } finally {
      await file.close();
    }
    const md5 = hash.digest("hex");
    const peakBefore = process.resourceUsage().maxRSS * 1024;
    const { events, onProgress } = collect();
    await client.solve(BuildConfig.local(context).build(), { onProgress });
    const peakAfter = process.resourceUsage().maxRSS * 1024;
    const log = logText(events);
    assert.match(log, new RegExp(`\\b${size}\\b`));
    assert.ok(log.includes(md5), log);
    assert.ok(peakAfter - peakBefore < size / 2, `peak RSS grew by ${Math.round((peakAfter - peakBefore) / 1048576)} MiB for a 256 MiB file`);
  });

  test("a build secret is mounted for RUN --mount=type=secret and absent from the image and the progress", { timeout: 180_000 }, async () => {
    const secret = `s3cret-${unique()}`;
    const context = await writeTree(join(work, "secret-ctx"), {
      Dockerfile:
        `FROM ${stack.baseImage}\n` +
        "RUN --mount=type=secret,id=token cat /run/secrets/token > /dev/null && test -s /run/secrets/token && echo mounted > /secret-was-mounted\n" +
        "RUN test ! -e /run/secrets/token && echo gone > /secret-gone\n",
    });
    const secretFile = join(work, "token.txt");
    await writeFile(secretFile, secret);
    const dest = join(work, "secret.tar");
    const { events, onProgress } = collect();
    await client.solve(BuildConfig.local(context).secretFromFile("token", secretFile).output({ type: "tar", dest }).build(), { onProgress });

    const unpacked = join(work, "secret-unpacked");
    await mkdir(unpacked);
    await run("tar", ["-xf", dest, "-C", unpacked]);
    assert.equal(await readFile(join(unpacked, "secret-was-mounted"), "utf8"), "mounted\n");
    assert.equal(await readFile(join(unpacked, "secret-gone"), "utf8"), "gone\n");
    assert.deepEqual(await filesContaining(unpacked, secret), []);
    assert.ok(!(await readFile(dest)).includes(secret), "the secret is nowhere in the exported tar");
    assert.ok(!JSON.stringify(events).includes(secret), "the secret is nowhere in the progress");

    // Without the secret the same RUN fails: the mount really is what made it pass. (Secrets are not part of the
    // cache key, so the cache has to be off or the earlier result would be reused.)
    const err = await client.solve(BuildConfig.local(context).noCache().build()).then(
      () => assert.fail("the build without the secret succeeded"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StepFailedError, String(err));
  });

  test("target() builds only the chosen stage", { timeout: 120_000 }, async () => {
    const context = await writeTree(join(work, "target-ctx"), {
      Dockerfile: "FROM scratch AS first\nCOPY one.txt /\n\nFROM scratch AS second\nCOPY two.txt /\n",
      "one.txt": "1",
      "two.txt": "2",
    });
    const first = join(work, "target-first");
    await client.solve(BuildConfig.local(context).target("first").output({ type: "local", dest: first }).build());
    assert.deepEqual(await listFiles(first), ["one.txt"]);
    const last = join(work, "target-last");
    await client.solve(BuildConfig.local(context).output({ type: "local", dest: last }).build());
    assert.deepEqual(await listFiles(last), ["two.txt"]);
  });

  test("a rebuild is CACHED; noCache() runs every step again", { timeout: 180_000 }, async () => {
    const context = await writeTree(join(work, "nocache-ctx"), {
      Dockerfile: `FROM ${stack.baseImage}\nRUN echo step-one-${unique()} > /one\nRUN echo step-two > /two\n`,
    });
    await client.solve(BuildConfig.local(context).build());
    const again = collect();
    const cachedRun = await client.solve(BuildConfig.local(context).build(), { onProgress: again.onProgress });
    assert.ok(cachedSteps(again.events).filter((n) => n.includes("RUN")).length === 2, cachedSteps(again.events).join("\n"));
    assert.ok(cachedRun.steps.cached >= 2);

    const fresh = collect();
    const uncached = await client.solve(BuildConfig.local(context).noCache().build(), { onProgress: fresh.onProgress });
    assert.deepEqual(cachedSteps(fresh.events).filter((n) => n.includes("RUN")), []);
    const completedRuns = fresh.events.filter((e) => e.type === "step-completed" && e.name.includes("RUN"));
    assert.equal(completedRuns.length, 2);
    // BuildKit 0.8 may still report the context transfer or the base image's metadata as cached under no-cache;
    // what must never be cached is a Dockerfile instruction.
    const cachedInstructions = cachedSteps(fresh.events).filter((n) => /^\[[^\]]*\d+\/\d+\] (?!FROM)/.test(n));
    assert.deepEqual(cachedInstructions, []);
    assert.ok(uncached.steps.cached < cachedRun.steps.cached, `${uncached.steps.cached} cached steps with noCache()`);
  });

  // Engine only: buildkitd's OCI worker has no image store, so there is no local copy for pull() to bypass.
  if (daemon.kind === "docker-engine") test("pull() (Engine only, it has an image store): without it the Engine's local copy of the base is used, with it the registry's newest", { timeout: 300_000 }, async () => {
    const base = `${stack.registry}/bkb-test/pull-base-${unique()}:latest`;
    const producer = (version: string) =>
      writeTree(join(work, `pull-${version}`), { Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${version} > /version\n` });
    // The registry gets v2; the Engine's own image store holds v1 under the same name.
    await client.solve(BuildConfig.local(await producer("v2")).tag(base).push().build());
    localImages.push(base);
    await client.solve(BuildConfig.local(await producer("v1")).tag(base).build());

    const consumer = await writeTree(join(work, "pull-consumer"), { Dockerfile: `FROM ${base}\nRUN cp /version /seen\n` });
    const cached = join(work, "pull-default");
    await client.solve(BuildConfig.local(consumer).output({ type: "local", dest: cached }).build());
    assert.equal(await readFile(join(cached, "seen"), "utf8"), "v1\n");
    const pulled = join(work, "pull-pulled");
    await client.solve(BuildConfig.local(consumer).pull().output({ type: "local", dest: pulled }).build());
    assert.equal(await readFile(join(pulled, "seen"), "utf8"), "v2\n");
  });

  test(
    daemon.kind === "docker-engine"
      ? "labels and build args end up in the image (read from the Engine's image store)"
      : "labels and build args end up in the image (pushed, read from the registry: buildkitd's OCI worker has no image store)",
    { timeout: 120_000 },
    async () => {
      const context = await writeTree(join(work, "label-ctx"), { Dockerfile: `FROM ${stack.baseImage}\nARG FLAVOUR=none\nLABEL flavour=$FLAVOUR\n` });
      const config = BuildConfig.local(context).buildArg("FLAVOUR", "mint").label("org.example.team", "platform");
      let labels: Record<string, string> | undefined;
      if (daemon.kind === "docker-engine") {
        const name = `bkb-test/labels-${unique()}:1`;
        localImages.push(name);
        await client.solve(config.tag(name).build());
        labels = ((await engine.inspectImage(name)) as { Config?: { Labels?: Record<string, string> } }).Config?.Labels;
      } else {
        const repository = `bkb-test/labels-${unique()}`;
        await client.solve(config.output({ type: "image", names: [`${stack.registry}/${repository}:1`], push: true, insecure: true }).build());
        labels = (await readImageConfig(stack.registry, repository, "1")).config?.Labels;
      }
      assert.equal(labels?.flavour, "mint");
      assert.equal(labels?.["org.example.team"], "platform");
    },
  );

  // Engine only: buildkitd does both (see "options only a standalone buildkitd carries out" below).
  if (daemon.kind === "docker-engine") test("Engine 20.10 limits (Engine only) are plain errors: a multi-platform push, a registry cache export", { timeout: 60_000 }, async () => {
    const capabilities = await client.capabilities();
    assert.equal(capabilities.profile.kind, "engine-classic", "the stack's Engine 20.10 stores images without containerd");
    const context = await writeTree(join(work, "limits-ctx"), { Dockerfile: "FROM scratch\nCOPY Dockerfile /\n" });
    const image = `${stack.registry}/bkb-test/limits-${unique()}:1`;
    await assert.rejects(client.solve(BuildConfig.local(context).platform("linux/amd64", "linux/arm64").tag(image).push().build()), (e: unknown) => {
      assert.ok(e instanceof UnsupportedByDaemonError, String(e));
      assert.match(e.message, /cannot export a multi-platform image; build one platform, or use a standalone buildkitd/);
      return true;
    });
    await assert.rejects(
      client.solve(BuildConfig.local(context).tag(image).push().cacheTo(`type=registry,ref=${image}-cache,mode=max`).build()),
      (e: unknown) => {
        assert.ok(e instanceof UnsupportedByDaemonError, String(e));
        assert.match(e.message, /can only export an inline cache \(type=inline\), not type=registry/);
        return true;
      },
    );
  });

  test(`an inline cache pushed with the image makes a fresh ${daemon.name}'s build CACHED`, { skip: freshDaemonSkip(daemon), timeout: 600_000 }, async () => {
    const mark = unique();
    const dockerfile = `FROM ${stack.baseImage}\nRUN echo first-${mark} > /first\nRUN echo second-${mark} > /second\n`;
    const context = await writeTree(join(work, "inline-ctx"), { Dockerfile: dockerfile });
    const image = `${stack.registry}/bkb-test/inline-${mark}:1`;
    const pushed = await client.solve(BuildConfig.local(context).tag(image).push().cacheTo({ type: "inline" }).build());
    assert.match(pushed.digest ?? "", /^sha256:/);

    // A fresh daemon has no build cache at all: whatever is CACHED there came from the imported image.
    const dir = await mkdtemp("/tmp/bkb-fresh-");
    let fresh: FreshDaemon | undefined;
    let freshClient: BuildKitClient | undefined;
    try {
      fresh = await startFreshDaemon(daemon, dir);
      freshClient = await BuildKitClient.connect(fresh.address);
      const imported = collect();
      await freshClient.solve(BuildConfig.local(context).cacheFrom(image).build(), { onProgress: imported.onProgress });
      const cached = cachedSteps(imported.events);
      assert.ok(cached.some((n) => n.includes(`first-${mark}`)) && cached.some((n) => n.includes(`second-${mark}`)), cached.join("\n"));
    } finally {
      await freshClient?.close();
      await fresh?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const buildkitd = buildkitdDaemon();

describe("options only a standalone buildkitd carries out", { skip: buildkitd.skip, timeout: 900_000 }, () => {
  let client: BuildKitClient;
  let work: string;
  before(async () => {
    client = await BuildKitClient.connect(buildkitd.address);
    work = await mkdtemp(join(tmpdir(), "bkb-options-bkd-"));
  });
  after(async () => {
    await client?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("two platforms pushed give one manifest list with both images; a registry cache exports with mode=max", { timeout: 300_000 }, async () => {
    const content = unique();
    const context = await writeTree(join(work, "multi"), { Dockerfile: "FROM scratch\nCOPY hello.txt /\n", "hello.txt": content });
    const repository = `bkb-test/bkd-multi-${unique()}`;
    const result = await client.solve(
      BuildConfig.local(context)
        .platform("linux/amd64,linux/arm64")
        .output({ type: "image", names: [`${stack.registry}/${repository}:1`], push: true, insecure: true })
        .cacheTo(`type=registry,ref=${stack.registry}/${repository}:cache,mode=max,registry.insecure=true`)
        .build(),
    );
    const pushed = await readManifest(stack.registry, repository, "1");
    assert.equal(pushed.status, 200);
    assert.equal(pushed.digest, result.digest);
    assert.match(pushed.contentType ?? "", /^application\/vnd\.(oci\.image\.index\.v1|docker\.distribution\.manifest\.list\.v2)\+json/);
    const platforms = pushed.manifest.manifests?.filter((m) => m.platform?.os === "linux") ?? [];
    assert.deepEqual(platforms.map((m) => m.platform?.architecture).sort(), ["amd64", "arm64"]);
    for (const entry of platforms) {
      // Each platform's image is in the registry, with the one COPY layer holding hello.txt.
      const image = await readManifest(stack.registry, repository, entry.digest);
      assert.equal(image.status, 200, entry.digest);
      assert.equal(image.manifest.layers?.length, 1);
      const config = await fetch(`http://${stack.registry}/v2/${repository}/blobs/${image.manifest.config?.digest ?? ""}`);
      assert.equal(((await config.json()) as { architecture: string }).architecture, entry.platform?.architecture);
    }
    // BuildKit >= 0.21 writes the registry cache as an OCI image manifest (before: an index), so the request has
    // to accept that type too; an index-only Accept answers 404 although the cache is there.
    const cache = await fetch(`http://${stack.registry}/v2/${repository}/manifests/cache`, { method: "HEAD", headers: { Accept: MANIFEST_TYPES } });
    assert.equal(cache.status, 200);
    assert.match(cache.headers.get("content-type") ?? "", /^application\/vnd\.oci\.image\.(manifest|index)\.v1\+json/);
  });

  test("a registry cache exported with mode=max makes every RUN step CACHED on a fresh buildkitd root", { skip: freshDaemonSkip(buildkitd), timeout: 600_000 }, async () => {
    const mark = unique();
    // Two stages: mode=max exports the intermediate stage's steps too, which mode=min (the final image only) leaves out.
    const context = await writeTree(join(work, `max-${mark}`), {
      Dockerfile:
        `FROM ${stack.baseImage} AS tools\nRUN echo tools-${mark} > /tool\n\n` +
        `FROM ${stack.baseImage}\nCOPY --from=tools /tool /tool\nRUN echo final-${mark} > /final\n`,
    });
    const cacheRef = `${stack.registry}/bkb-test/max-cache-${mark}:cache`;
    await client.solve(BuildConfig.local(context).cacheTo(`type=registry,ref=${cacheRef},mode=max,registry.insecure=true`).build());
    const cache = await readManifest(stack.registry, `bkb-test/max-cache-${mark}`, "cache");
    assert.equal(cache.status, 200, "the cache manifest is in the registry");
    // mode=max really is max: its cache config records the intermediate stage's results, which mode=min (those the
    // result is made of) leaves out.
    await client.solve(BuildConfig.local(context).cacheTo(`type=registry,ref=${cacheRef}-min,mode=min,registry.insecure=true`).build());
    const min = await readManifest(stack.registry, `bkb-test/max-cache-${mark}`, "cache-min");
    const records = async (m: typeof cache): Promise<number> => {
      const res = await fetch(`http://${stack.registry}/v2/bkb-test/max-cache-${mark}/blobs/${m.manifest.config?.digest ?? ""}`);
      return ((await res.json()) as { records: unknown[] }).records.length;
    };
    const [maxRecords, minRecords] = [await records(cache), await records(min)];
    assert.ok(minRecords > 0 && maxRecords > minRecords, `mode=max ${maxRecords} cache records, mode=min ${minRecords}`);

    const dir = await mkdtemp("/tmp/bkb-fresh-bkd-");
    let fresh: FreshDaemon | undefined;
    let freshClient: BuildKitClient | undefined;
    try {
      fresh = await startFreshDaemon(buildkitd, dir);
      freshClient = await BuildKitClient.connect(fresh.address);
      const imported = collect();
      await freshClient.solve(BuildConfig.local(context).cacheFrom(`type=registry,ref=${cacheRef},registry.insecure=true`).build(), {
        onProgress: imported.onProgress,
      });
      const cached = cachedSteps(imported.events);
      assert.ok(cached.some((n) => n.includes(`tools-${mark}`)), `the intermediate stage's RUN is CACHED:\n${cached.join("\n")}`);
      assert.ok(cached.some((n) => n.includes(`final-${mark}`)), `the final stage's RUN is CACHED:\n${cached.join("\n")}`);
      const ran = imported.events.filter((e) => e.type === "step-completed" && e.name.includes("RUN echo"));
      assert.deepEqual(ran, [], "no RUN step ran on the fresh daemon");
    } finally {
      await freshClient?.close();
      await fresh?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
