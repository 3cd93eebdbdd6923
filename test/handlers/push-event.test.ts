import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pushEventJob } from "../../src/handlers/push-event.js";
import type { HandlerContext } from "../../src/handlers/handler-result.js";
import { adaptPayload, examplePayload, TEST_REPOSITORY } from "../support/webhooks.js";

const ctx: HandlerContext = {
  deliveryId: "d-1",
  appId: 1,
  gitBaseUrl: "https://github.example.com",
  now: () => new Date("2026-01-02T03:04:05Z"),
};
const SHA = "a".repeat(40);

function branchPush(): Record<string, unknown> {
  return adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
}

describe("pushEventJob", () => {
  it("turns a branch push into one event job", () => {
    const payload = branchPush();
    const r = pushEventJob(payload, ctx);
    assert.equal(r.kind, "job");
    if (r.kind !== "job") return;
    assert.deepEqual(r.job.repository, {
      installationId: TEST_REPOSITORY.installationId,
      repoId: TEST_REPOSITORY.repoId,
      owner: "acme",
      repo: "widgets",
      private: true,
      defaultBranch: "main",
      cloneUrl: "https://github.example.com/acme/widgets.git",
    });
    assert.equal(r.job.event, "push");
    assert.equal(r.job.reason, "push");
    assert.equal(r.job.deliveryId, "d-1");
    assert.equal(r.job.ref, "refs/heads/master");
    assert.equal(r.job.sha, payload.after);
    assert.equal(r.job.receivedAt, "2026-01-02T03:04:05.000Z");
  });

  it("lists changed files only when the payload's list is complete", () => {
    const payload = branchPush();
    payload.created = false;
    payload.forced = false;
    payload.before = "b".repeat(40);
    payload.commits = [
      { added: ["a.txt"], modified: ["Dockerfile"], removed: [] },
      { added: [], modified: ["src/x.ts", "a.txt"], removed: ["old.txt"] },
    ];
    const r = pushEventJob(payload, ctx);
    assert.ok(r.kind === "job");
    assert.deepEqual(r.job.changedFiles, ["Dockerfile", "a.txt", "old.txt", "src/x.ts"]);
    assert.equal(r.job.before, "b".repeat(40));

    payload.commits = Array.from({ length: 20 }, () => ({ added: ["f"], modified: [], removed: [] }));
    const capped = pushEventJob(payload, ctx);
    assert.ok(capped.kind === "job");
    assert.equal(capped.job.changedFiles, undefined, "20 commits may be a truncated list");

    payload.commits = [{ added: ["f"], modified: [], removed: [] }];
    payload.forced = true;
    const forced = pushEventJob(payload, ctx);
    assert.ok(forced.kind === "job");
    assert.equal(forced.job.changedFiles, undefined, "a force push's commit list is not the diff");
  });

  it("accepts tag pushes", () => {
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/tags/simple-tag" && p.deleted === false));
    const r = pushEventJob(payload, ctx);
    assert.ok(r.kind === "job");
    assert.equal(r.job.ref, "refs/tags/simple-tag");
    assert.equal(r.job.before, undefined, "a created tag has no previous head");
  });

  it("ignores branch and tag deletions", () => {
    const deletedTag = adaptPayload(examplePayload("push", undefined, (p) => p.deleted === true));
    assert.equal(pushEventJob(deletedTag, ctx).kind, "ignored");
    const zeroAfter = branchPush();
    zeroAfter.after = "0".repeat(40);
    assert.equal(pushEventJob(zeroAfter, ctx).kind, "ignored");
  });

  it("ignores refs that are neither branches nor tags", () => {
    const payload = branchPush();
    payload.ref = "refs/notes/commits";
    const r = pushEventJob(payload, ctx);
    assert.equal(r.kind, "ignored");
  });

  it("reports malformed payloads as invalid instead of throwing", () => {
    const cases: Array<[string, (p: Record<string, unknown>) => void]> = [
      ["no repository", (p) => delete p.repository],
      ["no installation", (p) => delete p.installation],
      ["bad sha", (p) => (p.after = "not-a-sha")],
      ["ref is a number", (p) => (p.ref = 42)],
      ["ref with ..", (p) => (p.ref = "refs/heads/a..b")],
      ["repository id is a string", (p) => ((p.repository as Record<string, unknown>).id = "x")],
    ];
    for (const [name, mutate] of cases) {
      const payload = branchPush();
      mutate(payload);
      const r = pushEventJob(payload, ctx);
      assert.equal(r.kind, "invalid", name);
    }
    assert.equal(pushEventJob(null, ctx).kind, "invalid");
    assert.equal(pushEventJob("text", ctx).kind, "invalid");
    assert.equal(pushEventJob({ ref: "refs/heads/x", after: SHA }, ctx).kind, "invalid");
  });
});
