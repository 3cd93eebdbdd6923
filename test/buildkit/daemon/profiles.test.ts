import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { UnsupportedByDaemonError, daemonCapabilities, daemonProfile } from "../../../src/buildkit/index.js";
import type { DaemonFeature, DaemonKind } from "../../../src/buildkit/index.js";
import { ENGINE_WORKER_ID, engineProfile, profileFromWorkers } from "../../../src/buildkit/daemon/profiles.js";
import type { WorkerRecord__Output } from "../../../src/buildkit/generated/moby/buildkit/v1/types/WorkerRecord.js";

const KINDS: DaemonKind[] = ["buildkitd", "engine-classic", "engine-containerd"];
const FEATURES: DaemonFeature[] = ["cache-export", "cache-import", "multi-platform-image", "engine-push"];

function worker(id: string): WorkerRecord__Output {
  return { ID: id, Labels: {}, platforms: [], GCPolicy: [], BuildkitVersion: null };
}

describe("daemon profiles", () => {
  test("one profile per kind, found by its key", () => {
    for (const kind of KINDS) assert.equal(daemonProfile(kind).kind, kind);
    assert.deepEqual(KINDS.map((k) => daemonProfile(k).daemon), ["buildkitd", "docker-engine", "docker-engine"]);
  });

  test("how an image is written and pushed", () => {
    assert.deepEqual(KINDS.map((k) => [daemonProfile(k).imageExporter, daemonProfile(k).push]), [
      ["image", "exporter"],
      ["moby", "engine-api"],
      ["moby", "exporter"],
    ]);
  });

  test("buildkitd and the Engine on containerd lack nothing the client asks for and export every cache type", () => {
    for (const kind of ["buildkitd", "engine-containerd"] as const) {
      const profile = daemonProfile(kind);
      for (const feature of FEATURES) assert.equal(profile.refusal(feature, "local"), undefined, `${kind} ${feature}`);
      for (const type of ["registry", "inline", "local"]) assert.equal(profile.exportsCache(type), true, `${kind} ${type}`);
      assert.equal(profile.cacheExportLimit, undefined);
    }
  });

  test("the Engine on its classic store exports only an inline cache, and says so in each refusal", () => {
    const classic = daemonProfile("engine-classic");
    assert.equal(classic.exportsCache("inline"), true);
    assert.equal(classic.exportsCache("registry"), false);
    assert.equal(classic.exportsCache("local"), false);
    assert.match(classic.cacheExportLimit ?? "", /can only export an inline cache/);
    const refused = classic.refusal("cache-export", "registry");
    assert.ok(refused instanceof UnsupportedByDaemonError);
    assert.equal(refused.feature, "cache-export");
    assert.ok(refused.message.startsWith(classic.cacheExportLimit ?? "?"), "the refusal states the same limit");
    assert.match(refused.message, /\(type=inline\), not type=registry; use a standalone buildkitd for registry and local caches$/);
    assert.equal(classic.refusal("cache-export", "inline"), undefined);
    assert.equal(classic.refusal("cache-import", "registry"), undefined);
    assert.match(classic.refusal("cache-import", "local")?.message ?? "", /cannot import a type=local cache/);
    assert.match(classic.refusal("multi-platform-image")?.message ?? "", /cannot export a multi-platform image; build one platform/);
    assert.match(classic.refusal("engine-push")?.message ?? "", /connect with a docker-engine:\/\/ address/);
  });

  test("only buildkitd needs registry.insecure for a loopback cache registry", () => {
    assert.deepEqual(KINDS.map((k) => daemonProfile(k).loopbackRegistryNeedsInsecureFlag), [true, false, false]);
  });
});

describe("choosing the profile while connecting", () => {
  test("an Engine asked through its socket: by its image store", () => {
    assert.equal(engineProfile(false).kind, "engine-classic");
    assert.equal(engineProfile(true).kind, "engine-containerd");
  });

  test("any other address: the Engine's `moby` worker means an Engine, taken for the classic store", () => {
    assert.equal(profileFromWorkers([worker(ENGINE_WORKER_ID)]).kind, "engine-classic");
    assert.equal(profileFromWorkers([worker("x8rq0v3c1kz5"), worker("other")]).kind, "buildkitd");
    assert.equal(profileFromWorkers([]).kind, "buildkitd");
  });

  test("capabilities carry the profile and what the BuildKit version allows", () => {
    const caps = daemonCapabilities(daemonProfile("engine-classic"), "v0.8.2");
    assert.equal(caps.profile.kind, "engine-classic");
    assert.equal(caps.daemon, "docker-engine");
    assert.equal(caps.gitSubdirFragment, false);
    assert.equal(daemonCapabilities(daemonProfile("buildkitd"), "v0.24.0").gitSubdirFragment, true);
  });
});
