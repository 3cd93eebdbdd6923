import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { prImagesOfBuild } from "../../src/cleanup/index.js";
import type { BuildJob, BuildOutcome } from "../../src/queue/index.js";
import { buildJob } from "../worker/worker-test-kit.js";

const IMAGE = "registry.example.com/acme/widgets";
const DIGEST = `sha256:${"d".repeat(64)}`;

function prJob(headRef: string, opts: { fork?: boolean; baseRef?: string } = {}): BuildJob {
  return buildJob({
    installationId: 1,
    repoId: 2,
    owner: "acme",
    repo: "widgets",
    private: true,
    cloneUrl: "https://github.com/acme/widgets.git",
    sha: "a".repeat(40),
    ...(opts.fork ? { fork: true } : {}),
    pullRequest: { number: 7, headRef, headSha: "a".repeat(40), baseRef: opts.baseRef ?? "main", baseSha: "b".repeat(40), headRepoFullName: "acme/widgets", fork: opts.fork ?? false },
  });
}

const outcome: BuildOutcome = {
  digest: DIGEST,
  pushedTags: [`${IMAGE}:pr-7`, `${IMAGE}:feature-x`, `${IMAGE}:sha-aaaaaaa`, `${IMAGE}:pr-70`],
  cacheExported: [`${IMAGE}:buildcache-pr-7`],
  durationMs: 1,
  summary: "pushed",
};

describe("prImagesOfBuild", () => {
  it("keeps only the pull request's own pr-N tag (with its digest) and buildcache-pr-N, never a branch or sha tag", () => {
    assert.deepEqual(prImagesOfBuild(prJob("feature-x"), outcome), [
      { ref: `${IMAGE}:pr-7`, kind: "image", digest: DIGEST },
      { ref: `${IMAGE}:buildcache-pr-7`, kind: "cache" },
    ]);
  });

  it("keeps nothing when the head or base branch is itself named pr-N (the tag and cache are then the branch's too)", () => {
    assert.deepEqual(prImagesOfBuild(prJob("PR-7"), outcome), []);
    assert.deepEqual(prImagesOfBuild(prJob("feature-x", { baseRef: "pr-7" }), outcome), []);
  });

  it("keeps nothing of a fork's build or a build that is not a pull request's", () => {
    assert.deepEqual(prImagesOfBuild(prJob("feature-x", { fork: true }), outcome), []);
    const branch = { ...prJob("feature-x") };
    delete branch.pullRequest;
    assert.deepEqual(prImagesOfBuild(branch, outcome), []);
  });
});
