import assert from "node:assert/strict";
import { describe, it } from "node:test";
import examples from "@octokit/webhooks-examples";
import { checkRunEventJob } from "../../src/handlers/check-run-event.js";
import { checkSuiteEventJob } from "../../src/handlers/check-suite-event.js";
import type { HandlerContext, HandlerResult } from "../../src/handlers/handler-result.js";
import { issueCommentEventJob } from "../../src/handlers/issue-comment-event.js";
import { mergeGroupEventJob } from "../../src/handlers/merge-group-event.js";
import { pullRequestEventJob } from "../../src/handlers/pull-request-event.js";
import { pushEventJob } from "../../src/handlers/push-event.js";
import { projectPayload } from "../../src/intake/payload-projection.js";
import { adaptPayload } from "../support/webhooks.js";

type Json = Record<string, unknown>;
const HANDLERS: Record<string, (payload: unknown, ctx: HandlerContext) => HandlerResult> = {
  push: pushEventJob,
  pull_request: pullRequestEventJob,
  check_run: checkRunEventJob,
  check_suite: checkSuiteEventJob,
  issue_comment: issueCommentEventJob,
  merge_group: mergeGroupEventJob,
};
const NOW = new Date("2026-01-02T03:04:05Z");

function examplesOf(name: string): Json[] {
  const def = (examples as unknown as Array<{ name: string; examples: Json[] }>).find((d) => d.name === name);
  return (def?.examples ?? []).map((p) => adaptPayload(structuredClone(p)));
}

function appIdOf(payload: Json): number {
  const subject = (payload.check_run ?? payload.check_suite) as { app?: { id?: number } } | undefined;
  return subject?.app?.id ?? 1;
}

/** Variants a hostile or unusual sender could produce, derived from a real example. */
function variants(name: string, payload: Json): Json[] {
  const out: Json[] = [payload];
  const spoilt = structuredClone(payload);
  spoilt.repository = ["not", "an", "object"];
  out.push(spoilt);
  if (name === "push") {
    payload.created = false;
    payload.forced = false;
    const many = structuredClone(payload);
    const commit = (i: number): Json => ({ id: String(i), message: "m".repeat(100), added: [`a${i}`], modified: [`src/m${i}`], removed: [] });
    many.commits = Array.from({ length: 5_000 }, (_, i) => commit(i));
    const few = structuredClone(payload);
    few.commits = Array.from({ length: 19 }, (_, i) => commit(i));
    const broken = structuredClone(payload);
    broken.commits = [commit(1), { added: "not-a-list" }];
    const objRef = structuredClone(payload);
    objRef.ref = { nested: "refs/heads/main" };
    out.push(many, few, broken, objRef);
  }
  if (name === "check_run") {
    (payload.check_run as Json).external_id = "image:web";
    const rerun = structuredClone(payload);
    rerun.action = "rerequested";
    const button = structuredClone(payload);
    button.action = "requested_action";
    button.requested_action = { identifier: "rebuild-no-cache" };
    out.push(rerun, button);
  }
  if (name === "issue_comment") {
    const command = structuredClone(payload);
    (command.comment as Json).body = "  /build  ";
    const huge = structuredClone(payload);
    (huge.comment as Json).body = `/build${" ".repeat(70_000)}`;
    out.push(command, huge);
  }
  if (name === "merge_group") {
    const destroyed = structuredClone(payload);
    destroyed.action = "destroyed";
    destroyed.reason = "dequeued";
    const otherRef = structuredClone(payload);
    (otherRef.merge_group as Json).head_ref = "refs/heads/main";
    out.push(destroyed, otherRef);
  }
  return out;
}

describe("projectPayload", () => {
  for (const name of Object.keys(HANDLERS)) {
    it(`gives the ${name} handler the same result as the whole payload, for every example and hostile variant`, () => {
      let compared = 0;
      let jobs = 0;
      for (const example of examplesOf(name)) {
        for (const payload of variants(name, example)) {
          const ctx: HandlerContext = { deliveryId: "d-1", appId: appIdOf(payload), gitBaseUrl: "http://git.test", now: () => NOW };
          const whole = HANDLERS[name]!(payload, ctx);
          const projected = HANDLERS[name]!(projectPayload(name, structuredClone(payload)), ctx);
          assert.deepEqual(projected, whole, `${name}.${String(payload.action ?? "")}`);
          compared++;
          if (whole.kind === "job") jobs++;
        }
      }
      assert.ok(compared >= 2, `compared ${compared}`);
      if (name !== "issue_comment") assert.ok(jobs > 0, `at least one ${name} example makes a job`);
    });
  }

  it("keeps only what the handlers read: a 5,000-commit push shrinks to file lists of 20 commits", () => {
    const payload = examplesOf("push")[0]!;
    payload.commits = Array.from({ length: 5_000 }, (_, i) => ({ id: String(i), message: "m".repeat(1_000), added: [`f${i}`] }));
    const projected = projectPayload("push", payload);
    assert.equal((projected.commits as unknown[]).length, 20);
    assert.deepEqual((projected.commits as unknown[])[3], { added: ["f3"] });
    assert.ok(JSON.stringify(projected).length < 5_000, `${JSON.stringify(projected).length} characters`);
    assert.equal(projected.head_commit, undefined);
    assert.deepEqual(Object.keys(projected.repository as Json).sort(), ["default_branch", "id", "master_branch", "name", "owner", "private"].filter((k) => k in (payload.repository as Json)).sort());
  });
});
