import type { PullRequestRef } from "../queue/index.js";
import { int, obj, optItems, optStr, sha, str } from "./payload-fields.js";
import type { Fields, ObjectPart, PayloadOf, ValueAt } from "../intake/index.js";

/** What a check run or a check suite of a payload holds, the list of its pull requests among it. */
type CheckSubject = ObjectPart<ValueAt<PayloadOf<"check_run">, "check_run">> | ObjectPart<ValueAt<PayloadOf<"check_suite">, "check_suite">>;

/**
 * The pull request a check run/suite belongs to, from the short PR objects GitHub embeds in check payloads
 * (no full_name there: it is read from the repo's API URL). Undefined when none matches the head sha.
 */
export function checkPullRequest(subject: Fields<CheckSubject>, headSha: string): PullRequestRef | undefined {
  for (const pr of optItems(subject, "pull_requests") ?? []) {
    const head = obj(pr, "head", "pull_requests[]");
    if (head.sha !== headSha) continue;
    const base = obj(pr, "base", "pull_requests[]");
    const headRepo = obj(head, "repo", "pull_requests[].head");
    const baseRepo = obj(base, "repo", "pull_requests[].base");
    const fullName = optStr(headRepo, "url")?.match(/\/repos\/([^/]+\/[^/]+)$/)?.[1];
    return {
      number: int(pr, "number", "pull_requests[]"),
      headRef: str(head, "ref", "pull_requests[].head"),
      headSha: sha(head, "sha", "pull_requests[].head"),
      baseRef: str(base, "ref", "pull_requests[].base"),
      baseSha: sha(base, "sha", "pull_requests[].base"),
      headRepoFullName: fullName ?? str(headRepo, "name", "pull_requests[].head.repo"),
      fork: int(headRepo, "id", "pull_requests[].head.repo") !== int(baseRepo, "id", "pull_requests[].base.repo"),
    };
  }
  return undefined;
}
