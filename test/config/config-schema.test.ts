import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createSchemaValidator, loadRepoConfigSchema, repoConfigValidator } from "../../src/config/config-schema.js";

test("the shipped schema is a valid draft 2020-12 JSON Schema with an $id", () => {
  const schema = loadRepoConfigSchema();
  assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
  assert.match(String(schema.$id), /^https:\/\/.+buildkit-bot\.schema\.json$/);
  const ajv = createSchemaValidator();
  assert.equal(ajv.validateSchema(schema), true, JSON.stringify(ajv.errors));
  assert.equal(typeof ajv.compile(schema), "function");
});

test("the schema file is plain JSON and sits where package.json ships it", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { files: string[] };
  assert.ok(pkg.files.includes("schema"));
  assert.doesNotThrow(() => JSON.parse(readFileSync(new URL("../../schema/buildkit-bot.schema.json", import.meta.url), "utf8")));
});

test("every property of an image is described for editors", () => {
  const schema = loadRepoConfigSchema() as {
    description?: string;
    $defs: { image: { properties: Record<string, { description?: string }> } };
  };
  assert.ok(schema.description);
  const props = schema.$defs.image.properties;
  assert.deepEqual(Object.keys(props).sort(), [
    "build_args", "cache", "checks", "context", "dockerfile", "labels", "merge_queue", "name", "paths", "platforms", "provenance", "push", "repository", "sbom", "secrets", "tags", "target",
  ]);
  for (const [name, prop] of Object.entries(props)) assert.ok(prop.description, `${name} has no description`);
});

test("the validator accepts a full config and rejects unknown keys", () => {
  const validate = repoConfigValidator();
  assert.equal(
    validate({
      images: [
        {
          name: "api",
          platforms: ["linux/arm/v7"],
          build_args: { N: 1 },
          cache: { ref: "r/x" },
          push: { branches: ["main"], tags: ["v*"], pull_requests: true },
        },
      ],
    }),
    true,
  );
  assert.equal(validate({ images: [{ name: "api", extra: 1 }] }), false);
  assert.equal(validate.errors?.[0]?.keyword, "additionalProperties");
});
