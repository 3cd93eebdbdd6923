import { test } from "node:test";
import assert from "node:assert/strict";
import { daemonCapabilities, daemonProfile } from "../../src/buildkit/index.js";
import type { RegistryConfig } from "../../src/app/app-config.js";
import { buildRequestForJob, dockerfileInContext, isLoopbackRegistry } from "../../src/worker/build-request-for-job.js";
import { buildJob } from "./worker-test-kit.js";

const ENGINE_20_10 = daemonCapabilities(daemonProfile("engine-classic"), "v0.8.2");
const BUILDKITD = daemonCapabilities(daemonProfile("buildkitd"), "v0.11.6");
const REGISTRY: RegistryConfig = { prefix: "ghcr.io/acme", host: "ghcr.io", credentials: { username: "bot", password: "pw-123" } };
const SHA = "a".repeat(40);

const job = (over: Parameters<typeof buildJob>[0]["image"] = {}, fork = false) =>
  buildJob({
    installationId: 1,
    repoId: 2,
    owner: "acme",
    repo: "api",
    private: false,
    cloneUrl: "https://github.com/acme/api.git",
    sha: SHA,
    ...(fork ? { gitRef: "refs/pull/4/head", fork } : {}),
    checkRunId: 3,
    image: { tags: ["ghcr.io/acme/api:main", "ghcr.io/acme/api:sha-aaaaaaa"], push: true, ...over },
  });

test("a push build: the git context at the sha, the planned tags pushed with the registry credentials and the git token", () => {
  const { request, pushTags } = buildRequestForJob(job({ buildArgs: { A: "1" }, target: "prod", platforms: ["linux/amd64"] }), { gitToken: "ghs_x", registry: REGISTRY, capabilities: BUILDKITD });
  assert.deepEqual(request.context, { type: "git", remote: "https://github.com/acme/api.git", ref: SHA });
  assert.equal(request.dockerfile, "Dockerfile");
  assert.equal(request.gitAuthToken, "ghs_x");
  assert.deepEqual(request.output, { type: "image", names: ["ghcr.io/acme/api:main", "ghcr.io/acme/api:sha-aaaaaaa"], push: true });
  assert.deepEqual(request.registryAuth, [{ host: "ghcr.io", username: "bot", password: "pw-123" }]);
  assert.deepEqual(request.buildArgs, { A: "1" });
  assert.equal(request.target, "prod");
  assert.deepEqual(request.platforms, ["linux/amd64"]);
  assert.deepEqual(pushTags, ["ghcr.io/acme/api:main", "ghcr.io/acme/api:sha-aaaaaaa"]);
});

test("a subdirectory context: the Dockerfile path is taken relative to it", () => {
  const { request } = buildRequestForJob(job({ context: "services/api/", dockerfile: "services/api/docker/Dockerfile" }), { registry: REGISTRY, capabilities: ENGINE_20_10 });
  assert.deepEqual(request.context, { type: "git", remote: "https://github.com/acme/api.git", ref: SHA, subdir: "services/api" });
  assert.equal(request.dockerfile, "docker/Dockerfile");
  assert.equal(dockerfileInContext("", "build/Dockerfile"), "build/Dockerfile");
  assert.equal(dockerfileInContext("app", "Dockerfile.app"), "../Dockerfile.app");
});

test("fork pull requests: no token, no registry credentials, no push, no cache export, whatever the plan says", () => {
  const { request, pushTags } = buildRequestForJob(job({ cache: { imports: ["ghcr.io/acme/api:buildcache-main"], export: "ghcr.io/acme/api:buildcache-pr-4" } }, true), {
    gitToken: "ghs_should_not_be_used",
    registry: REGISTRY,
    capabilities: BUILDKITD,
  });
  assert.equal(request.context.type === "git" && request.context.ref, "refs/pull/4/head");
  assert.equal(request.gitAuthToken, undefined);
  assert.equal(request.registryAuth, undefined);
  assert.equal(request.output, undefined);
  assert.equal(request.cacheExports, undefined);
  assert.deepEqual(request.cacheImports, [{ type: "registry", attrs: { ref: "ghcr.io/acme/api:buildcache-main" } }]);
  assert.deepEqual(pushTags, []);
});

