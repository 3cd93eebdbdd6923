import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { configLimitViolations } from "../../src/config/check-config-limits.js";
import { DEFAULT_CONFIG_LIMITS, schemaWithoutLimits } from "../../src/config/config-limits.js";
import {
  createSchemaValidator,
  loadRepoConfigSchema,
  repoConfigShapeValidator,
  repoConfigValidator,
  repoConfigValidatorFingerprint,
  loadRepoConfigSchemaText,
  usePrecompiledRepoConfigValidator,
} from "../../src/config/config-schema.js";
import type { RepoConfigValidator } from "../../src/config/config-schema.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import { ConfigWorkerPool } from "../../src/planner/config-worker-pool.js";
import { GENERATED_VALIDATOR_PATH, repoConfigValidatorModule } from "../../scripts/config-validator.js";

/**
 * The config check threads validate with a module generated ahead of time from the schema (scripts/config-validator.ts),
 * so they load no schema compiler. These tests keep it and the schema from drifting apart: the module on disk is what
 * the schema generates now, and it answers every input exactly as Ajv compiling the schema at run time does.
 */

const REGENERATE = "run `npm run config:gen` (scripts/test.sh and npm run build do)";

async function precompiled(): Promise<RepoConfigValidator> {
  assert.equal(await usePrecompiledRepoConfigValidator(), "precompiled", `the generated validator is missing or stale: ${REGENERATE}`);
  return repoConfigShapeValidator();
}

const runtime = createSchemaValidator().compile(schemaWithoutLimits(loadRepoConfigSchema()));

function sameAnswer(pre: RepoConfigValidator, data: unknown): void {
  const a = pre(data);
  const b = runtime(data);
  assert.equal(a, b, JSON.stringify(data));
  // The errors carry the schema (verbose): compared as data, not by identity.
  assert.deepEqual(JSON.parse(JSON.stringify(pre.errors ?? null)), JSON.parse(JSON.stringify(runtime.errors ?? null)), JSON.stringify(data));
}

test("the generated validator module is what the shipped schema generates now", () => {
  let onDisk: string;
  try {
    onDisk = readFileSync(GENERATED_VALIDATOR_PATH, "utf8");
  } catch {
    assert.fail(`${GENERATED_VALIDATOR_PATH} is missing: ${REGENERATE}`);
  }
  assert.ok(onDisk === repoConfigValidatorModule(), `${GENERATED_VALIDATOR_PATH} is out of date: ${REGENERATE}`);
  assert.ok(onDisk.includes(repoConfigValidatorFingerprint(loadRepoConfigSchemaText())));
});

test("a module generated from another schema is not used: its fingerprint differs", () => {
  const schema = loadRepoConfigSchemaText();
  const other = schema.replace('"additionalProperties": false', '"additionalProperties": true');
  assert.notEqual(other, schema);
  assert.notEqual(repoConfigValidatorFingerprint(other), repoConfigValidatorFingerprint(schema));
  assert.ok(repoConfigValidatorModule(other).includes(repoConfigValidatorFingerprint(other)));
});

const FULL_IMAGE: Record<string, unknown> = {
  name: "api",
  context: "services/api",
  dockerfile: "services/api/Dockerfile",
  target: "prod",
  platforms: ["linux/amd64", "linux/arm/v7"],
  build_args: { N: 1, MODE: "x", ON: true },
  labels: { "org.example.team": "core" },
  tags: ["{{branch}}", "sha-{{short_sha}}"],
  paths: ["services/api/**", "!**/*.md"],
  cache: { ref: "r/x" },
  push: { branches: ["main", "release/*"], tags: ["v*"], pull_requests: true },
  checks: { fail_on: "warning" },
  secrets: ["NPM_TOKEN"],
};

test("the precompiled validator answers as the schema compiled at run time: examples", async () => {
  const pre = await precompiled();
  assert.equal(pre({ images: [FULL_IMAGE] }), true, JSON.stringify(pre.errors));
  const examples: unknown[] = [
    { images: [{ name: "api" }] },
    { images: [FULL_IMAGE, { name: "web", cache: false, repository: "acme/web" }] },
    {},
    [],
    null,
    "images",
    { images: [] },
    { images: [{}] },
    { images: [{ name: "api", extra: 1 }] },
    { images: [{ name: "API with spaces" }] },
    { images: [{ name: "a".repeat(300) }] },
    { images: [{ name: "😀".repeat(100) }] },
    { images: [{ name: "api", platforms: ["linux"] }] },
    { images: [{ name: "api", build_args: { N: [1] } }] },
    { images: [{ name: "api", push: { branches: "main" } }] },
    { images: [{ name: "api", checks: { fail_on: "error" } }] },
    { images: [{ name: "api", cache: "yes" }] },
    { images: [{ name: "api" }], other: true },
  ];
  for (const data of examples) sameAnswer(pre, data);
});

