import { renderTags } from "../config/index.js";
import type { ImageConfig } from "../config/index.js";
import type { ImagePlan } from "../queue/index.js";
import { mergeQueueOf } from "./plan-target.js";
import type { PlanTarget } from "./plan-target.js";

export interface SizeBaseInput {
  target: PlanTarget;
  defaultBranch: string;
  image: ImageConfig;
  /** The image's repository, `host/path`. */
  repository: string;
  /** Whether builds of `branch` are pushed under the image's push policy. */
  branchPushed(branch: string): boolean;
}

/**
 * The image a pushed build's size and layers are compared with: the tag that follows the base branch (the pull
 * request's base, or the default branch for another branch), as a push of that branch renders it from the image's
 * templates — the first of its tags that does not change with the commit. Undefined for the default branch, tags,
 * and a base branch whose builds are not pushed.
 */
export function sizeBaseOf(input: SizeBaseInput): ImagePlan["sizeBase"] {
  const { target, defaultBranch } = input;
  let branch: string | undefined;
  if (target.kind === "pull_request") branch = target.baseRef;
  else if (target.kind === "branch") {
    const queue = mergeQueueOf(target.branch);
    branch = queue ? queue.base : target.pullRequest ? target.pullRequest.baseRef : target.branch !== defaultBranch ? defaultBranch : undefined;
    if (branch === target.branch) branch = undefined;
  }
  if (branch === undefined || !input.branchPushed(branch)) return undefined;
  const isDefault = branch === defaultBranch;
  const render = (sha: string): string[] =>
    renderTags({ ...(input.image.tags ? { templates: input.image.tags } : {}), ref: { kind: "branch", branch, sha }, defaultBranch: isDefault, addLatest: isDefault }).tags;
  const other = new Set(render("f".repeat(40)));
  const tag = render("0".repeat(40)).find((t) => other.has(t));
  return tag === undefined ? undefined : { branch, reference: `${input.repository}:${tag}` };
}