test("cache export: a registry cache (mode=max) on buildkitd, an inline cache carried by the cache tag on Engine 20.10", () => {
  const cache = { imports: ["ghcr.io/acme/api:buildcache-main"], export: "ghcr.io/acme/api:buildcache-main" };
  const onBuildkitd = buildRequestForJob(job({ cache }), { registry: REGISTRY, capabilities: BUILDKITD });
  assert.deepEqual(onBuildkitd.request.cacheExports, [{ type: "registry", attrs: { ref: "ghcr.io/acme/api:buildcache-main", mode: "max" } }]);
  assert.deepEqual(onBuildkitd.notes, []);

  const onEngine = buildRequestForJob(job({ cache }), { registry: REGISTRY, capabilities: ENGINE_20_10 });
  assert.deepEqual(onEngine.request.cacheExports, [{ type: "inline" }]);
  assert.ok(onEngine.request.output?.type === "image" && onEngine.request.output.names.includes("ghcr.io/acme/api:buildcache-main"));
  assert.deepEqual(onEngine.pushTags, ["ghcr.io/acme/api:main", "ghcr.io/acme/api:sha-aaaaaaa"], "the cache tag is not a planned tag");
  assert.match(onEngine.notes[0] ?? "", /inline cache/);

  const withContainerd = buildRequestForJob(job({ cache }), { registry: REGISTRY, capabilities: daemonCapabilities(daemonProfile("engine-containerd"), "v0.12.5") });
  assert.equal(withContainerd.request.cacheExports?.[0]?.type, "registry");
});

test("no cache: nothing imported, noCache set; not pushing: no output at all", () => {
  const j = { ...job({ push: false, cache: { imports: ["ghcr.io/acme/api:buildcache-main"] } }), noCache: true };
  const { request, pushTags } = buildRequestForJob(j, { registry: REGISTRY, capabilities: BUILDKITD });
  assert.equal(request.noCache, true);
  assert.equal(request.cacheImports, undefined);
  assert.equal(request.output, undefined);
  assert.deepEqual(pushTags, []);
});

test("loopback registries are plain HTTP; others are not", () => {
  assert.equal(isLoopbackRegistry("127.0.0.1:5000"), true);
  assert.equal(isLoopbackRegistry("127.1.2.3"), true);
  assert.equal(isLoopbackRegistry("localhost:5000"), true);
  assert.equal(isLoopbackRegistry("[::1]:5000"), true);
  assert.equal(isLoopbackRegistry("ghcr.io"), false);
  assert.equal(isLoopbackRegistry("128.0.0.1:5000"), false);
  const localCache = { imports: ["127.0.0.1:5000/acme/api:buildcache-main"], export: "127.0.0.1:5000/acme/api:buildcache-main" };
  const onBuildkitd = buildRequestForJob(job({ tags: ["127.0.0.1:5000/acme/api:main"], cache: localCache }), { registry: { prefix: "127.0.0.1:5000/acme", host: "127.0.0.1:5000" }, capabilities: BUILDKITD });
  assert.equal(onBuildkitd.request.cacheImports?.[0]?.attrs?.["registry.insecure"], "true");
  assert.equal(onBuildkitd.request.cacheExports?.[0]?.attrs?.["registry.insecure"], "true");
  const local = buildRequestForJob(job({ tags: ["127.0.0.1:5000/acme/api:main"], cache: localCache }), { registry: { prefix: "127.0.0.1:5000/acme", host: "127.0.0.1:5000" }, capabilities: ENGINE_20_10 });
  assert.deepEqual(local.request.cacheImports, [{ type: "registry", attrs: { ref: "127.0.0.1:5000/acme/api:buildcache-main" } }], "the Engine needs no attribute");
  assert.ok(local.request.output?.type === "image" && local.request.output.insecure === true);
  assert.equal(local.request.registryAuth, undefined, "no credentials configured, none sent");
  const remote = buildRequestForJob(job(), { registry: REGISTRY, capabilities: ENGINE_20_10 });
  assert.ok(remote.request.output?.type === "image" && remote.request.output.insecure === undefined);
});

