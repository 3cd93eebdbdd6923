import type { Probot } from "probot";
import { BuildKitClient } from "@buildkit-bot/buildkit";
import type { BuildRequest, BuildResult, Redactor } from "@buildkit-bot/buildkit";
import type { BuilderLease, BuilderPool } from "../builders/index.js";
import { readBranchHead, readRepoFile } from "../github/index.js";
import type { OctokitRequest, ProvenanceReport } from "../github/index.js";
import type { BuildJob } from "../queue/index.js";
import type { Tenants } from "../tenancy/index.js";
import type { BuildTrail } from "../trail/index.js";
import { buildRequestForJob } from "./build-request-for-job.js";
import { installationAccountLogin, repositoryGitToken } from "./installation-token.js";
import { assertInNamespaces, policyOfJob } from "./namespace-guard.js";
import { buildSecretsOfJob } from "./secret-guard.js";
import type { InstallationTokenCache, TokenLease } from "./token-cache.js";
import type { InstallationAccounts } from "./installation-accounts.js";
import { applyMovingTags, deferMovingTags } from "./moving-tags.js";
import type { MovingTagsOutcome } from "./moving-tags.js";
import { acquireSplit } from "./split-leases.js";
import type { SplitLeases } from "./split-leases.js";

/**
 * A build ready to solve: the daemon's connection, the request, and what to say at the end. The caller closes the
 * connection only when it is the build's own (no `builder`, no `split`); a pool's builder keeps its connection.
 */
export interface PreparedBuild {
  client: BuildKitClient;
  request: BuildRequest;
  pushTags: string[];
  /** The Dockerfile at the commit, for a failure to point at its line; undefined when it could not be read. Read once `readDockerfile` is called. */
  dockerfileText: Promise<string | undefined>;
  /**
   * Starts the read of `dockerfileText`: called once the solve is on its way. Only a failure needs the text, and its
   * GitHub request (an Octokit call's work on this thread) would otherwise come before the solve's own.
   */
  readDockerfile(): void;
  /** Said once in the check run: the config's `checks.fail_on` could not be applied on this daemon. */
  checksNote?: string;
  /** After the push: the provenance attestation read back from the registry, or why there is none (see provenance.ts). */
  provenance?: ProvenanceReport;
  /** Planned tags left out, with why (the branch they follow has moved past the commit). */
  leftOut?: { tags: string[]; reason: string };
  /** The repository's git token (none for forks): dropped from the cache when git refuses it (see afterGitRefusal). */
  gitToken?: TokenLease;
  /** The pool's builder the build holds (released by the caller); undefined without a pool. */
  builder?: Pick<BuilderLease, "name" | "release">;
  /** A build split over several builders, one part per builder (see split-solve.ts); `client` is its first part's. Closed by the caller. */
  split?: SplitLeases;
  /**
   * After a successful solve: the branch's moving tags (`main`, `latest`), added by a manifest copy when the branch
   * still points at the commit (see moving-tags.ts). Undefined when the solve pushes every tag itself.
   */
  movingTags?: (result: Pick<BuildResult, "digest">, signal?: AbortSignal) => Promise<MovingTagsOutcome>;
}

export interface PrepareDeps {
  /** `auth()` → the App's own Octokit (token minting, the installation's account), `auth(id)` → the installation's (reads). */
  github: Pick<Probot, "auth">;
  /** The daemon when there is no pool (tests of one daemon). */
  buildkitHost?: string;
  /** Where builds are sent: a builder is chosen and held for each (with `splitFor`, one per platform when no single one serves them all). */
  builders?: Pick<BuilderPool, "acquire" | "lost"> & Partial<Pick<BuilderPool, "splitFor">>;
  tenants: Tenants;
  /** The worker's git tokens, kept in memory until shortly before they expire. */
  tokens: InstallationTokenCache;
  /** The installations' accounts, kept in memory for a while. */
  accounts: InstallationAccounts;
  connectTimeoutMs?: number;
}

const short = (sha: string): string => sha.slice(0, 7);

/**
 * The daemon's connection, a token for the one repository (`contents: read`, never for forks), the installation's
 * account and the branch's head (asked here only when the moving tags cannot wait until after the solve, see
 * moving-tags.ts) are independent: one round trip, not four. The Dockerfile text only helps a failure point at its
 * line, so it is read once the solve is on its way (`readDockerfile`), not before it. The git token joins the build's
 * secrets (`redactor`) as soon as it is known. The job's own references are not trusted: the account's namespaces
 * come from the tenants, by installation, and the request must stay within them.
 *
 * The Contents read is not taken from the write budget: that budget guards GitHub's secondary limits on
 * content-creating requests, which a GET is not; it counts against the installation's ordinary rate limit, and a
 * 403/429 there is a transient failure like any other.
 */
