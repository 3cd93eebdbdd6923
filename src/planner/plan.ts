import { refMatches, selectFiles, DEFAULT_TAG_TEMPLATES, renderTags, templateVariables } from "../config/index.js";
import type { ImageConfig, RepoConfig, DroppedTag, RefContext } from "../config/index.js";
import type { ImagePlan } from "../queue/index.js";
import { attestationsFor } from "./attestation-plan.js";
import { planCache } from "./cache-plan.js";
import { ImagePathTooLongError, imageRepository } from "./image-repository.js";
import { mergeQueueOf } from "./plan-target.js";
import { sizeBaseOf } from "./size-base.js";
import type { PlanTarget } from "./plan-target.js";

/**
 * The planner's decisions, as pure functions of the target, the config and the changed files: per image either a
 * build (an `ImagePlan`) or a skip with its reason. Everything that needs GitHub or Redis happens in
 * `planner-job.ts`.
 */
export interface PlanInput {
  target: PlanTarget;
  sha: string;
  /** The repository's owner (the installation's account): images go under `<prefix>/<owner>/`. */
  owner: string;
  repoName: string;
  defaultBranch: string;
  config: RepoConfig;
  registryPrefix: string;
  /** Files the push or PR changed; undefined when unknown (or a rebuild): every image builds. */
  changedFiles?: readonly string[];
  /** Plan only this image (the rebuild of one check run). */
  onlyImage?: string;
  /**
   * `latest` may be added: a push of the default branch or a rebuild. False for merged plans made from a
   * pull_request event and for the plan of a commit the branch has moved past.
   */
  latestAllowed: boolean;
  /**
   * False for the plan of a commit its branch has moved past: branch-named tags would move backwards, so only
   * commit-specific tags (templates using {{sha}} or {{short_sha}}) are kept. Default true.
   */
  refIsCurrent?: boolean;
  /**
   * The branch whose head decides, when the build is done, whether tags that follow it may move: each build then
   * carries the tags it pushes otherwise (ImagePlan.ifBranchMoved).
   */
  branchCheck?: string;
  noCache?: boolean;
}

export type ImageDecision =
  | {
      kind: "build";
      name: string;
      plan: ImagePlan;
      /** Tags left out, with why (shown in the check run). */
      droppedTags: DroppedTag[];
      /** Changed files the path filters selected; undefined when every change builds. */
      matchedFiles?: string[];
    }
  | { kind: "skip"; name: string; reason: string };

export function planImages(input: PlanInput): ImageDecision[] {
  const images = input.onlyImage
    ? input.config.images.filter((i) => i.name === input.onlyImage)
    : input.config.images;
  if (input.onlyImage && images.length === 0) {
    return [
      {
        kind: "skip",
        name: input.onlyImage,
        reason: `image "${input.onlyImage}" is no longer in the repository's config, so it cannot be rebuilt`,
      },
    ];
  }
  return images.map((image) => planImage(input, image));
}

function planImage(input: PlanInput, image: ImageConfig): ImageDecision {
  let matchedFiles: string[] | undefined;
  if (input.changedFiles && image.paths.length > 0) {
    matchedFiles = selectFiles(image.paths, input.changedFiles);
    if (matchedFiles.length === 0) {
      return {
        kind: "skip",
        name: image.name,
        reason: `none of the ${input.changedFiles.length} changed file(s) matches the image's paths (${image.paths.join(", ")})`,
      };
    }
  }
  let repository: string;
  try {
    repository = imageRepository(input.registryPrefix, { owner: input.owner, repo: input.repoName }, image, input.config.images.length);
  } catch (err) {
    if (!(err instanceof ImagePathTooLongError)) throw err;
    return { kind: "skip", name: image.name, reason: err.message };
  }
  const { tags, push, dropped } = tagsAndPush(input, image);
  const target = input.target;
  const plan: ImagePlan = {
    name: image.name,
    context: image.context,
    dockerfile: image.dockerfile,
    ...(image.target !== undefined ? { target: image.target } : {}),
    platforms: [...image.platforms],
    buildArgs: { ...image.buildArgs },
    ...(image.labels ? { labels: { ...image.labels } } : {}),
    ...(image.checksFailOn ? { checksFailOn: image.checksFailOn } : {}),
    ...(image.mergeQueueReuse === false ? { mergeQueueReuse: false as const } : {}),
    ...attestationsFor(target, image, push),
    // Ids only: the worker resolves the values from the operator's tenants. A fork's build gets none.
    ...(image.secrets && image.secrets.length > 0 && !(target.kind === "pull_request" && target.fork) ? { secrets: [...image.secrets] } : {}),
    tags: tags.map((t) => `${repository}:${t}`),
    push,
    cache: planCache({
      setting: image.cache,
      imageRepository: repository,
      target,
      defaultBranch: input.defaultBranch,
      ...(input.noCache ? { noCache: true } : {}),
    }),
  };
  const sizeBase = push ? sizeBaseOf({ target, defaultBranch: input.defaultBranch, image, repository, branchPushed: (branch) => pushAllowed(image, { kind: "branch", branch }, input.defaultBranch) }) : undefined;
  if (sizeBase) plan.sizeBase = sizeBase;
  if (input.branchCheck !== undefined) {
    const ifMoved = tagsAndPush({ ...input, latestAllowed: false, refIsCurrent: false }, image).tags.map((t) => `${repository}:${t}`);
    if (ifMoved.length !== plan.tags.length || ifMoved.some((t, i) => t !== plan.tags[i])) plan.ifBranchMoved = { branch: input.branchCheck, tags: ifMoved };
  }
  return { kind: "build", name: image.name, plan, droppedTags: dropped, ...(matchedFiles ? { matchedFiles } : {}) };
}

