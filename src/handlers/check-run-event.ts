import type { BuildReason, EventJob } from "../queue/index.js";
import { checkPullRequest } from "./check-pull-requests.js";
import { invalidOnPayloadError } from "./handler-result.js";
import type { HandlerContext, HandlerResult } from "./handler-result.js";
import { int, isPlausibleRefName, obj, optObj, optStr, sha, str } from "./payload-fields.js";
import { FORK_BUILD_ACTION, RebuildAction } from "../github/index.js";
import { repositoryRef } from "./repository-ref.js";
import { payloadFields } from "../intake/index.js";

const ACTION_REASONS: Record<string, { reason: BuildReason; noCache: boolean }> = {
  [RebuildAction.Rebuild.identifier]: { reason: "rebuild", noCache: false },
  [RebuildAction.RebuildNoCache.identifier]: { reason: "rebuild-no-cache", noCache: true },
  [FORK_BUILD_ACTION.identifier]: { reason: "pull_request", noCache: false },
};

/**
 * "Re-run" on one of our check runs, or one of its Rebuild buttons, becomes one event job that rebuilds the
 * image described by the run's `external_id`. Check runs of other apps are ignored.
 */
export function checkRunEventJob(payload: unknown, ctx: HandlerContext): HandlerResult {
  return invalidOnPayloadError(() => {
    const p = payloadFields("check_run", payload);
    const action = typeof p.action === "string" ? p.action : "";
    let reason: BuildReason;
    let noCache = false;
    if (action === "rerequested") {
      reason = "rerequested";
    } else if (action === "requested_action") {
      const identifier = optStr(obj(p, "requested_action", "payload"), "identifier") ?? "";
      const known = ACTION_REASONS[identifier];
      if (!known) return { kind: "ignored", reason: `unknown requested action ${JSON.stringify(identifier)}` };
      ({ reason, noCache } = known);
    } else {
      return { kind: "ignored", reason: `check_run.${action || "?"} needs no build` };
    }

    const run = obj(p, "check_run", "payload");
    const appId = int(obj(run, "app", "check_run"), "id", "check_run.app");
    if (appId !== ctx.appId) return { kind: "ignored", reason: `check run belongs to app ${appId}, not ours` };
    // GitHub sends `external_id: ""` (or null) for a run created without one, e.g. our neutral "not built" runs:
    // an ordinary run with nothing to rebuild from, not a malformed payload.
    const externalId = optStr(run, "external_id");
    if (externalId === undefined) return { kind: "ignored", reason: "check run has no external_id: nothing to rebuild" };
    const headSha = sha(run, "head_sha", "check_run");
    const branch = optStr(optObj(run, "check_suite"), "head_branch");
    const pullRequest = checkPullRequest(run, headSha);
    // Who clicked "Build this commit": the planner checks their access before the fork's commit is built.
    const approvedBy =
      action === "requested_action" && optStr(obj(p, "requested_action", "payload"), "identifier") === FORK_BUILD_ACTION.identifier
        ? str(obj(p, "sender", "payload"), "login", "sender")
        : undefined;

    const job: EventJob = {
      deliveryId: ctx.deliveryId,
      event: "check_run",
      reason,
      repository: repositoryRef(p, ctx.gitBaseUrl),
      sha: headSha,
      ...(branch && isPlausibleRefName(branch) ? { ref: `refs/heads/${branch}` } : {}),
      ...(pullRequest ? { pullRequest } : {}),
      rerun: { checkRunId: int(run, "id", "check_run"), externalId, noCache },
      ...(approvedBy ? { approval: { by: approvedBy, via: "button" as const } } : {}),
      receivedAt: (ctx.now?.() ?? new Date()).toISOString(),
    };
    return { kind: "job", job };
  });
}
