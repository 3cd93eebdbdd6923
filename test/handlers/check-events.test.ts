import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkRunEventJob } from "../../src/handlers/check-run-event.js";
import { checkSuiteEventJob } from "../../src/handlers/check-suite-event.js";
import type { HandlerContext } from "../../src/handlers/handler-result.js";
import { createEventDispatcher } from "../../src/handlers/register-handlers.js";
import { RebuildAction, REBUILD_ACTIONS } from "../../src/github/check-run-actions.js";
import { adaptPayload, examplePayload } from "../support/webhooks.js";

const OUR_APP = 31337;
const ctx: HandlerContext = { deliveryId: "d-check", appId: OUR_APP, gitBaseUrl: "https://github.com" };
type Json = Record<string, unknown>;

function ourRun(action: string, identifier?: string): Json {
  const payload = adaptPayload(examplePayload("check_run", action));
  const run = payload.check_run as Json;
  (run.app as Json).id = OUR_APP;
  run.external_id = "plan-v1:api";
  if (identifier !== undefined) payload.requested_action = { identifier };
  return payload;
}

describe("rebuild actions", () => {
  it("fit GitHub's limits (label and identifier ≤ 20, description ≤ 40)", () => {
    for (const a of REBUILD_ACTIONS) {
      assert.ok(a.label.length <= 20 && a.identifier.length <= 20 && a.description.length <= 40, a.label);
    }
  });
});

describe("checkRunEventJob", () => {
  it("stores a rerequested run of ours with its external id", () => {
    const payload = ourRun("rerequested");
    const run = payload.check_run as Json;
    const r = checkRunEventJob(payload, ctx);
    assert.ok(r.kind === "job");
    assert.equal(r.job.event, "check_run");
    assert.equal(r.job.reason, "rerequested");
    assert.equal(r.job.sha, run.head_sha);
    assert.deepEqual(r.job.rerun, { checkRunId: run.id, externalId: "plan-v1:api", noCache: false });
    assert.equal(r.job.ref, `refs/heads/${(run.check_suite as Json).head_branch}`);
  });

  it("maps the Rebuild buttons", () => {
    const plain = checkRunEventJob(ourRun("requested_action", RebuildAction.Rebuild.identifier), ctx);
    assert.ok(plain.kind === "job");
    assert.equal(plain.job.reason, "rebuild");
    assert.equal(plain.job.rerun?.noCache, false);
    const noCache = checkRunEventJob(ourRun("requested_action", RebuildAction.RebuildNoCache.identifier), ctx);
    assert.ok(noCache.kind === "job");
    assert.equal(noCache.job.reason, "rebuild-no-cache");
    assert.equal(noCache.job.rerun?.noCache, true);
    assert.equal(noCache.job.pullRequest?.number, 26764, "the PR embedded in the check run is kept");
  });

  it("ignores unknown buttons, other actions and other apps' runs", () => {
    assert.equal(checkRunEventJob(ourRun("requested_action", "lgtm|26764"), ctx).kind, "ignored");
    assert.equal(checkRunEventJob(ourRun("created"), ctx).kind, "ignored");
    assert.equal(checkRunEventJob(ourRun("completed"), ctx).kind, "ignored");
    const foreign = ourRun("rerequested");
    ((foreign.check_run as Json).app as Json).id = 25811;
    const r = checkRunEventJob(foreign, ctx);
    assert.equal(r.kind, "ignored");
  });

  it("ignores a run of ours whose external_id is empty, null or missing, as GitHub sends for a run created without one", () => {
    for (const value of ["", null, undefined]) {
      const payload = ourRun("rerequested");
      if (value === undefined) delete (payload.check_run as Json).external_id;
      else (payload.check_run as Json).external_id = value;
      const r = checkRunEventJob(payload, ctx);
      assert.deepEqual(r, { kind: "ignored", reason: "check run has no external_id: nothing to rebuild" }, String(value));
    }
  });

  it("a rerequest of such a run is answered without a job or a warning, logged at debug", async () => {
    const lines: Array<{ level: string; msg: string }> = [];
    const stored: unknown[] = [];
    const dispatch = createEventDispatcher(
      { appId: OUR_APP, gitBaseUrl: "https://github.com", store: { store: async (job) => (stored.push(job), { jobId: job.deliveryId }) } },
      { warn: (_o, msg) => lines.push({ level: "warn", msg }), debug: (_o, msg) => lines.push({ level: "debug", msg }) },
    );
    const payload = ourRun("rerequested");
    (payload.check_run as Json).external_id = "";
    await dispatch({ id: "d-empty-external-id", name: "check_run", payload });
    assert.deepEqual(stored, []);
    assert.deepEqual(lines, [{ level: "debug", msg: "check_run ignored: check run has no external_id: nothing to rebuild" }]);
  });

  it("reports a run without app or head sha as invalid", () => {
    const noApp = ourRun("rerequested");
    delete (noApp.check_run as Json).app;
    assert.equal(checkRunEventJob(noApp, ctx).kind, "invalid");
    const badSha = ourRun("rerequested");
    (badSha.check_run as Json).head_sha = "zzz";
    assert.equal(checkRunEventJob(badSha, ctx).kind, "invalid");
  });
});

describe("checkSuiteEventJob", () => {
  function ourSuite(action: string): Json {
    const payload = adaptPayload(examplePayload("check_suite", action));
    ((payload.check_suite as Json).app as Json).id = OUR_APP;
    return payload;
  }

  it("stores a rerequested suite of ours", () => {
    const payload = ourSuite("rerequested");
    const suite = payload.check_suite as Json;
    const r = checkSuiteEventJob(payload, ctx);
    assert.ok(r.kind === "job");
    assert.equal(r.job.event, "check_suite");
    assert.equal(r.job.reason, "rerequested");
    assert.equal(r.job.sha, suite.head_sha);
    assert.equal(r.job.ref, `refs/heads/${suite.head_branch}`);
    assert.equal(r.job.rerun, undefined);
    assert.equal(r.job.pullRequest?.headRepoFullName, "acme/widgets");
  });

  it("ignores requested/completed suites and other apps' suites", () => {
    assert.equal(checkSuiteEventJob(ourSuite("requested"), ctx).kind, "ignored");
    assert.equal(checkSuiteEventJob(ourSuite("completed"), ctx).kind, "ignored");
    const foreign = ourSuite("rerequested");
    ((foreign.check_suite as Json).app as Json).id = 1;
    assert.equal(checkSuiteEventJob(foreign, ctx).kind, "ignored");
  });
});