/** Whether builds of `target` are pushed under the image's policy (before the merged-plan rules). */
export function pushAllowed(image: ImageConfig, target: PlanTarget, defaultBranch: string): boolean {
  switch (target.kind) {
    case "branch":
      return refMatches(image.push.branches ?? [defaultBranch], target.branch);
    case "tag":
      return image.push.tags === undefined || refMatches(image.push.tags, target.tag);
    case "pull_request":
      // A fork's PR never pushes, whatever the config says (it is read from the base branch anyway).
      return !target.fork && image.push.pullRequests;
  }
}

const COMMIT_VARIABLES = new Set(["sha", "short_sha"]);

function tagsAndPush(input: PlanInput, image: ImageConfig): { tags: string[]; push: boolean; dropped: DroppedTag[] } {
  const { target, sha } = input;
  const dropped: DroppedTag[] = [];
  const render = (ref: RefContext, addLatest: boolean): string[] => {
    let templates = image.tags;
    if (input.refIsCurrent === false) {
      const all = templates ?? DEFAULT_TAG_TEMPLATES[ref.kind];
      templates = all.filter((t) => templateVariables(t).some((v) => COMMIT_VARIABLES.has(v)));
      for (const t of all) {
        if (!templates.includes(t)) {
          dropped.push({ template: t, reason: "the branch has moved past this commit; only commit tags are pushed" });
        }
      }
      if (templates.length === 0) return [];
    }
    const defaultBranch = ref.kind === "branch" && ref.branch === input.defaultBranch;
    const out = renderTags({
      ...(templates ? { templates } : {}),
      ref,
      defaultBranch: defaultBranch && input.latestAllowed && input.refIsCurrent !== false,
      addLatest,
    });
    dropped.push(...out.dropped);
    return out.tags;
  };

  switch (target.kind) {
    case "tag":
      return { tags: render({ kind: "tag", tag: target.tag, sha }, false), push: pushAllowed(image, target, input.defaultBranch), dropped };
    case "pull_request":
      return {
        tags: render({ kind: "pull_request", pr: target.number, sha }, false),
        push: pushAllowed(image, target, input.defaultBranch),
        dropped,
      };
    case "branch": {
      if (mergeQueueOf(target.branch)) return mergeGroupTags(input, image, target.branch, dropped);
      const branchPush = pushAllowed(image, { kind: "branch", branch: target.branch }, input.defaultBranch);
      const latest = branchPush && input.latestAllowed && !target.pullRequest && target.branch === input.defaultBranch;
      const branchTags = render({ kind: "branch", branch: target.branch, sha }, latest);
      if (!target.pullRequest) return { tags: branchTags, push: branchPush, dropped };
      // Merged plan: one build for the branch push and the PR. PR tags are only worth having when pushed.
      const prPush = image.push.pullRequests;
      const prTags = prPush ? render({ kind: "pull_request", pr: target.pullRequest.number, sha }, false) : [];
      if (branchPush || !prPush) return { tags: unique([...branchTags, ...prTags]), push: branchPush || prPush, dropped };
      return { tags: prTags, push: true, dropped };
    }
  }
}

/**
 * A merge group's image: only the image's commit tags (`sha-<short sha>` by default), never a branch-named tag or
 * `latest`, so nothing that follows a branch moves. Pushed when the image pushes pull requests' images: the group
 * is those pull requests, merged.
 */
function mergeGroupTags(input: PlanInput, image: ImageConfig, branch: string, dropped: DroppedTag[]): { tags: string[]; push: boolean; dropped: DroppedTag[] } {
  const all = image.tags ?? DEFAULT_TAG_TEMPLATES.branch;
  const commitTemplates = all.filter((t) => templateVariables(t).some((v) => COMMIT_VARIABLES.has(v)));
  for (const t of all) if (!commitTemplates.includes(t)) dropped.push({ template: t, reason: "a merge group's image gets commit tags only" });
  const out = renderTags({
    templates: commitTemplates.length > 0 ? commitTemplates : ["sha-{{short_sha}}"],
    ref: { kind: "branch", branch, sha: input.sha },
    defaultBranch: false,
    addLatest: false,
  });
  dropped.push(...out.dropped);
  return { tags: out.tags, push: image.push.pullRequests, dropped };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
