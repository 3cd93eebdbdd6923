import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { ConfigError, REPO_CONFIG_PATH } from "../../src/config/config-error.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";

const fixtures = new URL("../fixtures/config/", import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, fixtures), "utf8");

/** `# expect: <line> | <message start>` comments in an invalid fixture. */
function expectations(text: string): Array<{ line: number; message: string }> {
  return [...text.matchAll(/^# expect: (\d+) \| (.+)$/gm)].map((m) => ({ line: Number(m[1]), message: m[2]! }));
}

function parseError(text: string): ConfigError {
  try {
    parseRepoConfig(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail("the config parsed without error");
}

for (const name of readdirSync(new URL("invalid/", fixtures)).sort()) {
  test(`invalid fixture ${name}: every expected problem is reported on its line`, () => {
    const text = read(`invalid/${name}`);
    const expected = expectations(text);
    assert.ok(expected.length > 0, "fixture has no # expect: comment");
    const err = parseError(text);
    for (const want of expected) {
      const found = err.issues.find((i) => i.message.startsWith(want.message));
      assert.ok(found, `no issue starts with ${JSON.stringify(want.message)}; got:\n${err.issues.map((i) => `${i.line}: ${i.message}`).join("\n")}`);
      assert.equal(found.line, want.line, `line of ${JSON.stringify(want.message)}`);
      assert.equal(found.path, REPO_CONFIG_PATH);
      assert.ok(found.column >= 1);
    }
    assert.equal(err.issues.length, expected.length, `unexpected extra issues:\n${err.issues.map((i) => `${i.line}: ${i.message}`).join("\n")}`);
  });
}

test("the error's own fields and message name the first problem with its line", () => {
  const err = parseError(read("invalid/bad-platform.yml"));
  assert.equal(err.path, ".github/buildkit-bot.yml");
  assert.equal(err.line, 9);
  assert.equal(err.column, 9);
  assert.equal(
    err.message,
    '.github/buildkit-bot.yml: images[1].platforms[0]: "linux/amd64 " is not a valid platform (expected os/arch[/variant], e.g. linux/amd64) — line 9',
  );
});

test("a full config is resolved with every value and default", () => {
  const config = parseRepoConfig(read("valid/full.yml"));
  assert.equal(config.fromFile, true);
  assert.equal(config.images.length, 2);
  const [api, worker] = config.images;
  assert.deepEqual(api, {
    name: "api",
    context: "services/api",
    dockerfile: "services/api/Dockerfile",
    target: "runtime",
    platforms: ["linux/amd64", "linux/arm64", "linux/arm/v7"],
    buildArgs: { NODE_VERSION: "20", DEBUG: "false", GREETING: "hello world" },
    paths: ["services/api/**", "libs/**", "!**/*.md"],
    tags: ["{{branch}}", "sha-{{short_sha}}", "{{ tag }}", "v{{major}}"],
    push: { branches: ["main", "release/*"], tags: ["v*"], pullRequests: true },
    cache: { kind: "per-ref", repository: "127.0.0.1:5000/acme/cache/api" },
    repository: "127.0.0.1:5000/acme/api-server",
    line: 3,
    refLines: { cacheRef: 25, repository: 26 },
  });
  assert.deepEqual(worker, {
    name: "worker.v2",
    context: "",
    dockerfile: "docker/worker.Dockerfile",
    platforms: [],
    buildArgs: {},
    paths: [],
    push: { pullRequests: false },
    cache: { kind: "off" },
    line: 27,
  });
});

test("defaults: root context, Dockerfile in it, default push policy, per-ref cache", () => {
  const [app] = parseRepoConfig(read("valid/minimal.yml")).images;
  assert.equal(app?.context, "");
  assert.equal(app?.dockerfile, "Dockerfile");
  assert.deepEqual(app?.push, { pullRequests: false });
  assert.deepEqual(app?.cache, { kind: "per-ref" });
  assert.equal(app?.tags, undefined);
});

test("a cache ref with a tag is one fixed cache; ./app/ is normalised", () => {
  const [app] = parseRepoConfig(read("valid/fixed-cache.yml")).images;
  assert.deepEqual(app?.cache, { kind: "fixed", ref: "ghcr.io/acme/app:buildcache" });
  assert.equal(app?.context, "app");
  assert.equal(app?.dockerfile, "app/Dockerfile");
});

test("every valid fixture parses", () => {
  for (const name of readdirSync(new URL("valid/", fixtures))) {
    assert.doesNotThrow(() => parseRepoConfig(read(`valid/${name}`)), name);
  }
});

test("problems are listed in file order", () => {
  const err = parseError("images:\n  - name: B\n    platforms: [x]\n  - name: ok\n    colour: red\n");
  assert.deepEqual(
    err.issues.map((i) => i.line),
    [2, 3, 5],
  );
});

test("x- keys hold anchors that images merge with <<; the image's own keys win", () => {
  const [api, web] = parseRepoConfig(read("valid/anchors.yml")).images;
  assert.deepEqual(api?.platforms, ["linux/amd64", "linux/arm64"]);
  assert.deepEqual(api?.push.branches, ["main"]);
  assert.deepEqual(web?.platforms, ["linux/amd64"]);
});

test("checks.fail_on: warning is kept per image; none and no checks leave it out", () => {
  const config = parseRepoConfig(
    "images:\n  - name: strict\n    checks:\n      fail_on: warning\n  - name: lax\n    checks:\n      fail_on: none\n  - name: plain\n",
  );
  assert.deepEqual(
    config.images.map((i) => [i.name, i.checksFailOn]),
    [
      ["strict", "warning"],
      ["lax", undefined],
      ["plain", undefined],
    ],
  );
});

test("labels are kept as text per image; an image without labels has none", () => {
  const config = parseRepoConfig("images:\n  - name: api\n    labels:\n      team: core\n      version: 2\n      org.opencontainers.image.licenses: MIT\n  - name: web\n");
  assert.deepEqual(config.images[0]?.labels, { team: "core", version: "2", "org.opencontainers.image.licenses": "MIT" });
  assert.equal(config.images[1]?.labels, undefined);
});

test("provenance and sbom are kept per image as written; absent keys stay absent (the planner applies the defaults)", () => {
  const config = parseRepoConfig(
    "images:\n  - name: quiet\n    provenance: { pushes: none, pull_requests: none }\n  - name: lean\n    provenance: { pushes: min }\n    sbom: true\n  - name: plain\n    sbom: false\n",
  );
  assert.deepEqual(
    config.images.map((i) => [i.name, i.provenance, i.sbom]),
    [
      ["quiet", { pushes: "none", pullRequests: "none" }, undefined],
      ["lean", { pushes: "min" }, true],
      ["plain", undefined, undefined],
    ],
  );
});
