import { test } from "node:test";
import assert from "node:assert/strict";
import { rootDockerfileConfig } from "../../src/config/default-repo-config.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import type { RepoConfig } from "../../src/config/repo-config.js";
import { planImages } from "../../src/planner/plan.js";
import type { ImageDecision, PlanInput } from "../../src/planner/plan.js";
import { describeTarget, mergeQueueOf, targetOfEvent } from "../../src/planner/plan-target.js";
import type { PlanTarget } from "../../src/planner/plan-target.js";

const SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const QUEUE_BRANCH = `gh-readonly-queue/main/pr-7-${"f".repeat(40)}`;
const REPO = "127.0.0.1:5000/acme/shop";

function plan(config: RepoConfig, extra: Partial<PlanInput> = {}): Extract<ImageDecision, { kind: "build" }> {
  const target: PlanTarget = { kind: "branch", branch: QUEUE_BRANCH };
  const [d] = planImages({
    target,
    sha: SHA,
    owner: "acme",
    repoName: "shop",
    defaultBranch: "main",
    config,
    registryPrefix: "127.0.0.1:5000",
    latestAllowed: true,
    branchCheck: QUEUE_BRANCH,
    ...extra,
  });
  assert.equal(d?.kind, "build");
  return d as Extract<ImageDecision, { kind: "build" }>;
}

test("a merge queue branch is recognised with its base branch and pull request", () => {
  assert.deepEqual(mergeQueueOf(QUEUE_BRANCH), { base: "main", pr: 7 });
  assert.deepEqual(mergeQueueOf(`gh-readonly-queue/release/2.x/pr-12-${"0".repeat(40)}`), { base: "release/2.x", pr: 12 });
  assert.equal(mergeQueueOf("gh-readonly-queue/main"), undefined);
  assert.equal(mergeQueueOf("feature/gh-readonly-queue/main/pr-7-" + "f".repeat(40)), undefined);
  assert.equal(describeTarget({ kind: "branch", branch: QUEUE_BRANCH }), "merge queue of main (PR #7)");
});

test("a merge_group event is planned on its merge queue branch", () => {
  const target = targetOfEvent({
    deliveryId: "d",
    event: "merge_group",
    reason: "push",
    repository: { installationId: 1, repoId: 2, owner: "acme", repo: "shop", private: false, defaultBranch: "main", cloneUrl: "https://x/acme/shop.git" },
    sha: SHA,
    ref: `refs/heads/${QUEUE_BRANCH}`,
    receivedAt: new Date(0).toISOString(),
  });
  assert.deepEqual(target, { kind: "branch", branch: QUEUE_BRANCH });
});

test("a merge group's image gets its commit tag only: no branch tag, no latest, nothing that moves", () => {
  const d = plan(parseRepoConfig("images:\n  - name: shop\n    push: { pull_requests: true, branches: ['**'] }\n"));
  assert.deepEqual(d.plan.tags, [`${REPO}:sha-a1b2c3d`]);
  assert.equal(d.plan.push, true, "pushed as the pull requests' images are");
  assert.equal(d.plan.ifBranchMoved, undefined, "no tag follows the queue branch");
  assert.deepEqual(d.droppedTags.map((t) => t.template), ["{{branch}}"]);
});

test("a merge group keeps the image's own commit templates and drops the others", () => {
  const d = plan(parseRepoConfig("images:\n  - name: shop\n    tags: ['{{branch}}', 'latest', 'git-{{sha}}', 'v-{{short_sha}}']\n    push: { pull_requests: true }\n"));
  assert.deepEqual(d.plan.tags, [`${REPO}:git-${SHA}`, `${REPO}:v-a1b2c3d`]);
  assert.deepEqual(d.droppedTags.map((t) => t.template).sort(), ["latest", "{{branch}}"]);
});

test("a merge group of an image that does not push pull requests is built and not pushed", () => {
  const d = plan(rootDockerfileConfig("shop"));
  assert.equal(d.plan.push, false);
  assert.deepEqual(d.plan.tags, [`${REPO}:sha-a1b2c3d`]);
});

test("a merge group reads its base branch's cache and writes none", () => {
  const d = plan(rootDockerfileConfig("shop"));
  assert.deepEqual(d.plan.cache, { imports: [`${REPO}:buildcache-main`] });
  const fixed = plan(parseRepoConfig(`images:\n  - name: shop\n    cache: { ref: "${REPO}:shared" }\n`));
  assert.deepEqual(fixed.plan.cache, { imports: [`${REPO}:shared`] });
});
