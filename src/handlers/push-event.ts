import type { EventJob } from "../queue/index.js";
import { invalidOnPayloadError } from "./handler-result.js";
import type { HandlerContext, HandlerResult } from "./handler-result.js";
import { isPlausibleRefName, isZeroSha, optItems, sha, str } from "./payload-fields.js";
import { repositoryRef } from "./repository-ref.js";
import { MERGE_QUEUE_REF_PREFIX } from "./merge-queue-ref.js";
import { payloadFields } from "../intake/index.js";
import type { Fields, PayloadOf } from "../intake/index.js";

/** GitHub lists at most this many commits in a push payload; a full list is shorter. */
const PAYLOAD_COMMIT_LIMIT = 20;

/** A push to a branch or tag becomes one event job; deletions and other refs are ignored. */
export function pushEventJob(payload: unknown, ctx: HandlerContext): HandlerResult {
  return invalidOnPayloadError(() => {
    const p = payloadFields("push", payload);
    const ref = str(p, "ref", "payload");
    if (p.deleted === true || isZeroSha(p.after)) return { kind: "ignored", reason: `${ref} was deleted` };
    if (ref.startsWith(MERGE_QUEUE_REF_PREFIX)) return { kind: "ignored", reason: `${ref} is a merge queue branch: its merge_group event builds it` };
    const name = ref.replace(/^refs\/(heads|tags)\//, "");
    if (name === ref) return { kind: "ignored", reason: `${ref} is neither a branch nor a tag` };
    if (!isPlausibleRefName(name)) return { kind: "invalid", problem: `ref ${JSON.stringify(ref)} is not a valid ref name` };
    const after = sha(p, "after", "payload");
    const before = isZeroSha(p.before) || typeof p.before !== "string" ? undefined : p.before;
    const changedFiles = p.created === true || p.forced === true ? undefined : listedChanges(p);

    const job: EventJob = {
      deliveryId: ctx.deliveryId,
      event: "push",
      reason: "push",
      repository: repositoryRef(p, ctx.gitBaseUrl),
      sha: after,
      ref,
      ...(before ? { before } : {}),
      ...(changedFiles ? { changedFiles } : {}),
      receivedAt: (ctx.now?.() ?? new Date()).toISOString(),
    };
    return { kind: "job", job };
  });
}

/** Files touched by the pushed commits, or undefined when the payload's list may be incomplete. */
function listedChanges(push: Fields<PayloadOf<"push">>): string[] | undefined {
  const commits = optItems(push, "commits");
  if (!commits || commits.length === 0 || commits.length >= PAYLOAD_COMMIT_LIMIT) return undefined;
  const files = new Set<string>();
  for (const c of commits) {
    for (const key of ["added", "modified", "removed"] as const) {
      const list = c[key];
      if (!Array.isArray(list)) return undefined;
      for (const f of list) if (typeof f === "string") files.add(f);
    }
  }
  return [...files].sort();
}
