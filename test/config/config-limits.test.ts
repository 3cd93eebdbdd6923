import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  CONFIG_LIMIT_NAMES,
  CONFIG_LIMIT_SPECS,
  CONFIG_LIMITS_VARIABLE,
  ConfigLimitsError,
  configLimitsFromEnv,
  DEFAULT_CONFIG_LIMITS,
  parseConfigLimits,
  schemaNode,
} from "../../src/config/config-limits.js";
import { ConfigError } from "../../src/config/config-error.js";
import { loadRepoConfigSchema } from "../../src/config/config-schema.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";

test("the shipped schema states the same limits as the code's table", () => {
  const schema = loadRepoConfigSchema();
  let stated = 0;
  for (const name of CONFIG_LIMIT_NAMES) {
    for (const { pointer, keyword } of CONFIG_LIMIT_SPECS[name].schema) {
      const node = schemaNode(schema, pointer);
      assert.ok(node, `${pointer} is not in the schema`);
      assert.equal(node[keyword], DEFAULT_CONFIG_LIMITS[name], `${pointer} ${keyword} vs ${name}`);
      stated++;
    }
  }
  assert.equal(stated, 11);
});

test("every maxItems/maxProperties/maxLength in the schema comes from the table (but the image name's)", () => {
  const fromTable = new Set(
    CONFIG_LIMIT_NAMES.flatMap((n) => CONFIG_LIMIT_SPECS[n].schema.map((s) => `${s.pointer} ${s.keyword}`)),
  );
  const found: string[] = [];
  const walk = (node: unknown, pointer: string): void => {
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (["maxItems", "maxProperties", "maxLength"].includes(key)) found.push(`${pointer} ${key}`);
      walk(value, `${pointer}/${key}`);
    }
  };
  walk(loadRepoConfigSchema(), "");
  const unlisted = found.filter((f) => !fromTable.has(f));
  assert.deepEqual(unlisted, ["/$defs/image/properties/name maxLength"]);
  assert.equal(found.length, fromTable.size + 1);
});

test("the README's Limits table lists every limit with its default", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf("## Per-repository configuration"), readme.indexOf("## Command line"));
  for (const name of CONFIG_LIMIT_NAMES) {
    const row = section.split("\n").find((l) => l.startsWith(`| \`${name}\` |`));
    assert.ok(row, `no README row for ${name}`);
    assert.ok(row.includes(`| ${DEFAULT_CONFIG_LIMITS[name]} |`), `README row of ${name}: ${row}`);
  }
  assert.ok(section.includes(CONFIG_LIMITS_VARIABLE));
});

test("BUILDKIT_BOT_CONFIG_LIMITS: unset or blank gives the defaults", () => {
  assert.deepEqual(parseConfigLimits(undefined), DEFAULT_CONFIG_LIMITS);
  assert.deepEqual(parseConfigLimits("  "), DEFAULT_CONFIG_LIMITS);
  assert.deepEqual(configLimitsFromEnv({}), DEFAULT_CONFIG_LIMITS);
});

test("BUILDKIT_BOT_CONFIG_LIMITS as JSON or key=value pairs", () => {
  assert.deepEqual(parseConfigLimits('{"images": 200, "fileBytes": 262144}'), {
    ...DEFAULT_CONFIG_LIMITS,
    images: 200,
    fileBytes: 262144,
  });
  assert.deepEqual(parseConfigLimits("images=200, tagsPerImage=40 nestingDepth=30"), {
    ...DEFAULT_CONFIG_LIMITS,
    images: 200,
    tagsPerImage: 40,
    nestingDepth: 30,
  });
  assert.equal(configLimitsFromEnv({ [CONFIG_LIMITS_VARIABLE]: "aliases=500" }).aliases, 500);
});

test("BUILDKIT_BOT_CONFIG_LIMITS errors name the variable and what is wrong", async (t) => {
  const cases: Array<[string, RegExp]> = [
    ["imgs=5", /unknown limit "imgs" \(known: fileBytes, /],
    ["images=0", /images must be a whole number from 1/],
    ["images=-3", /images must be a whole number/],
    ["images=1.5", /images must be a whole number/],
    ['{"images": "many"}', /images must be a whole number/],
    ["images", /"images" is not key=value/],
    ["{images: 5}", /is not valid JSON/],
    ["[1]", /"\[1\]" is not key=value/],
  ];
  for (const [value, want] of cases) {
    await t.test(value, () => {
      assert.throws(
        () => parseConfigLimits(value),
        (e: unknown) => e instanceof ConfigLimitsError && e.variable === CONFIG_LIMITS_VARIABLE && e.message.startsWith(`${CONFIG_LIMITS_VARIABLE}: `) && want.test(e.message),
      );
    });
  }
});

test("raised limits let through what the defaults reject, the schema included", () => {
  const text = `images:\n${Array.from({ length: 60 }, (_, i) => `  - name: i${i}\n    tags: [${Array.from({ length: 25 }, (_, t) => `t${t}`).join(", ")}]\n`).join("")}`;
  assert.throws(() => parseRepoConfig(text), (e: unknown) => e instanceof ConfigError && /images: 60 entries exceed the limit of 50/.test(e.message));
  const limits = parseConfigLimits("images=60,tagsPerImage=25");
  assert.equal(parseRepoConfig(text, { limits }).images.length, 60);
  const lowered = parseConfigLimits("tagsPerImage=24,images=60");
  assert.throws(() => parseRepoConfig(text, { limits: lowered }), (e: unknown) => e instanceof ConfigError && e.issues.length === 60 && /images\[0\]\.tags: 25 entries exceed the limit of 24/.test(e.message) && e.line === 3);
});

test("a lowered file size limit applies before anything is parsed", () => {
  const limits = parseConfigLimits("fileBytes=16");
  assert.throws(
    () => parseRepoConfig("images: [{name: app}]\n", { limits }),
    (e: unknown) => e instanceof ConfigError && e.message.includes("the file is 22 bytes, over the limit of 16 bytes") && e.line === 1,
  );
});

test("the size limit counts UTF-8 bytes, not characters", () => {
  const limits = parseConfigLimits("fileBytes=40");
  const text = "images: [{name: app}]\n# ééééééééé\n"; // 34 characters, 43 bytes
  assert.equal(text.length, 34);
  assert.throws(() => parseRepoConfig(text, { limits }), /the file is 43 bytes, over the limit of 40 bytes/);
});
