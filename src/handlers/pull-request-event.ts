import type { EventJob, PullRequestRef } from "../queue/index.js";
import { invalidOnPayloadError, PayloadError } from "./handler-result.js";
import type { HandlerContext, HandlerResult } from "./handler-result.js";
import { int, obj, optObj, optStr, sha, str } from "./payload-fields.js";
import { repositoryRef } from "./repository-ref.js";
import { payloadFields } from "../intake/index.js";
import type { PrClosedJob } from "../cleanup/index.js";

export const PULL_REQUEST_ACTIONS: ReadonlySet<string> = new Set(["opened", "synchronize", "reopened"]);

/** A PR opened, updated or reopened becomes one event job for its head commit. */
export function pullRequestEventJob(payload: unknown, ctx: HandlerContext): HandlerResult {
  return invalidOnPayloadError(() => {
    const p = payloadFields("pull_request", payload);
    const action = typeof p.action === "string" ? p.action : "";
    if (!PULL_REQUEST_ACTIONS.has(action)) return { kind: "ignored", reason: `pull_request.${action || "?"} is not built` };
    const pr = obj(p, "pull_request", "payload");
    const head = obj(pr, "head", "pull_request");
    const base = obj(pr, "base", "pull_request");
    const headRepo = optObj(head, "repo");
    if (!headRepo) return { kind: "ignored", reason: "the head repository of the pull request no longer exists" };
    const baseRepo = obj(base, "repo", "pull_request.base");

    const pullRequest: PullRequestRef = {
      number: int(pr, "number", "pull_request"),
      headRef: str(head, "ref", "pull_request.head"),
      headSha: sha(head, "sha", "pull_request.head"),
      baseRef: str(base, "ref", "pull_request.base"),
      baseSha: sha(base, "sha", "pull_request.base"),
      headRepoFullName: str(headRepo, "full_name", "pull_request.head.repo"),
      fork: int(headRepo, "id", "pull_request.head.repo") !== int(baseRepo, "id", "pull_request.base.repo"),
    };
    const association = optStr(pr, "author_association");
    if (association) pullRequest.authorAssociation = association;
    const job: EventJob = {
      deliveryId: ctx.deliveryId,
      event: "pull_request",
      reason: "pull_request",
      repository: repositoryRef(p, ctx.gitBaseUrl),
      sha: pullRequest.headSha,
      pullRequest,
      receivedAt: (ctx.now?.() ?? new Date()).toISOString(),
    };
    return { kind: "job", job };
  });
}

/** A PR closed (merged or not) becomes one clean-up job for its images; undefined for any other action. */
export function pullRequestClosedJob(payload: unknown, ctx: HandlerContext): { job: PrClosedJob } | { problem: string } | undefined {
  const p = payloadFields("pull_request", payload);
  if (p.action !== "closed") return undefined;
  try {
    const repository = repositoryRef(p, ctx.gitBaseUrl);
    const pr = obj(p, "pull_request", "payload");
    return {
      job: {
        deliveryId: ctx.deliveryId,
        installationId: repository.installationId,
        repoId: repository.repoId,
        repository: `${repository.owner}/${repository.repo}`,
        pr: int(pr, "number", "pull_request"),
      },
    };
  } catch (err) {
    if (err instanceof PayloadError) return { problem: err.message };
    throw err;
  }
}
