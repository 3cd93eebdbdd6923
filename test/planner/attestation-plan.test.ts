import { test } from "node:test";
import assert from "node:assert/strict";
import { attestationsFor } from "../../src/planner/attestation-plan.js";
import type { PlanTarget } from "../../src/planner/plan-target.js";

const MAIN: PlanTarget = { kind: "branch", branch: "main" };
const TAG: PlanTarget = { kind: "tag", tag: "v1.2.0" };
const PR: PlanTarget = { kind: "pull_request", number: 4, baseRef: "main", fork: false };
const MERGED_PR: PlanTarget = { kind: "branch", branch: "feature", pullRequest: { number: 4, baseRef: "main" } };

test("by default: max for branch and tag builds, min for pull requests' images (a merged same-repository plan too)", () => {
  assert.deepEqual(attestationsFor(MAIN, {}, true), { attestations: { provenance: "max" } });
  assert.deepEqual(attestationsFor(TAG, {}, true), { attestations: { provenance: "max" } });
  assert.deepEqual(attestationsFor({ kind: "branch", branch: "release/2" }, {}, true), { attestations: { provenance: "max" } });
  assert.deepEqual(attestationsFor(PR, {}, true), { attestations: { provenance: "min" } });
  assert.deepEqual(attestationsFor(MERGED_PR, {}, true), { attestations: { provenance: "min" } });
});

test("the config's modes, none leaving provenance out; sbom passes through; nothing for an image not pushed", () => {
  const quiet = { provenance: { pushes: "min" as const, pullRequests: "none" as const } };
  assert.deepEqual(attestationsFor(MAIN, quiet, true), { attestations: { provenance: "min" } });
  assert.deepEqual(attestationsFor(PR, quiet, true), {});
  assert.deepEqual(attestationsFor(PR, { ...quiet, sbom: true }, true), { attestations: { sbom: true } });
  assert.deepEqual(attestationsFor(TAG, { provenance: { pushes: "none" } }, true), {});
  assert.deepEqual(attestationsFor(MAIN, { sbom: true }, false), {});
});
