import { adaptPayload, examplePayload } from "../../support/webhooks.js";
import type { TestRepository } from "../../support/webhooks.js";

/**
 * Webhook payloads for the e2e tests: GitHub's example payloads (from @octokit/webhooks-examples) pointed at a
 * test repository, with the fields of the event set to the commits the test made on the git server.
 */

type Json = Record<string, unknown>;

export const ZERO_SHA = "0".repeat(40);

export function pushPayload(
  repo: TestRepository,
  push: { ref: string; before: string; after: string; files?: string[]; message?: string },
): Json {
  const p = adaptPayload(examplePayload("push", undefined, (x) => typeof x.ref === "string" && String(x.ref).startsWith("refs/heads/")), repo);
  const created = push.before === ZERO_SHA;
  const commit = {
    id: push.after,
    tree_id: push.after,
    distinct: true,
    message: push.message ?? "update",
    timestamp: new Date().toISOString(),
    url: `https://github.com/${repo.owner}/${repo.name}/commit/${push.after}`,
    author: { name: "e2e", email: "e2e@buildkit-bot.invalid", username: "e2e" },
    committer: { name: "e2e", email: "e2e@buildkit-bot.invalid", username: "e2e" },
    added: push.files ?? [],
    removed: [],
    modified: [],
  };
  return {
    ...p,
    ref: push.ref,
    before: push.before,
    after: push.after,
    created,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `https://github.com/${repo.owner}/${repo.name}/compare/${push.before.slice(0, 12)}...${push.after.slice(0, 12)}`,
    commits: [commit],
    head_commit: commit,
  };
}

export interface PullRequestFields {
  action: "opened" | "synchronize" | "reopened";
  number: number;
  head: { ref: string; sha: string };
  base: { ref: string; sha: string };
  /** The head lives in a fork owned by this account (another repository id). */
  forkOwner?: string;
  /** The author's `author_association` (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, FIRST_TIME_CONTRIBUTOR, NONE…). */
  authorAssociation?: string;
}

export function pullRequestPayload(repo: TestRepository, pr: PullRequestFields): Json {
  const p = adaptPayload(examplePayload("pull_request", "opened"), repo);
  const pull = p.pull_request as Json;
  const baseRepo = structuredClone(p.repository) as Json;
  const headRepo = structuredClone(baseRepo);
  if (pr.forkOwner) {
    headRepo.id = repo.repoId + 500_000;
    headRepo.node_id = `fork-${repo.repoId}`;
    headRepo.full_name = `${pr.forkOwner}/${repo.name}`;
    headRepo.fork = true;
    headRepo.owner = { ...(headRepo.owner as Json), login: pr.forkOwner, name: pr.forkOwner, id: 990_001 };
    headRepo.url = `https://api.github.com/repos/${pr.forkOwner}/${repo.name}`;
    headRepo.clone_url = `https://github.com/${pr.forkOwner}/${repo.name}.git`;
  }
  pull.number = pr.number;
  pull.state = "open";
  if (pr.authorAssociation) pull.author_association = pr.authorAssociation;
  pull.head = { ...(pull.head as Json), ref: pr.head.ref, sha: pr.head.sha, label: `${pr.forkOwner ?? repo.owner}:${pr.head.ref}`, repo: headRepo };
  pull.base = { ...(pull.base as Json), ref: pr.base.ref, sha: pr.base.sha, label: `${repo.owner}:${pr.base.ref}`, repo: baseRepo };
  return { ...p, action: pr.action, number: pr.number, pull_request: pull };
}

/** `check_run.rerequested` or `check_run.requested_action` for a check run as the fake GitHub holds it. */
export function checkRunPayload(
  repo: TestRepository,
  run: { id: number; name: string; head_sha: string; external_id: string | null; status: string; conclusion: string | null },
  opts:
    | { appId: number; branch?: string; action: "rerequested" }
    | { appId: number; branch?: string; action: "requested_action"; identifier: string; sender?: string },
): Json {
  const p = adaptPayload(examplePayload("check_run", opts.action), repo);
  const example = p.check_run as Json;
  const checkRun: Json = {
    ...example,
    id: run.id,
    name: run.name,
    head_sha: run.head_sha,
    external_id: run.external_id,
    status: run.status,
    conclusion: run.conclusion,
    app: { ...(example.app as Json), id: opts.appId, slug: "buildkit-bot" },
    check_suite: { ...(example.check_suite as Json), head_sha: run.head_sha, head_branch: opts.branch ?? null },
    pull_requests: [],
  };
  return {
    ...p,
    action: opts.action,
    check_run: checkRun,
    ...(opts.action === "requested_action" ? { requested_action: { identifier: opts.identifier } } : {}),
    ...(opts.action === "requested_action" && opts.sender ? { sender: { ...(p.sender as Json), login: opts.sender } } : {}),
  };
}

/**
 * `issue_comment.created` on a pull request, as GitHub sends it: the PR is an issue whose `pull_request` object
 * links to it; the payload names the commenter (`comment.user`, `sender`) but not the PR's head commit.
 */
export function issueCommentPayload(
  repo: TestRepository,
  comment: { number: number; body: string; login: string; association?: string; createdAt?: Date },
): Json {
  const p = adaptPayload(examplePayload("issue_comment", "created"), repo);
  const issue = p.issue as Json;
  const example = p.comment as Json;
  const user = { ...(example.user as Json), login: comment.login };
  const api = `https://api.github.com/repos/${repo.owner}/${repo.name}`;
  const html = `https://github.com/${repo.owner}/${repo.name}`;
  return {
    ...p,
    action: "created",
    issue: {
      ...issue,
      number: comment.number,
      state: "open",
      pull_request: { url: `${api}/pulls/${comment.number}`, html_url: `${html}/pull/${comment.number}`, diff_url: `${html}/pull/${comment.number}.diff`, patch_url: `${html}/pull/${comment.number}.patch`, merged_at: null },
    },
    comment: {
      ...example,
      body: comment.body,
      user,
      author_association: comment.association ?? "NONE",
      created_at: (comment.createdAt ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
      updated_at: (comment.createdAt ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    },
    sender: { ...(p.sender as Json), login: comment.login },
  };
}
