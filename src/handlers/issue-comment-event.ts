import type { EventJob } from "../queue/index.js";
import { invalidOnPayloadError } from "./handler-result.js";
import type { HandlerContext, HandlerResult } from "./handler-result.js";
import { int, obj, optObj, optStr, str } from "./payload-fields.js";
import { repositoryRef } from "./repository-ref.js";
import { payloadFields } from "../intake/index.js";

/** The comment that approves a fork's pull request for one build: alone on its comment, nothing else. */
export const BUILD_COMMAND = "/build";

const ZERO_SHA = "0".repeat(40);

/**
 * A new `/build` comment on a pull request becomes one event job asking the planner to build the PR's head under
 * the `approve` fork policy. The payload knows neither the head commit nor the commenter's access: the planner
 * reads both from GitHub. Every other comment is dropped here, so ordinary discussion costs no queue write.
 */
export function issueCommentEventJob(payload: unknown, ctx: HandlerContext): HandlerResult {
  return invalidOnPayloadError(() => {
    const p = payloadFields("issue_comment", payload);
    const action = typeof p.action === "string" ? p.action : "";
    if (action !== "created") return { kind: "ignored", reason: `issue_comment.${action || "?"} is not a command` };
    const issue = obj(p, "issue", "payload");
    if (!optObj(issue, "pull_request")) return { kind: "ignored", reason: "comment on an issue, not a pull request" };
    const comment = obj(p, "comment", "payload");
    const body = typeof comment.body === "string" ? comment.body.trim() : "";
    if (body !== BUILD_COMMAND) return { kind: "ignored", reason: "comment is not a command" };
    const by = str(obj(comment, "user", "comment"), "login", "comment.user");
    const at = optStr(comment, "created_at");
    const job: EventJob = {
      deliveryId: ctx.deliveryId,
      event: "issue_comment",
      reason: "pull_request",
      repository: repositoryRef(p, ctx.gitBaseUrl),
      sha: ZERO_SHA,
      approval: { by, via: "comment", pullNumber: int(issue, "number", "issue"), ...(at ? { at } : {}) },
      receivedAt: (ctx.now?.() ?? new Date()).toISOString(),
    };
    return { kind: "job", job };
  });
}
