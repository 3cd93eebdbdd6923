import type { Probot } from "probot";
import { BuildKitClient } from "@buildkit-bot/buildkit";
import type { BuildRequest, Redactor } from "@buildkit-bot/buildkit";
import { readBranchHead, readRepoFile } from "../github/index.js";
import type { OctokitRequest } from "../github/index.js";
import type { BuildJob } from "../queue/index.js";
import type { Tenants } from "../tenancy/index.js";
import type { BuildTrail } from "../trail/index.js";
import { buildRequestForJob } from "./build-request-for-job.js";
import { installationAccountLogin, mintRepositoryToken } from "./installation-token.js";
import { assertInNamespaces, policyOfJob } from "./namespace-guard.js";
import { buildSecretsOfJob } from "./secret-guard.js";

/** A build ready to solve: the daemon's connection (the caller closes it), the request, and what to say at the end. */
export interface PreparedBuild {
  client: BuildKitClient;
  request: BuildRequest;
  pushTags: string[];
  /** The Dockerfile at the commit, for a failure to point at its line; undefined when it could not be read. */
  dockerfileText: Promise<string | undefined>;
  /** Planned tags left out, with why (the branch they follow has moved past the commit). */
  leftOut?: { tags: string[]; reason: string };
}

export interface PrepareDeps {
  /** `auth()` → the App's own Octokit (token minting, the installation's account), `auth(id)` → the installation's (reads). */
  github: Pick<Probot, "auth">;
  buildkitHost: string;
  tenants: Tenants;
  connectTimeoutMs?: number;
}

const short = (sha: string): string => sha.slice(0, 7);

/**
 * The daemon's connection, a token for the one repository (`contents: read`, never for forks), the installation's
 * account, the branch's head and the Dockerfile text are independent: one round trip, not five. The Dockerfile
 * text only helps a failure point at its line, so the solve does not wait for it. The git token joins the build's
 * secrets (`redactor`) as soon as it is known. The job's own references are not trusted: the account's namespaces
 * come from the tenants, by installation, and the request must stay within them.
 *
 * The Contents read is not taken from the write budget: that budget guards GitHub's secondary limits on
 * content-creating requests, which a GET is not; it counts against the installation's ordinary rate limit, and a
 * 403/429 there is a transient failure like any other.
 */
export async function prepareBuild(job: BuildJob, deps: PrepareDeps, redactor: Redactor, trail: BuildTrail): Promise<PreparedBuild> {
  const { owner, repo, installationId } = job.repository;
  const installation = await deps.github.auth(installationId);
  const dockerfileText = readRepoFile(installation, { owner, repo, path: job.image.dockerfile, ref: job.sha }).catch(() => undefined);
  const minting = job.fork ? Promise.resolve(undefined) : appRequest(deps).then((request) => mintRepositoryToken(request, installationId, job.repository.repoId));
  const account = appRequest(deps).then((request) => installationAccountLogin(request, installationId));
  const branchCheck = job.image.ifBranchMoved;
  const branchHead = branchCheck ? readBranchHead(installation, { owner, repo, branch: branchCheck.branch }) : undefined;
  for (const pending of [minting, account, branchHead]) pending?.catch(() => undefined);

  const client = await BuildKitClient.connect(deps.buildkitHost, deps.connectTimeoutMs !== undefined ? { connectTimeoutMs: deps.connectTimeoutMs } : {});
  try {
    const capabilities = await client.capabilities();
    const gitToken = await minting;
    if (gitToken !== undefined) redactor.add(gitToken);
    const moved = branchCheck ? branchMovedOn(job, await branchHead) : undefined;
    if (moved) trail.line(moved.note);
    const buildJob = moved ? { ...job, image: moved.image } : job;
    const policy = policyOfJob(deps.tenants, job, await account);
    const { request, pushTags, notes } = buildRequestForJob(buildJob, {
      ...(gitToken ? { gitToken } : {}),
      registry: policy.registry,
      capabilities,
      buildSecrets: buildSecretsOfJob(buildJob, policy),
    });
    assertInNamespaces(request, policy);
    trail.line(`daemon: ${client.address} (${capabilities.daemon}${capabilities.buildkitVersion ? `, BuildKit ${capabilities.buildkitVersion}` : ""})`);
    for (const note of notes) trail.line(note);
    trail.line(pushTags.length > 0 ? `pushing: ${pushTags.join(", ")}` : "not pushing");
    return { client, request, pushTags, dockerfileText, ...(moved ? { leftOut: moved.leftOut } : {}) };
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
}

async function appRequest(deps: PrepareDeps): Promise<OctokitRequest> {
  return (await deps.github.auth()).request;
}

/**
 * The plan to build when the branch whose tags the plan moves no longer points at the commit (`head` undefined:
 * the branch is gone): the commit's own tags only, and what to say about the others. Undefined when it still does.
 */
function branchMovedOn(job: BuildJob, head: string | undefined): { image: BuildJob["image"]; note: string; leftOut: { tags: string[]; reason: string } } | undefined {
  const check = job.image.ifBranchMoved;
  if (!check || head === job.sha) return undefined;
  const kept = new Set(check.tags);
  const reason = head === undefined ? `branch ${check.branch} no longer exists` : `branch ${check.branch} has moved on to ${short(head)}`;
  const leftOut = job.image.tags.filter((t) => !kept.has(t));
  const { ifBranchMoved: _, ...image } = job.image;
  return {
    image: { ...image, tags: [...check.tags] },
    note: `${reason}: not moving ${leftOut.join(", ")}`,
    leftOut: { tags: leftOut, reason },
  };
}
