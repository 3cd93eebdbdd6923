import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pullRequestClosedJob, pullRequestEventJob } from "../../src/handlers/pull-request-event.js";
import type { HandlerContext } from "../../src/handlers/handler-result.js";
import { adaptPayload, examplePayload, TEST_REPOSITORY } from "../support/webhooks.js";

const ctx: HandlerContext = { deliveryId: "d-pr", appId: 1, gitBaseUrl: "https://github.com" };
type Json = Record<string, unknown>;

function pr(action: string): Json {
  return adaptPayload(examplePayload("pull_request", action, (p) => Boolean(p.installation)));
}

describe("pullRequestEventJob", () => {
  for (const action of ["opened", "synchronize", "reopened"]) {
    it(`stores pull_request.${action} with head and base`, () => {
      const payload = pr(action);
      const p = payload.pull_request as Json;
      const r = pullRequestEventJob(payload, ctx);
      assert.ok(r.kind === "job");
      assert.equal(r.job.event, "pull_request");
      assert.equal(r.job.reason, "pull_request");
      assert.equal(r.job.sha, (p.head as Json).sha);
      assert.equal(r.job.repository.repoId, TEST_REPOSITORY.repoId);
      assert.deepEqual(r.job.pullRequest, {
        number: p.number,
        headRef: (p.head as Json).ref,
        headSha: (p.head as Json).sha,
        baseRef: (p.base as Json).ref,
        baseSha: (p.base as Json).sha,
        headRepoFullName: "acme/widgets",
        fork: false,
        // Read for the `approve` fork policy (owners, members and collaborators need no approval).
        authorAssociation: p.author_association,
      });
    });
  }

  it("marks a PR from another repository as a fork", () => {
    const payload = pr("opened");
    const head = (payload.pull_request as Json).head as Json;
    head.repo = { ...(head.repo as Json), id: 999, full_name: "mallory/widgets" };
    const r = pullRequestEventJob(payload, ctx);
    assert.ok(r.kind === "job");
    assert.equal(r.job.pullRequest?.fork, true);
    assert.equal(r.job.pullRequest?.headRepoFullName, "mallory/widgets");
  });

  it("ignores other actions", () => {
    for (const action of ["closed", "labeled", "ready_for_review", "assigned"]) {
      const payload = adaptPayload(examplePayload("pull_request", action));
      assert.equal(pullRequestEventJob(payload, ctx).kind, "ignored", action);
    }
  });

  it("ignores a PR whose head repository was deleted", () => {
    const payload = pr("synchronize");
    ((payload.pull_request as Json).head as Json).repo = null;
    assert.equal(pullRequestEventJob(payload, ctx).kind, "ignored");
  });

  it("reports a malformed PR payload as invalid", () => {
    const payload = pr("opened");
    delete (payload.pull_request as Json).base;
    assert.equal(pullRequestEventJob(payload, ctx).kind, "invalid");
    const noNumber = pr("opened");
    (noNumber.pull_request as Json).number = "2";
    assert.equal(pullRequestEventJob(noNumber, ctx).kind, "invalid");
  });
});

describe("pullRequestClosedJob", () => {
  it("turns GitHub's pull_request.closed example, head repository deleted or not, into one clean-up job of ids and names", () => {
    const payload = adaptPayload(examplePayload("pull_request", "closed"));
    const p = payload.pull_request as Json;
    const expected = { deliveryId: "d-pr", installationId: TEST_REPOSITORY.installationId, repoId: TEST_REPOSITORY.repoId, repository: "acme/widgets", pr: p.number };
    assert.deepEqual(pullRequestClosedJob(payload, ctx), { job: expected });
    (p.head as Json).repo = null;
    assert.deepEqual(pullRequestClosedJob(payload, ctx), { job: expected });
  });

  it("leaves every other action to pullRequestEventJob and reports a closed payload it cannot read", () => {
    assert.equal(pullRequestClosedJob(pr("opened"), ctx), undefined);
    const payload = adaptPayload(examplePayload("pull_request", "closed"));
    (payload.pull_request as Json).number = "2";
    assert.ok(pullRequestClosedJob(payload, ctx) && "problem" in pullRequestClosedJob(payload, ctx)!);
  });
});
