import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/index.js";
import { warmUpConfigTasks } from "../../src/planner/config-task.js";
import type { ImageDecision } from "../../src/planner/plan.js";

test("a config thread's warm-up reads its config and plans it through the path filters and tag templates", () => {
  const { interpreted, planned } = warmUpConfigTasks(DEFAULT_CONFIG_LIMITS);
  assert.ok(interpreted.ok && !Array.isArray(interpreted.value) && interpreted.value.kind === "config", JSON.stringify(interpreted));
  assert.ok(planned?.ok, JSON.stringify(planned));
  const [decision] = planned.value as ImageDecision[];
  assert.equal(decision?.kind, "build");
  assert.deepEqual(decision?.kind === "build" ? [decision.matchedFiles, decision.plan.tags] : undefined, [
    ["src/a.ts"],
    ["registry.invalid/warm-up/warm-up:main", "registry.invalid/warm-up/warm-up:sha-0123456", "registry.invalid/warm-up/warm-up:latest"],
  ]);
});
