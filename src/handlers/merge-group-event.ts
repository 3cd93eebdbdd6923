import type { EventJob } from "../queue/index.js";
import { invalidOnPayloadError } from "./handler-result.js";
import type { HandlerContext, HandlerResult } from "./handler-result.js";
import { isPlausibleRefName, obj, optStr, sha, str } from "./payload-fields.js";
import { repositoryRef } from "./repository-ref.js";
import { MERGE_QUEUE_REF_PREFIX } from "./merge-queue-ref.js";
import { payloadFields } from "../intake/index.js";

/**
 * A merge queue entry: `checks_requested` builds the merge group's commit on its `gh-readonly-queue/…` ref (its
 * check runs are what the queue's required checks wait for); `destroyed` (merged, dequeued, invalidated) cancels
 * what is still queued or running for it.
 */
export function mergeGroupEventJob(payload: unknown, ctx: HandlerContext): HandlerResult {
  return invalidOnPayloadError(() => {
    const p = payloadFields("merge_group", payload);
    const action = typeof p.action === "string" ? p.action : "";
    if (action !== "checks_requested" && action !== "destroyed") return { kind: "ignored", reason: `merge_group.${action || "?"} needs no build` };
    const group = obj(p, "merge_group", "payload");
    const headRef = str(group, "head_ref", "merge_group");
    const baseRef = str(group, "base_ref", "merge_group");
    const headSha = sha(group, "head_sha", "merge_group");
    if (!headRef.startsWith(MERGE_QUEUE_REF_PREFIX) || !isPlausibleRefName(headRef.slice("refs/heads/".length))) {
      return { kind: "invalid", problem: `merge_group.head_ref ${JSON.stringify(headRef)} is not a merge queue branch` };
    }
    if (!baseRef.startsWith("refs/heads/")) return { kind: "invalid", problem: `merge_group.base_ref ${JSON.stringify(baseRef)} is not a branch` };
    const why = action === "destroyed" ? (optStr(p, "reason") ?? "destroyed") : undefined;

    const job: EventJob = {
      deliveryId: ctx.deliveryId,
      event: "merge_group",
      reason: "push",
      repository: repositoryRef(p, ctx.gitBaseUrl),
      sha: headSha,
      ref: headRef,
      ...(why !== undefined ? { mergeGroupDestroyed: why } : {}),
      receivedAt: (ctx.now?.() ?? new Date()).toISOString(),
    };
    return { kind: "job", job };
  });
}
