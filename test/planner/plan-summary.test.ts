import { test } from "node:test";
import assert from "node:assert/strict";
import { renderPlanSummary } from "../../src/planner/plan-summary.js";
import type { ImagePlan } from "../../src/queue/job-types.js";

const plan: ImagePlan = {
  name: "api",
  context: "api",
  dockerfile: "api/Dockerfile",
  target: "prod",
  platforms: ["linux/amd64"],
  buildArgs: {},
  tags: ["r/x:main", "r/x:latest"],
  push: true,
  cache: { imports: ["r/x:buildcache-main"], export: "r/x:buildcache-main" },
};

test("the queued check run says what is built, where it goes and why tags were left out", () => {
  const text = renderPlanSummary({
    plan,
    target: { kind: "branch", branch: "main" },
    droppedTags: [{ template: "{{tag}}", reason: "{{tag}} has no value for this branch build" }],
    matchedFiles: Array.from({ length: 25 }, (_, i) => `api/f${i}.go`),
    configFromFile: true,
  });
  assert.match(text, /Building \*\*api\*\* for branch main\./);
  assert.match(text, /Dockerfile: `api\/Dockerfile` \(context `api`\), target `prod`/);
  assert.match(text, /Pushed as: `r\/x:main`, `r\/x:latest`/);
  assert.match(text, /Cache: from `r\/x:buildcache-main`, saved to `r\/x:buildcache-main`/);
  assert.match(text, /Left out `\{\{tag\}\}`: \{\{tag\}\} has no value/);
  assert.match(text, /`api\/f19.go` and 5 more/);
});

test("unpushed fork build without cache", () => {
  const text = renderPlanSummary({
    plan: { ...plan, push: false, cache: { imports: [] } },
    target: { kind: "pull_request", number: 4, baseRef: "main", fork: true },
    droppedTags: [],
    noCache: true,
    configFromFile: false,
  });
  assert.match(text, /for fork pull request #4 without the build cache/);
  assert.match(text, /Not pushed \(push policy\)/);
  assert.match(text, /Cache: no import, not saved/);
  assert.match(text, /root Dockerfile is built with defaults/);
});
