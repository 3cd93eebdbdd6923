import { test } from "node:test";
import assert from "node:assert/strict";
import { configRef, mergedTargetOfPullRequest, targetOfEvent } from "../../src/planner/plan-target.js";
import type { EventJob, PullRequestRef } from "../../src/queue/job-types.js";

const SHA = "f".repeat(40);
const base: EventJob = {
  deliveryId: "d",
  event: "push",
  reason: "push",
  repository: {
    installationId: 1,
    repoId: 2,
    owner: "o",
    repo: "r",
    private: false,
    defaultBranch: "main",
    cloneUrl: "https://github.com/o/r.git",
  },
  sha: SHA,
  receivedAt: "2026-11-23T08:00:00.000Z",
};
const pr = (fork: boolean): PullRequestRef => ({
  number: 5,
  headRef: "topic",
  headSha: SHA,
  baseRef: "develop",
  baseSha: "e".repeat(40),
  headRepoFullName: fork ? "x/r" : "o/r",
  fork,
});

test("event → plan target", async (t) => {
  const cases: Array<[string, EventJob, ReturnType<typeof targetOfEvent>]> = [
    ["branch push", { ...base, ref: "refs/heads/feature/a" }, { kind: "branch", branch: "feature/a" }],
    ["tag push", { ...base, ref: "refs/tags/v1.0.0" }, { kind: "tag", tag: "v1.0.0" }],
    ["other refs are not built", { ...base, ref: "refs/notes/commits" }, undefined],
    ["deleted branch (sha 000…)", { ...base, ref: "refs/heads/x", sha: "0".repeat(40) }, undefined],
    ["pull request", { ...base, event: "pull_request", pullRequest: pr(false) }, { kind: "pull_request", number: 5, baseRef: "develop", fork: false }],
    ["fork pull request", { ...base, event: "pull_request", pullRequest: pr(true) }, { kind: "pull_request", number: 5, baseRef: "develop", fork: true }],
    [
      "check suite of a same-repo PR branch: merged",
      { ...base, event: "check_suite", ref: "refs/heads/topic", pullRequest: pr(false) },
      { kind: "branch", branch: "topic", pullRequest: { number: 5, baseRef: "develop" } },
    ],
  ];
  for (const [name, job, want] of cases) {
    await t.test(name, () => assert.deepEqual(targetOfEvent(job), want));
  }
});

test("merged target of a same-repo PR; none for forks", () => {
  assert.deepEqual(mergedTargetOfPullRequest({ ...base, pullRequest: pr(false) }), {
    kind: "branch",
    branch: "topic",
    pullRequest: { number: 5, baseRef: "develop" },
  });
  assert.equal(mergedTargetOfPullRequest({ ...base, pullRequest: pr(true) }), undefined);
});

test("config is read at the commit, except for fork PRs: at their base branch", () => {
  assert.equal(configRef({ kind: "branch", branch: "x" }, SHA), SHA);
  assert.equal(configRef({ kind: "pull_request", number: 1, baseRef: "develop", fork: false }, SHA), SHA);
  assert.equal(configRef({ kind: "pull_request", number: 1, baseRef: "develop", fork: true }, SHA), "develop");
});
