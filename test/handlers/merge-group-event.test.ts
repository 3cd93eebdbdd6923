import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mergeGroupEventJob } from "../../src/handlers/merge-group-event.js";
import { pushEventJob } from "../../src/handlers/push-event.js";
import type { HandlerContext } from "../../src/handlers/handler-result.js";
import { adaptPayload, examplePayload, TEST_REPOSITORY } from "../support/webhooks.js";

const ctx: HandlerContext = { deliveryId: "d-1", appId: 1, gitBaseUrl: "https://github.example.com", now: () => new Date("2026-01-02T03:04:05Z") };
const QUEUE_REF = "refs/heads/gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64";

function checksRequested(): Record<string, unknown> {
  return adaptPayload(examplePayload("merge_group", "checks_requested"));
}

describe("mergeGroupEventJob", () => {
  it("turns checks_requested into a build of the group's head commit on its queue branch", () => {
    const payload = checksRequested();
    const r = mergeGroupEventJob(payload, ctx);
    assert.equal(r.kind, "job");
    if (r.kind !== "job") return;
    assert.equal(r.job.event, "merge_group");
    assert.equal(r.job.sha, "2ffea6db159f6b6c47a24e778fb9ef40cf6b1c7d");
    assert.equal(r.job.ref, QUEUE_REF);
    assert.equal(r.job.repository.repoId, TEST_REPOSITORY.repoId);
    assert.equal(r.job.mergeGroupDestroyed, undefined);
  });

  it("turns destroyed into a job that carries GitHub's reason (it cancels, builds nothing)", () => {
    const payload = checksRequested();
    payload.action = "destroyed";
    payload.reason = "invalidated";
    const r = mergeGroupEventJob(payload, ctx);
    assert.ok(r.kind === "job");
    assert.equal(r.job.mergeGroupDestroyed, "invalidated");
    assert.equal(r.job.ref, QUEUE_REF);
  });

  it("refuses a head ref outside the merge queue's namespace and a malformed sha", () => {
    const payload = checksRequested();
    (payload.merge_group as Record<string, unknown>).head_ref = "refs/heads/main";
    const r = mergeGroupEventJob(payload, ctx);
    assert.equal(r.kind, "invalid");
    assert.match(r.kind === "invalid" ? r.problem : "", /not a merge queue branch/);
    const badSha = checksRequested();
    (badSha.merge_group as Record<string, unknown>).head_sha = "nope";
    assert.equal(mergeGroupEventJob(badSha, ctx).kind, "invalid");
  });

  it("ignores other actions", () => {
    const payload = checksRequested();
    payload.action = "something_new";
    assert.equal(mergeGroupEventJob(payload, ctx).kind, "ignored");
  });
});

describe("push to a merge queue branch", () => {
  it("is ignored: the merge_group event builds it, so the queue does not build twice", () => {
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
    payload.ref = QUEUE_REF;
    const r = pushEventJob(payload, ctx);
    assert.equal(r.kind, "ignored");
    assert.match(r.kind === "ignored" ? r.reason : "", /merge queue branch/);
    payload.ref = "refs/heads/gh-readonly-queue-lookalike";
    assert.equal(pushEventJob(payload, ctx).kind, "job", "only the queue's own namespace is ignored");
  });
});