test("the precompiled validator answers as the schema compiled at run time: generated inputs", async () => {
  const pre = await precompiled();
  // Keys and strings the schema knows, so that inputs reach deep into it, mixed with ones it does not.
  const keys = new Set<string>(["extra"]);
  const strings = new Set<string>(["", "main", "v*", "linux/amd64", "linux/arm/v7", "{{branch}}", "r/x", "a b", "😀"]);
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "properties" && typeof value === "object" && value !== null) Object.keys(value).forEach((k) => keys.add(k));
      if ((key === "enum" || key === "const") && value !== undefined) [value].flat().forEach((v) => typeof v === "string" && strings.add(v));
      walk(value);
    }
  };
  walk(loadRepoConfigSchema());
  const key = fc.constantFrom(...keys);
  const value = fc.anything({
    key,
    maxDepth: 3,
    maxKeys: 4,
    values: [fc.constantFrom(...strings), fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null)],
  });
  const image = fc.dictionary(key, value, { maxKeys: 6 });
  // Valid images of many shapes (a subset of FULL_IMAGE's keys), some with one key given an arbitrary value.
  const nearValid = fc
    .tuple(fc.subarray(Object.keys(FULL_IMAGE)), fc.option(fc.tuple(key, value), { freq: 2 }))
    .map(([picked, change]) => ({ ...Object.fromEntries(picked.map((k) => [k, FULL_IMAGE[k]])), name: "api", ...(change ? { [change[0]]: change[1] } : {}) }));
  const config = fc.oneof(
    { arbitrary: fc.record({ images: fc.array(nearValid, { minLength: 1, maxLength: 3 }) }), weight: 4 },
    fc.record({ images: fc.array(fc.oneof(nearValid, image), { maxLength: 3 }) }),
    fc.dictionary(key, value, { maxKeys: 3 }),
    value,
  );
  fc.assert(fc.property(config, (data) => sameAnswer(pre, data)), { numRuns: 2000 });
});

test("within the limits, the schema without its limit keywords answers as the schema with them", () => {
  const withLimits = repoConfigValidator(DEFAULT_CONFIG_LIMITS);
  const within = [
    { images: Array.from({ length: DEFAULT_CONFIG_LIMITS.images }, (_, i) => ({ name: `i${i}` })) },
    { images: [{ name: "api", tags: Array.from({ length: DEFAULT_CONFIG_LIMITS.tagsPerImage }, (_, i) => `t${i}`) }] },
    { images: [{ name: "api", paths: ["a".repeat(DEFAULT_CONFIG_LIMITS.patternLength)] }] },
    { images: [{ name: "api", build_args: Object.fromEntries(Array.from({ length: DEFAULT_CONFIG_LIMITS.buildArgsPerImage }, (_, i) => [`A${i}`, "x"])) }] },
    { images: [{ name: "api", extra: 1 }] },
  ];
  for (const data of within) {
    assert.deepEqual(configLimitViolations(data, DEFAULT_CONFIG_LIMITS), []);
    assert.equal(runtime(data), withLimits(data), JSON.stringify(data).slice(0, 200));
  }
  // Past a limit, configLimitViolations (which runs first) refuses the file; the stripped schema alone would not.
  const over = { images: Array.from({ length: DEFAULT_CONFIG_LIMITS.images + 1 }, (_, i) => ({ name: `i${i}` })) };
  assert.equal(withLimits(over), false);
  assert.equal(runtime(over), true);
  assert.equal(configLimitViolations(over, DEFAULT_CONFIG_LIMITS).length, 1);
});

test("one validator serves raised and default limits: the limits are the account's, not the schema's", async () => {
  await precompiled();
  const images = (n: number) => `images:\n${Array.from({ length: n }, (_, i) => `  - name: i${i}\n`).join("")}`;
  const raised = { ...DEFAULT_CONFIG_LIMITS, images: DEFAULT_CONFIG_LIMITS.images + 10 };
  assert.equal(parseRepoConfig(images(DEFAULT_CONFIG_LIMITS.images + 5), { limits: raised }).images.length, DEFAULT_CONFIG_LIMITS.images + 5);
  assert.throws(() => parseRepoConfig(images(DEFAULT_CONFIG_LIMITS.images + 1)), /images: 51 entries exceed the limit of 50/);
  assert.throws(() => parseRepoConfig(images(raised.images + 1), { limits: raised }), /images: 61 entries exceed the limit of 60/);
});

test("the config check threads validate with the precompiled module", async () => {
  const pool = new ConfigWorkerPool({ size: 1 });
  try {
    await pool.start();
    assert.equal(pool.validator, "precompiled", `the threads compile the schema themselves: ${REGENERATE}`);
    const loaded = await pool.interpret({ kind: "file", text: "images:\n  - name: api\n    extra: 1\n" }, "shop");
    assert.equal(loaded.kind, "invalid");
    assert.match(loaded.kind === "invalid" ? loaded.error.issues[0]!.message : "", /unknown key "extra"/);
  } finally {
    await pool.close();
  }
});
