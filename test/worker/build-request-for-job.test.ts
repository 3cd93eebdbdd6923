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
