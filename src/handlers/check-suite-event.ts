import type { EventJob } from "../queue/index.js";
import { checkPullRequest } from "./check-pull-requests.js";
import { invalidOnPayloadError } from "./handler-result.js";
import type { HandlerContext, HandlerResult } from "./handler-result.js";
import { int, isPlausibleRefName, obj, optStr, sha } from "./payload-fields.js";
import { repositoryRef } from "./repository-ref.js";
import { payloadFields } from "../intake/index.js";

/** "Re-run all" on our check suite: the planner plans the whole commit again. */
export function checkSuiteEventJob(payload: unknown, ctx: HandlerContext): HandlerResult {
  return invalidOnPayloadError(() => {
    const p = payloadFields("check_suite", payload);
    const action = typeof p.action === "string" ? p.action : "";
    if (action !== "rerequested") return { kind: "ignored", reason: `check_suite.${action || "?"} needs no build` };
    const suite = obj(p, "check_suite", "payload");
    const appId = int(obj(suite, "app", "check_suite"), "id", "check_suite.app");
    if (appId !== ctx.appId) return { kind: "ignored", reason: `check suite belongs to app ${appId}, not ours` };
    const headSha = sha(suite, "head_sha", "check_suite");
    const branch = optStr(suite, "head_branch");
    const pullRequest = checkPullRequest(suite, headSha);

    const job: EventJob = {
      deliveryId: ctx.deliveryId,
      event: "check_suite",
      reason: "rerequested",
      repository: repositoryRef(p, ctx.gitBaseUrl),
      sha: headSha,
      ...(branch && isPlausibleRefName(branch) ? { ref: `refs/heads/${branch}` } : {}),
      ...(pullRequest ? { pullRequest } : {}),
      receivedAt: (ctx.now?.() ?? new Date()).toISOString(),
    };
    return { kind: "job", job };
  });
}
