import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import { planImages } from "../../src/planner/plan.js";
import type { PlanTarget } from "../../src/planner/plan-target.js";

const SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const REPO = "127.0.0.1:5000/acme/shop";

/** The plan's sizeBase for `target` under the image config `image` (YAML of one image's keys). */
function sizeBase(target: PlanTarget, image = "push: { pull_requests: true, branches: [main, dev, topic, 'Release/*'] }") {
  const config = parseRepoConfig(`images:\n  - name: shop\n    ${image}\n`);
  const [d] = planImages({ target, sha: SHA, owner: "acme", repoName: "shop", defaultBranch: "main", config, registryPrefix: "127.0.0.1:5000", latestAllowed: true });
  assert.equal(d?.kind, "build");
  return d.kind === "build" ? d.plan.sizeBase : undefined;
}

test("a pushed PR compares with its base branch's moving tag; another branch with the default branch's", () => {
  assert.deepEqual(sizeBase({ kind: "pull_request", number: 7, baseRef: "main", fork: false }), { branch: "main", reference: `${REPO}:main` });
  assert.deepEqual(sizeBase({ kind: "pull_request", number: 7, baseRef: "Release/2.x", fork: false }), { branch: "Release/2.x", reference: `${REPO}:release-2.x` });
  assert.deepEqual(sizeBase({ kind: "branch", branch: "topic" }), { branch: "main", reference: `${REPO}:main` });
  assert.deepEqual(sizeBase({ kind: "branch", branch: "topic", pullRequest: { number: 3, baseRef: "dev" } }), { branch: "dev", reference: `${REPO}:dev` });
});

test("the base's tag comes from the image's templates: the first that does not change with the commit", () => {
  const pr: PlanTarget = { kind: "pull_request", number: 7, baseRef: "main", fork: false };
  assert.deepEqual(sizeBase(pr, "push: { pull_requests: true }\n    tags: ['sha-{{short_sha}}', 'br-{{branch}}']"), { branch: "main", reference: `${REPO}:br-main` });
  // Only commit tags: a push of the default branch still gets `latest`.
  assert.deepEqual(sizeBase(pr, "push: { pull_requests: true }\n    tags: ['sha-{{short_sha}}']"), { branch: "main", reference: `${REPO}:latest` });
});

test("nothing to compare: the default branch, a tag, an unpushed build, a base branch whose builds are not pushed", () => {
  assert.equal(sizeBase({ kind: "branch", branch: "main" }), undefined);
  assert.equal(sizeBase({ kind: "tag", tag: "v1.0.0" }), undefined);
  assert.equal(sizeBase({ kind: "pull_request", number: 7, baseRef: "main", fork: true }), undefined, "a fork's PR is never pushed");
  assert.equal(sizeBase({ kind: "pull_request", number: 7, baseRef: "dev", fork: false }, "push: { pull_requests: true }"), undefined, "dev's builds are not pushed");
});