test("checks.fail_on: warning adds BUILDKIT_DOCKERFILE_CHECK error=true, keeping the repository's own setting; BuildKit 0.8 gets a note", () => {
  const V024 = daemonCapabilities(daemonProfile("buildkitd"), "v0.24.0");
  const plain = buildRequestForJob(job({ checksFailOn: "warning" }), { registry: REGISTRY, capabilities: V024 });
  assert.deepEqual(plain.request.buildArgs, { BUILDKIT_DOCKERFILE_CHECK: "error=true" });
  assert.equal(plain.checksNote, undefined, "v0.24 runs the checks");

  const skipping = buildRequestForJob(job({ checksFailOn: "warning", buildArgs: { BUILDKIT_DOCKERFILE_CHECK: "skip=FromAsCasing", A: "1" } }), { registry: REGISTRY, capabilities: V024 });
  assert.deepEqual(skipping.request.buildArgs, { BUILDKIT_DOCKERFILE_CHECK: "skip=FromAsCasing;error=true", A: "1" });
  const explicit = buildRequestForJob(job({ checksFailOn: "warning", buildArgs: { BUILDKIT_DOCKERFILE_CHECK: "error=false" } }), { registry: REGISTRY, capabilities: V024 });
  assert.deepEqual(explicit.request.buildArgs, { BUILDKIT_DOCKERFILE_CHECK: "error=false" }, "the repository's own error= wins");

  const none = buildRequestForJob(job({ buildArgs: { A: "1" } }), { registry: REGISTRY, capabilities: V024 });
  assert.deepEqual(none.request.buildArgs, { A: "1" }, "fail_on none adds nothing");

  const engine = buildRequestForJob(job({ checksFailOn: "warning" }), { registry: REGISTRY, capabilities: ENGINE_20_10 });
  assert.match(engine.checksNote ?? "", /^Dockerfile build checks need BuildKit v0\.14 or newer; this builder runs BuildKit v0\.8\.2 \(docker-engine\)/);
  assert.ok(engine.notes.some((n) => n.startsWith("checks: Dockerfile build checks need")), "said in the log too");
  assert.equal(buildRequestForJob(job({ checksFailOn: "warning" }), { registry: REGISTRY, capabilities: BUILDKITD }).checksNote?.includes("v0.11.6"), true);
  assert.equal(buildRequestForJob(job(), { registry: REGISTRY, capabilities: ENGINE_20_10 }).checksNote, undefined, "not asked for: nothing said");
});

test("every image gets the OCI source, revision and created labels; the config's labels are added and win", () => {
  const now = new Date("2026-12-03T09:00:00.000Z");
  const { request } = buildRequestForJob(job(), { registry: REGISTRY, capabilities: BUILDKITD, now });
  assert.deepEqual(request.labels, {
    "org.opencontainers.image.source": "https://github.com/acme/api",
    "org.opencontainers.image.revision": SHA,
    "org.opencontainers.image.created": "2026-12-03T09:00:00.000Z",
  });
  const own = buildRequestForJob(job({ labels: { team: "core", "org.opencontainers.image.source": "https://example.test/mirror" } }), { registry: REGISTRY, capabilities: BUILDKITD, now });
  assert.equal(own.request.labels?.team, "core");
  assert.equal(own.request.labels?.["org.opencontainers.image.source"], "https://example.test/mirror");
  assert.equal(own.request.labels?.["org.opencontainers.image.revision"], SHA);
});

test("the plan's attestations go on a pushing request; a fork or an unpushed build gets none; the Engine 20.10 says why not", () => {
  const max = buildRequestForJob(job({ attestations: { provenance: "max", sbom: true } }), { registry: REGISTRY, capabilities: BUILDKITD });
  assert.deepEqual(max.request.attestations, { provenance: "max", sbom: true });
  assert.equal(max.notes.some((n) => n.startsWith("attestations:")), false);
  assert.equal(buildRequestForJob(job({ attestations: { provenance: "min" }, push: false }), { registry: REGISTRY, capabilities: BUILDKITD }).request.attestations, undefined);
  assert.equal(buildRequestForJob(job({ attestations: { provenance: "min" } }, true), { registry: REGISTRY, capabilities: BUILDKITD }).request.attestations, undefined);
  assert.equal(buildRequestForJob(job({}), { registry: REGISTRY, capabilities: BUILDKITD }).request.attestations, undefined);

  const engine = buildRequestForJob(job({ attestations: { provenance: "max" } }), { registry: REGISTRY, capabilities: ENGINE_20_10 });
  assert.equal(engine.request.attestations, undefined, "the build goes on without them");
  assert.ok(engine.notes.includes("attestations: Provenance attestations need BuildKit v0.11 or newer and an image store that holds an index; this builder runs BuildKit v0.8.2 (docker-engine), so the image was pushed without one."), engine.notes.join("\n"));
});

