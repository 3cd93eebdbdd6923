import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BuildConfig } from "../../src/buildkit/build-config.js";
import { checkCacheEntry, parseCacheEntry } from "../../src/buildkit/build-options.js";
import { InvalidOptionError, UnsupportedByDaemonError } from "../../src/buildkit/errors.js";
import type { SolveRequest__Output } from "../../src/buildkit/generated/moby/buildkit/v1/SolveRequest.js";
import { protos } from "../../src/buildkit/proto.js";
import { stagedNames } from "../../src/buildkit/push/engine-publish.js";
import { daemonCapabilities, daemonProfile } from "../../src/buildkit/index.js";
import type { DaemonCapabilities } from "../../src/buildkit/index.js";
import type { LocalCacheLookup } from "../../src/buildkit/solve/local-cache.js";
import { planSolve } from "../../src/buildkit/solve/solve-plan.js";

const buildkitd = daemonCapabilities(daemonProfile("buildkitd"), "v0.24.0");
const engine2010 = daemonCapabilities(daemonProfile("engine-classic"), "v0.8");
const engineContainerd = daemonCapabilities(daemonProfile("engine-containerd"), "v0.12");

type Codec = { serialize(v: object): Buffer; deserialize(b: Buffer): SolveRequest__Output };
const codec = protos().control.moby.buildkit.v1.SolveRequest as unknown as Codec;

function refused(run: () => unknown, option: string, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InvalidOptionError, `expected an InvalidOptionError, got ${String(error)}`);
    assert.equal(error.option, option);
    assert.match(error.message, message);
    return true;
  });
}

describe("type=local cache specs", () => {
  test("exports take dest=DIR and mode; imports take src=DIR; relative directories resolve against cwd", () => {
    assert.deepEqual(parseCacheEntry("type=local,dest=cache,mode=max", "export", "--cache-to", "/work/app"), {
      type: "local",
      attrs: { dest: "/work/app/cache", mode: "max" },
    });
    assert.deepEqual(parseCacheEntry("type=local,dest=/abs/cache", "export", "--cache-to", "/work/app"), { type: "local", attrs: { dest: "/abs/cache" } });
    assert.deepEqual(parseCacheEntry("type=local,src=../cache", "import", "--cache-from", "/work/app"), { type: "local", attrs: { src: "/work/cache" } });
    // The object form (BuildConfig) resolves against the process's directory by default.
    assert.deepEqual(checkCacheEntry({ type: "local", attrs: { src: "c" } }, "import", "cacheFrom()"), { type: "local", attrs: { src: resolve("c") } });
  });

  test("wrong fields are refused, naming the option", () => {
    refused(() => parseCacheEntry("type=local", "export", "--cache-to"), "--cache-to", /type=local needs dest=DIR/);
    refused(() => parseCacheEntry("type=local,dest=-", "export", "--cache-to"), "--cache-to", /type=local needs dest=DIR/);
    refused(() => parseCacheEntry("type=local,src=x", "export", "--cache-to"), "--cache-to", /exports take dest= and mode= only, not src=/);
    refused(() => parseCacheEntry("type=local,dest=x,mode=all", "export", "--cache-to"), "--cache-to", /mode must be min or max/);
    refused(() => parseCacheEntry("type=local,dest=x", "import", "--cache-from"), "--cache-from", /imports take src= only, not dest=/);
    refused(() => parseCacheEntry("type=local", "import", "--cache-from"), "--cache-from", /type=local needs src=DIR/);
    refused(() => parseCacheEntry("type=local,src=x,mode=max", "import", "--cache-from"), "--cache-from", /imports take src= only, not mode=/);
    refused(() => parseCacheEntry("type=s3,bucket=b", "export", "--cache-to"), "--cache-to", /unsupported cache type "s3" \(supported: registry, inline, local\)/);
    refused(() => parseCacheEntry("dest=x", "export", "--cache-to"), "--cache-to", /type= is required \(registry, inline or local\)/);
  });
});

