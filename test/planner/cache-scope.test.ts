import { test } from "node:test";
import assert from "node:assert/strict";
import { planCache } from "../../src/planner/cache-plan.js";
import type { CacheSetting } from "../../src/config/repo-config.js";
import type { PlanTarget } from "../../src/planner/plan-target.js";

const REPO = "127.0.0.1:5000/builds/acme/app";
const settings: CacheSetting[] = [{ kind: "per-ref" }, { kind: "per-ref", repository: "127.0.0.1:5000/builds/acme/cache" }, { kind: "fixed", ref: "127.0.0.1:5000/builds/acme/cache:shared" }];

/** The refs branch builds read: the base branch's, the default branch's, and the fixed ref. */
function branchRefs(setting: CacheSetting, branches: string[]): string[] {
  return branches.flatMap((branch) => {
    const plan = planCache({ setting, imageRepository: REPO, target: { kind: "branch", branch }, defaultBranch: "main" });
    return plan.export ? [plan.export] : [];
  });
}

test("pull requests, forks or not, never export to a base-branch, default-branch or fixed cache ref; they still import them", () => {
  const prs: PlanTarget[] = [
    { kind: "pull_request", number: 7, baseRef: "develop", fork: false },
    { kind: "pull_request", number: 7, baseRef: "main", fork: true },
    { kind: "pull_request", number: 8, baseRef: "main", fork: false },
    // a branch named like the PR's own cache tag: the PR must not write it
    { kind: "pull_request", number: 9, baseRef: "pr-9", fork: false },
  ];
  for (const setting of settings) {
    const shared = new Set(branchRefs(setting, ["main", "develop", "pr-9"]));
    assert.ok(shared.size > 0);
    for (const target of prs) {
      const plan = planCache({ setting, imageRepository: REPO, target, defaultBranch: "main" });
      const where = `${setting.kind} ${JSON.stringify(target)}`;
      if (plan.export !== undefined) assert.ok(!shared.has(plan.export), `${where} exports ${plan.export}`);
      // The branch caches a PR reads are still imported.
      assert.ok(plan.imports.some((ref) => shared.has(ref)), where);
    }
  }
  // A same-repository PR still keeps a cache of its own.
  assert.equal(planCache({ setting: { kind: "per-ref" }, imageRepository: REPO, target: prs[0]!, defaultBranch: "main" }).export, `${REPO}:buildcache-pr-7`);
  assert.equal(planCache({ setting: settings[2]!, imageRepository: REPO, target: prs[0]!, defaultBranch: "main" }).export, undefined);
  assert.equal(planCache({ setting: { kind: "per-ref" }, imageRepository: REPO, target: prs[3]!, defaultBranch: "main" }).export, undefined);
});
