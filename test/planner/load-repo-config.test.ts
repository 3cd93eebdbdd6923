import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import { interpretConfigSource } from "../../src/planner/load-repo-config.js";

test("the planner parses a repository's config with the deployment's limits", () => {
  const images = Array.from({ length: 51 }, (_, i) => `  - name: img${i}\n    context: .\n`).join("");
  const text = `images:\n${images}`;
  const byDefault = interpretConfigSource({ kind: "file", text }, "app");
  assert.equal(byDefault.kind, "invalid");
  assert.match(byDefault.kind === "invalid" ? byDefault.error.message : "", /51 entries exceed the limit of 50/);
  const raised = interpretConfigSource({ kind: "file", text }, "app", { ...DEFAULT_CONFIG_LIMITS, images: 60 });
  assert.equal(raised.kind, "config");
  assert.equal(raised.kind === "config" ? raised.config.images.length : 0, 51);
});
