/**
 * What travels through Redis. Job data never holds a secret: tokens are minted by the worker when it
 * needs them, registry credentials come from the app's configuration at run time.
 */

/** Why a build was asked for. */
export type BuildReason = "push" | "pull_request" | "rerequested" | "rebuild" | "rebuild-no-cache";

export interface RepositoryRef {
  installationId: number;
  repoId: number;
  owner: string;
  repo: string;
  private: boolean;
  defaultBranch: string;
  /** `https://<git host>/<owner>/<repo>.git`, never with credentials. */
  cloneUrl: string;
}

export interface PullRequestRef {
  number: number;
  headRef: string;
  headSha: string;
  baseRef: string;
  baseSha: string;
  /** `owner/repo` of the head repository. */
  headRepoFullName: string;
  /** The head lives in another repository than the base. */
  fork: boolean;
  /** The PR author's `author_association` (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, …), when known. */
  authorAssociation?: string;
}

/**
 * Someone asked to build a fork's pull request under the `approve` fork policy: a `/build` comment or the
 * "Build this commit" button. The planner checks `by` has write access before anything is built.
 */
export interface ForkApprovalRequest {
  /** The GitHub login of the commenter or clicker. */
  by: string;
  via: "comment" | "button";
  /** The pull request commented on (comments only: the planner reads its head commit). */
  pullNumber?: number;
  /** When the comment was written (`comment.created_at`): a head commit that came later is not approved by it. */
  at?: string;
}

/** One accepted webhook delivery, stored as-is by a handler and turned into builds by the planner. */
export interface EventJob {
  deliveryId: string;
  event: "push" | "pull_request" | "check_run" | "check_suite" | "issue_comment" | "merge_group";
  reason: BuildReason;
  repository: RepositoryRef;
  sha: string;
  /** Full ref for pushes: `refs/heads/main`, `refs/tags/v1.2.3`. */
  ref?: string;
  /** Push: the previous head, for the changed-file list. */
  before?: string;
  /** Push: files changed, when the payload lists them completely. */
  changedFiles?: string[];
  pullRequest?: PullRequestRef;
  /** Check-run rerequest or a requested_action button: rebuild from the plan kept in `external_id`. */
  rerun?: { checkRunId: number; externalId: string; noCache: boolean };
  /**
   * A fork build's approval. An `issue_comment` job knows no commit: its `sha` is all zeros until the planner
   * reads the pull request's head.
   */
  approval?: ForkApprovalRequest;
  /** A `merge_group` that was destroyed (GitHub's reason: merged, dequeued, invalidated): its builds are cancelled, nothing is built. */
  mergeGroupDestroyed?: string;
  receivedAt: string;
}

/** A registry cache reference list, most specific first. */
export interface CachePlan {
  imports: string[];
  /** Absent for fork PRs and when cache export is off. */
  export?: string;
}

/** One image of the per-repo config, resolved for one commit. */
export interface ImagePlan {
  name: string;
  /** Context subdirectory inside the repository ("" = root). */
  context: string;
  /** Dockerfile path from the repository root (not from `context`), e.g. `services/api/Dockerfile`. */
  dockerfile: string;
  target?: string;
  platforms: string[];
  buildArgs: Record<string, string>;
  /** The config's image labels; the worker adds the OCI source, revision and created labels under them. */
  labels?: Record<string, string>;
  /** Full image references to push or tag, e.g. `ghcr.io/acme/api:main`. */
  tags: string[];
  push: boolean;
  cache: CachePlan;
  /** Attestations pushed with the image (BuildKit `attest:provenance` / `attest:sbom`); absent = none. */
  attestations?: { provenance?: "min" | "max"; sbom?: true };
  /** The config's `checks.fail_on: warning`: a Dockerfile build check finding fails the build before export. */
  checksFailOn?: "warning";
  /** The config's `merge_queue.reuse: false`: a merge group's image is built even when its pull request's image could be copied. */
  mergeQueueReuse?: false;
  /** Ids of the build secrets the build may mount (never values: the worker reads them from the tenants). */
  secrets?: string[];
  /**
   * Set when `tags` includes tags that follow a branch (`main`, `latest`): they may move only if `branch` still
   * points at the commit when the build is done: the solve pushes the commit's own `tags` here, and the worker asks
   * GitHub afterwards and adds the others by a manifest copy (src/worker/moving-tags.ts). When `tags` here is empty
   * (nothing of the commit's own to carry the image), the worker asks before the solve and pushes nothing if moved.
   */
  ifBranchMoved?: { branch: string; tags: string[] };
  /**
   * What the check run compares the pushed image's size and layers with: the tag that follows the base branch
   * (`…/app:main`). Absent for the default branch, tags, and unpushed builds.
   */
  sizeBase?: { branch: string; reference: string };
}

export interface BuildJob {
  /** Equals the BullMQ job id. */
  buildId: string;
  attempt: number;
  reason: BuildReason;
  repository: RepositoryRef;
  sha: string;
  /** Ref the daemon fetches: the sha itself, or `refs/pull/N/head` for fork PRs (the sha is then verified). */
  gitRef: string;
  image: ImagePlan;
  /**
   * The planner's check run. Absent when the build was queued while the run was still being created: its id is
   * then handed over by build id (see CheckRunHandoff).
   */
  checkRunId?: number;
  /** Builds with the same key supersede each other: `<repoId>:branch:<name>` style, without `:` in job ids. */
  supersedeKey: string;
  noCache: boolean;
  fork: boolean;
  pullRequest?: PullRequestRef;
  ref?: string;
  /** When the webhook that planned it arrived: orders builds of one branch or PR planned out of turn (supersede-registry.ts). */
  eventReceivedAt?: string;
  queuedAt: string;
}
