import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkRunEventJob } from "../../src/handlers/check-run-event.js";
import type { HandlerContext } from "../../src/handlers/handler-result.js";
import { issueCommentEventJob } from "../../src/handlers/issue-comment-event.js";
import { FORK_BUILD_ACTION } from "../../src/github/check-run-actions.js";
import { checkRunPayload, issueCommentPayload } from "../e2e/support/payloads.js";
import { adaptPayload, examplePayload, TEST_REPOSITORY } from "../support/webhooks.js";

const ctx: HandlerContext = { deliveryId: "d-comment", appId: 31337, gitBaseUrl: "https://github.com", now: () => new Date("2026-01-01T00:00:00Z") };
type Json = Record<string, unknown>;

describe("issueCommentEventJob", () => {
  it("turns `/build` on a pull request into a job naming the PR and the commenter, with no commit yet", () => {
    const createdAt = new Date("2026-03-04T05:06:07Z");
    const result = issueCommentEventJob(issueCommentPayload(TEST_REPOSITORY, { number: 12, body: "  /build\n", login: "maintainer", createdAt }), ctx);
    assert.equal(result.kind, "job");
    const job = (result as Extract<typeof result, { kind: "job" }>).job;
    assert.equal(job.event, "issue_comment");
    assert.deepEqual(job.approval, { by: "maintainer", via: "comment", pullNumber: 12, at: "2026-03-04T05:06:07Z" }, "with the comment's time: it approves no later commit");
    assert.equal(job.sha, "0".repeat(40), "the planner reads the head commit from GitHub");
    assert.equal(job.repository.repoId, TEST_REPOSITORY.repoId);
  });

  it("drops everything else: other text, edits and deletions, comments on plain issues", () => {
    const ignored = (payload: unknown) => issueCommentEventJob(payload, ctx).kind;
    assert.equal(ignored(issueCommentPayload(TEST_REPOSITORY, { number: 1, body: "/build please", login: "x" })), "ignored");
    assert.equal(ignored(issueCommentPayload(TEST_REPOSITORY, { number: 1, body: "LGTM\n/build", login: "x" })), "ignored");
    assert.equal(ignored({ ...issueCommentPayload(TEST_REPOSITORY, { number: 1, body: "/build", login: "x" }), action: "edited" }), "ignored");
    const onIssue = adaptPayload(examplePayload("issue_comment", "created"));
    (onIssue.comment as Json).body = "/build";
    assert.equal(ignored(onIssue), "ignored", "an issue is not a pull request");
  });

  it("a malformed /build comment (no commenter) is invalid, not a job", () => {
    const payload = issueCommentPayload(TEST_REPOSITORY, { number: 3, body: "/build", login: "x" });
    delete (payload.comment as Json).user;
    assert.equal(issueCommentEventJob(payload, ctx).kind, "invalid");
  });
});

describe("the Build this commit button", () => {
  it("fits GitHub's limits and becomes a rerun carrying the clicker as the approval", () => {
    assert.ok(FORK_BUILD_ACTION.label.length <= 20 && FORK_BUILD_ACTION.identifier.length <= 20 && FORK_BUILD_ACTION.description.length <= 40);
    const run = { id: 77, name: "buildkit-bot", head_sha: "a".repeat(40), external_id: "plan-v1:x", status: "completed", conclusion: "action_required" };
    const result = checkRunEventJob(checkRunPayload(TEST_REPOSITORY, run, { appId: 31337, action: "requested_action", identifier: FORK_BUILD_ACTION.identifier, sender: "maintainer" }), ctx);
    assert.equal(result.kind, "job");
    const job = (result as Extract<typeof result, { kind: "job" }>).job;
    assert.deepEqual(job.approval, { by: "maintainer", via: "button" });
    assert.deepEqual(job.rerun, { checkRunId: 77, externalId: "plan-v1:x", noCache: false });
    const rerun = checkRunEventJob(checkRunPayload(TEST_REPOSITORY, run, { appId: 31337, action: "rerequested" }), ctx);
    assert.equal((rerun as Extract<typeof rerun, { kind: "job" }>).job.approval, undefined, "Re-run is not an approval");
  });
});