export async function prepareBuild(job: BuildJob, deps: PrepareDeps, redactor: Redactor, trail: BuildTrail, signal?: AbortSignal): Promise<PreparedBuild> {
  const { owner, repo, installationId } = job.repository;
  const installation = await deps.github.auth(installationId);
  let readDockerfile = (): void => {};
  const dockerfileText = new Promise<void>((resolve) => (readDockerfile = resolve))
    .then(() => readRepoFile(installation, { owner, repo, path: job.image.dockerfile, ref: job.sha }))
    .catch(() => undefined);
  const minting = job.fork ? Promise.resolve(undefined) : repositoryGitToken(deps.tokens, () => appRequest(deps), installationId, job.repository.repoId);
  const account = deps.accounts.loginFor(installationId, owner, async () => installationAccountLogin(await appRequest(deps), installationId));
  // The commit's own tags go out in the solve and the branch's after it, so no branch read waits before the solve.
  const deferred = deferMovingTags(job);
  const branchCheck = deferred || !job.image.push || job.fork ? undefined : job.image.ifBranchMoved;
  const branchHead = branchCheck ? readBranchHead(installation, { owner, repo, branch: branchCheck.branch }) : undefined;
  for (const pending of [minting, account, branchHead]) pending?.catch(() => undefined);

  const split = deps.builders ? await acquireSplit(deps.builders, { buildId: job.buildId, key: builderKeyOf(job), platforms: job.image.platforms }, trail, signal) : undefined;
  const lease: Pick<BuilderLease, "client" | "release"> & { name?: string } = split ? { client: (split.parts[0] as SplitLeases["parts"][number]).client, release: split.close } : await connectBuilder(job, deps, trail, signal);
  const { client } = lease;
  try {
    const capabilities = await client.capabilities();
    const tokenLease = await minting;
    const gitToken = tokenLease?.token;
    if (gitToken !== undefined) redactor.add(gitToken);
    const moved = branchCheck ? branchMovedOn(job, await branchHead) : undefined;
    if (moved) trail.line(moved.note);
    const buildJob = moved ? { ...job, image: moved.image } : deferred ? { ...job, image: deferred.image } : job;
    const policy = policyOfJob(deps.tenants, job, await account);
    const { request, pushTags, notes, checksNote } = buildRequestForJob(buildJob, {
      ...(gitToken ? { gitToken } : {}),
      registry: policy.registry,
      capabilities,
      buildSecrets: buildSecretsOfJob(buildJob, policy),
    });
    assertInNamespaces(request, policy, deferred?.moving.tags);
    trail.line(`daemon: ${client.address} (${capabilities.daemon}${capabilities.buildkitVersion ? `, BuildKit ${capabilities.buildkitVersion}` : ""})`);
    for (const note of notes) trail.line(note);
    trail.line(pushTags.length > 0 ? `pushing: ${pushTags.join(", ")}` : "not pushing");
    const movingTags = deferred
      ? (result: Pick<BuildResult, "digest">, signal?: AbortSignal) => applyMovingTags(job, deferred.moving, result, { installation, request, pushed: pushTags, line: (text) => trail.line(text), ...(signal ? { signal } : {}) })
      : undefined;
    if (deferred) trail.line(`then, if branch ${deferred.moving.branch} still points at ${short(job.sha)}: ${deferred.moving.tags.join(", ")}`);
    return { client, request, pushTags, dockerfileText, readDockerfile, ...(checksNote ? { checksNote } : {}), ...(tokenLease ? { gitToken: tokenLease } : {}), ...(moved ? { leftOut: moved.leftOut } : {}), ...(movingTags ? { movingTags } : {}), ...(split ? { split } : {}), ...(lease.name !== undefined ? { builder: { name: lease.name, release: lease.release } } : {}) };
  } catch (err) {
    await lease.release();
    throw err;
  }
}

/** The key that keeps an image of a repository on the same builder. */
export function builderKeyOf(job: BuildJob): string {
  return `${job.repository.installationId}/${job.repository.repoId}/${job.image.name}`;
}

async function connectBuilder(job: BuildJob, deps: PrepareDeps, trail: BuildTrail, signal?: AbortSignal): Promise<Pick<BuilderLease, "client" | "release"> & { name?: string }> {
  if (!deps.builders) {
    const client = await BuildKitClient.connect(deps.buildkitHost, deps.connectTimeoutMs !== undefined ? { connectTimeoutMs: deps.connectTimeoutMs } : {});
    return { client, release: () => client.close().catch(() => undefined) };
  }
  const lease = await deps.builders.acquire({ buildId: job.buildId, key: builderKeyOf(job), platforms: job.image.platforms }, signal);
  for (const s of lease.skipped) trail.line(`builder ${s.name} refused the connection (${s.reason}); skipped`);
  trail.line(lease.lostBefore ? `builder ${lease.lostBefore} was lost; retrying on ${lease.name}` : `builder: ${lease.name}`);
  return lease;
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
