import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import { planImages } from "../../src/planner/plan.js";
import type { ImageDecision } from "../../src/planner/plan.js";
import type { PlanTarget } from "../../src/planner/plan-target.js";
import type { ImagePlan } from "../../src/queue/job-types.js";
import { imageConfigHash, mergeQueueRefOf } from "../../src/worker/image-identity.js";

const PLAN: ImagePlan = {
  name: "api",
  context: "services/api",
  dockerfile: "services/api/Dockerfile",
  target: "runtime",
  platforms: ["linux/amd64", "linux/arm64"],
  buildArgs: { NODE_ENV: "production", A: "1" },
  labels: { team: "core" },
  secrets: ["npmrc", "pip"],
  tags: ["r/acme/api:pr-4"],
  push: true,
  cache: { imports: ["r/acme/api:buildcache-main"], export: "r/acme/api:buildcache-feature" },
};

test("the config hash ignores where an image goes: name, tags, push, cache, the moving-tags check, the size base, the reuse switch, key order", () => {
  const base = imageConfigHash(PLAN);
  assert.match(base, /^[0-9a-f]{64}$/);
  const elsewhere = {
    ...PLAN,
    name: "other",
    tags: ["r/acme/api:sha-1234567"],
    push: false,
    cache: { imports: [] },
    ifBranchMoved: { branch: "main", tags: [] },
    sizeBase: { branch: "main", reference: "r/acme/api:main" },
    mergeQueueReuse: false,
  } as ImagePlan;
  assert.equal(imageConfigHash(elsewhere), base);
  const reordered = Object.fromEntries(Object.entries(PLAN).reverse()) as unknown as ImagePlan;
  assert.equal(imageConfigHash({ ...reordered, buildArgs: { A: "1", NODE_ENV: "production" }, secrets: ["pip", "npmrc"] }), base, "key order and secrets order do not count");
});

test("the config hash changes with everything that shapes the image", () => {
  const base = imageConfigHash(PLAN);
  const variants: Array<[string, ImagePlan]> = [
    ["context", { ...PLAN, context: "services" }],
    ["dockerfile", { ...PLAN, dockerfile: "services/api/Dockerfile.prod" }],
    ["target", { ...PLAN, target: "debug" }],
    ["no target", (({ target: _, ...p }) => p)(PLAN)],
    ["platforms", { ...PLAN, platforms: ["linux/amd64"] }],
    ["platform order (the index's order)", { ...PLAN, platforms: ["linux/arm64", "linux/amd64"] }],
    ["a build arg's value", { ...PLAN, buildArgs: { NODE_ENV: "development", A: "1" } }],
    ["one more build arg", { ...PLAN, buildArgs: { ...PLAN.buildArgs, B: "2" } }],
    ["labels", { ...PLAN, labels: { team: "web" } }],
    ["secrets", { ...PLAN, secrets: ["npmrc"] }],
    ["checks", { ...PLAN, checksFailOn: "warning" }],
    ["a provenance attestation", { ...PLAN, attestations: { provenance: "min" } } as ImagePlan],
    ["an SBOM too", { ...PLAN, attestations: { provenance: "min", sbom: true } } as ImagePlan],
  ];
  const seen = new Set([base]);
  for (const [what, plan] of variants) {
    const h = imageConfigHash(plan);
    assert.ok(!seen.has(h), `${what} changes the hash`);
    seen.add(h);
  }
});

test("the provenance's mode does not change the hash: a PR's min and a merge group's max attestation are the same image config", () => {
  const min = imageConfigHash({ ...PLAN, attestations: { provenance: "min" } } as ImagePlan);
  assert.equal(imageConfigHash({ ...PLAN, attestations: { provenance: "max" } } as ImagePlan), min);
  assert.notEqual(imageConfigHash({ ...PLAN, attestations: {} } as ImagePlan), min, "none is not min");
  assert.equal(imageConfigHash({ ...PLAN, attestations: {} } as ImagePlan), imageConfigHash(PLAN), "no attestation, however written");
});

test("a pull request's plan and its merge group's plan of the same config have the same hash; reuse: false is planned and not hashed", () => {
  const config = parseRepoConfig(
    "images:\n  - name: app\n    build_args: { A: '1' }\n    labels: { team: core }\n    platforms: [linux/amd64]\n    push: { pull_requests: true }\n    merge_queue: { reuse: false }\n",
  );
  const planOf = (target: PlanTarget): ImagePlan => {
    const [d] = planImages({ target, sha: "a".repeat(40), owner: "acme", repoName: "shop", defaultBranch: "main", config, registryPrefix: "127.0.0.1:5000", latestAllowed: false });
    assert.equal(d?.kind, "build");
    return (d as Extract<ImageDecision, { kind: "build" }>).plan;
  };
  const pr = planOf({ kind: "branch", branch: "feature", pullRequest: { number: 4, baseRef: "main" } });
  const group = planOf({ kind: "branch", branch: `gh-readonly-queue/main/pr-4-${"b".repeat(40)}` });
  assert.notDeepEqual(pr.tags, group.tags);
  assert.equal(group.mergeQueueReuse, false);
  assert.equal(imageConfigHash(pr), imageConfigHash(group));
});

test("a merge group's ref names its base branch, its pull request and that pull request's head", () => {
  const sha = "0123456789abcdef0123456789abcdef01234567";
  assert.deepEqual(mergeQueueRefOf(`refs/heads/gh-readonly-queue/main/pr-5-${sha}`), { base: "main", pr: 5, prHeadSha: sha });
  assert.deepEqual(mergeQueueRefOf(`refs/heads/gh-readonly-queue/release/2.x/pr-1234-${sha}`), { base: "release/2.x", pr: 1234, prHeadSha: sha });
  assert.deepEqual(mergeQueueRefOf(`refs/heads/gh-readonly-queue/main/pr-7-${"e".repeat(64)}`), { base: "main", pr: 7, prHeadSha: "e".repeat(64) });
  for (const ref of [
    undefined,
    "refs/heads/main",
    `gh-readonly-queue/main/pr-5-${sha}`, // not a full ref
    `refs/tags/gh-readonly-queue/main/pr-5-${sha}`,
    `refs/heads/feature/gh-readonly-queue/main/pr-5-${sha}`,
    `refs/heads/gh-readonly-queue/main/pr-5-${sha.slice(0, 39)}`,
    `refs/heads/gh-readonly-queue/main/pr-5-${sha.toUpperCase()}`,
    `refs/heads/gh-readonly-queue/main/pr-0-${sha}`,
    `refs/heads/gh-readonly-queue/main/pr-05-${sha}`,
    `refs/heads/gh-readonly-queue/main/pr-99999999999-${sha}`,
    `refs/heads/gh-readonly-queue//pr-5-${sha}`,
  ]) {
    assert.equal(mergeQueueRefOf(ref), undefined, String(ref));
  }
});