describe("type=local caches in the SolveRequest", () => {
  const plan = (config: BuildConfig, capabilities: DaemonCapabilities, lookups: ReadonlyMap<string, LocalCacheLookup> = new Map()) =>
    planSolve(config.build(), { ref: "ref0", sessionId: "sess0", capabilities, stageNames: stagedNames, localCacheImports: lookups });

  test("exports send dest (and mode), imports send src and the digest found in index.json; both stores are served", async (t) => {
    const root = await mkdtemp(join(tmpdir(), "bkb-local-cache-plan-"));
    t.after(() => rm(root, { recursive: true, force: true }));
    await writeFile(join(root, "Dockerfile"), "FROM scratch\n");
    const digest = `sha256:${"a".repeat(64)}`;
    const config = BuildConfig.local(root)
      .cacheFrom(`type=local,src=${root}/in`)
      .cacheFrom("registry.example/app:cache")
      .cacheTo(`type=local,dest=${root}/out,mode=max`);
    const planned = plan(config, buildkitd, new Map([[`${root}/in`, { digest }]]));
    const wire = codec.deserialize(codec.serialize(planned.solve));
    assert.deepEqual(
      wire.Cache?.Imports.map((e) => [e.Type, e.Attrs]),
      [
        ["local", { src: `${root}/in`, digest }],
        ["registry", { ref: "registry.example/app:cache" }],
      ],
    );
    assert.deepEqual(JSON.parse(wire.FrontendAttrs["cache-imports"] ?? "null")[0], { Type: "local", Attrs: { src: `${root}/in`, digest } });
    assert.deepEqual(wire.Cache?.Exports.map((e) => [e.Type, e.Attrs]), [["local", { dest: `${root}/out`, mode: "max" }]]);
    assert.deepEqual([...(planned.localCaches?.stores ?? [])], [
      [`local:${root}/in`, `${root}/in`],
      [`local:${root}/out`, `${root}/out`],
    ]);
    assert.deepEqual(planned.localCaches?.exportDirs, [`${root}/out`]);
    assert.deepEqual(planned.localCaches?.skipped, []);
    // An Engine with a containerd image store runs a BuildKit that has local caches.
    assert.equal(plan(config, engineContainerd, new Map([[`${root}/in`, { digest }]])).localCaches?.stores.size, 2);
  });

  test("an import without a cache yet is left out with the reason, not sent", async (t) => {
    const root = await mkdtemp(join(tmpdir(), "bkb-local-cache-plan-"));
    t.after(() => rm(root, { recursive: true, force: true }));
    await writeFile(join(root, "Dockerfile"), "FROM scratch\n");
    const planned = plan(BuildConfig.local(root).cacheFrom(`type=local,src=${root}/none`), buildkitd, new Map([[`${root}/none`, { skipped: "no index.json yet" }]]));
    assert.deepEqual(planned.solve.Cache?.Imports, []);
    assert.equal(planned.solve.FrontendAttrs?.["cache-imports"], undefined);
    assert.deepEqual(planned.localCaches?.skipped, ["no index.json yet"]);
    assert.equal(planned.localCaches?.stores.size, 0);
  });

  test("Engine 20.10 without containerd refuses local caches both ways, before anything is sent", async (t) => {
    const root = await mkdtemp(join(tmpdir(), "bkb-local-cache-plan-"));
    t.after(() => rm(root, { recursive: true, force: true }));
    await writeFile(join(root, "Dockerfile"), "FROM scratch\n");
    assert.throws(() => plan(BuildConfig.local(root).cacheTo(`type=local,dest=${root}/out`), engine2010), (error: unknown) => {
      assert.ok(error instanceof UnsupportedByDaemonError);
      assert.equal(error.feature, "cache-export");
      assert.match(error.message, /can only export an inline cache \(type=inline\), not type=local; use a standalone buildkitd for registry and local caches/);
      return true;
    });
    assert.throws(() => plan(BuildConfig.local(root).cacheFrom(`type=local,src=${root}/in`), engine2010), (error: unknown) => {
      assert.ok(error instanceof UnsupportedByDaemonError);
      assert.equal(error.feature, "cache-import");
      assert.match(error.message, /cannot import a type=local cache; use a standalone buildkitd for local caches/);
      return true;
    });
  });
});
