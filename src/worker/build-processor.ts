import type { Probot } from "probot";
import { BuildCancelledError, ConnectionError, Redactor } from "@buildkit-bot/buildkit";
import type { BuildKitClient, BuildResult, ProgressEvent } from "@buildkit-bot/buildkit";
import { DEFAULT_CONFIG_LIMITS } from "../config/index.js";
import { silentLog } from "../queue/index.js";
import { isTransientError, MustWaitError } from "../errors/index.js";
import type { BuildJob, BuildOutcome, BuildProcessor, QueueLog } from "../queue/index.js";
import { secretsForRepository, singleRegistryTenants } from "../tenancy/index.js";
import type { TenantRegistry, Tenants } from "../tenancy/index.js";
import { attemptCause, scrubError } from "../trail/index.js";
import type { BuildTrail, BuildTrails, FailedWhere } from "../trail/index.js";
import type { BuilderPool } from "../builders/index.js";
import { dockerfileInContext } from "./build-request-for-job.js";
import { forkBuiltOtherCommit, forkNotBuilt } from "./fork-rules.js";
import type { NotBuilt } from "./fork-rules.js";
import { builderKeyOf, prepareBuild } from "./prepare-build.js";
import type { PreparedBuild } from "./prepare-build.js";
import { afterGitRefusal } from "./installation-token.js";
import { afterDamagedGitClone } from "./damaged-git-clone.js";
import { InstallationTokenCache } from "./token-cache.js";
import { InstallationAccounts } from "./installation-accounts.js";
import { solveSplit, splitPartOf } from "./split-solve.js";
import type { BuiltOn } from "./split-solve.js";
import type { SplitPart } from "./split-leases.js";
import { reportingCache } from "./cache-report-trail.js";
import type { CacheHistory } from "./cache-history.js";
import { sayingWhyNotReused } from "./merge-queue-reuse.js";
import type { MergeQueueReuse } from "./merge-queue-reuse.js";
import { afterPush } from "./after-push.js";
import { isRefusal, refusalChannel } from "./refusal-report.js";
import type { OutsideNamespacesError } from "../tenancy/index.js";
import type { TenantRefusedError } from "./namespace-guard.js";
import type { SizeDiff } from "../github/index.js";

export interface BuildProcessorDeps {
  /** `auth()` → the App's own Octokit (token minting), `auth(id)` → the installation's (reads). */
  github: Pick<Probot, "auth">;
  /** Where everything the world sees of the build is written: log page, check run, status, in-flight entry. */
  trails: BuildTrails;
  /** The daemon when there is no pool (tests of one daemon). */
  buildkitHost?: string;
  /** The app config's builders: a builder is chosen and held for each build (with `splitFor`, one per platform when no single one serves them all). */
  builders?: Pick<BuilderPool, "acquire" | "lost"> & Partial<Pick<BuilderPool, "splitFor" | "mustWait" | "unreserve">>;
  /** The single registry of the app config: every account's, owner-scoped, when there is no `tenants`. */
  registry: TenantRegistry;
  /**
   * The operator's tenants (the app config's): each build gets its own account's registry credentials and is
   * refused when any reference leaves the account's namespaces. Looked up by the job's installation id.
   */
  tenants?: Tenants;
  /**
   * After a build was given up (its check run never came): concludes the check runs its slot was left with (see
   * settleSlot) and says whether another build of the image reports the commit status.
   */
  settleGivenUp?(job: BuildJob): Promise<{ replaced: boolean }>;
  /** BullMQ's attempt count for the job; undefined when the job cannot be found (then the attempt counts as the last). */
  attemptsOf(buildId: string): Promise<{ attemptsMade: number; attempts: number } | undefined>;
  log?: QueueLog;
  connectTimeoutMs?: number;
  /** The worker's git tokens, in memory only (by default the processor's own; a worker process makes one processor). */
  tokens?: InstallationTokenCache;
  /** The installations' accounts, in memory only (by default the processor's own). */
  accounts?: InstallationAccounts;
  /** Where each image's last build per ref is kept for the check run's cache report; without it, no report. */
  cacheHistory?: CacheHistory;
  /** Merge queue image reuse: pull requests' pushed images are noted, merge groups of the same tree copy them. */
  reuse?: MergeQueueReuse;
}

/**
 * The build worker's processor. One build job → at most one solve: the fork rules first, then the daemon, the
 * token and the request (see prepareBuild), the solve with its progress on the build's trail, and the outcome on
 * the trail. Once the solve (and with it the push) is done, the builder and the worker's slot go back before the
 * build reports (moving tags, provenance, size diff, cache report, check run): the next build starts meanwhile.
 * Errors go to the queue as they are: transient ones are retried (the check run goes back to queued with a note,
 * and only the last attempt concludes it as failed); every other one ends the trail as the build's failure and is
 * then thrown, which fails the job without retry. A resumed job (after a stall) reuses its check run and its log.
 */
export function createBuildProcessor(deps: BuildProcessorDeps): BuildProcessor {
  const log = deps.log ?? silentLog;
  const tenants = deps.tenants ?? singleRegistryTenants({ registry: deps.registry, repoConfigLimits: DEFAULT_CONFIG_LIMITS });
  const tokens = deps.tokens ?? new InstallationTokenCache();
  const accounts = deps.accounts ?? new InstallationAccounts();
  return async (job, signal, slot) => {
    // Before anything is recorded: a build every usable builder is too full for goes back to the queue, no attempt spent.
    // A merge group that copies its pull request's image needs no builder, so it does not wait for one.
    const reusable = await deps.reuse?.lookup(job, deps.github);
    const wait = reusable?.kind === "found" ? undefined : await deps.builders?.mustWait?.({ buildId: job.buildId, key: builderKeyOf(job), platforms: job.image.platforms }).catch(() => undefined);
    if (wait !== undefined) throw new MustWaitError(wait);
    // The builder slot mustWait took is adopted by the build's acquire; any other way out gives it back.
    const unreserve = async (): Promise<void> => deps.builders?.unreserve?.(job.buildId).catch(() => undefined);
    const redactor = new Redactor(secretsOf(tenants, job));
    let trail = withCacheReport(
      await deps.trails.begin(job, { signal, redactor }).catch(async (err: unknown) => {
        await unreserve();
        throw err;
      }),
      job,
      deps,
      log,
    );
    let build: PreparedBuild | undefined;
    try {
      trail.line(headline(job));
      const refused = await forkNotBuilt(job, deps.github);
      if (refused) return await notBuilt(trail, refused);
      const reuse = deps.reuse && reusable ? await deps.reuse.attempt(job, reusable, { github: deps.github, tenants, accounts, trail, signal }) : undefined;
      if (reuse?.kind === "reused") return reuse.outcome;
      if (reuse?.note) trail = sayingWhyNotReused(trail, reuse.note);
      const noteReusable = deps.reuse?.noteWhenPushed(job, { github: deps.github, trail });
      build = await prepareBuild(job, { ...deps, tenants, tokens, accounts }, redactor, trail, signal);
      const starting = trail.started();
      starting.catch(() => undefined);
      const solveOptions = { signal: AbortSignal.any([signal, trail.lost]), onProgress: (event: ProgressEvent) => trail.progress(event), dockerfileText: build.dockerfileText };
      const solving = build.split
        ? solveSplit(build.split.parts, build.request, { ...solveOptions, line: (text) => trail.line(text) })
        : build.client.solve(build.request, solveOptions).then((result) => ({ result, builtOn: undefined }));
      // The Solve RPC goes out within this tick's promise jobs; the Dockerfile's read after it.
      setImmediate(build.readDockerfile);
      const { result, builtOn } = await solving;
      // Solved and pushed: the builder and the worker's slot go to the next build; what follows is reporting.
      await freeBuilders(build);
      slot?.free();
      await starting;
      // The run's id has settled by now (the start report waited for it).
      if (trail.lost.aborted) return await givenUp(trail, job, deps, log);
      const discarded = forkBuiltOtherCommit(job, result.exporterResponse);
      if (discarded) return await notBuilt(trail, discarded);
      const { moved, provenance, sizeDiff } = await afterPush(job, build, result, { noteReusable, signal });
      if (provenance) build.provenance = provenance;
      const done = moved ? { ...build, ...moved } : build;
      return await succeeded(trail, job, done, result, builtOn, sizeDiff);
    } catch (failure) {
      const err = await afterDamagedGitClone(afterGitRefusal(failure, tokens, build?.gitToken), gitRemoteOf(build), buildersOf(build), log);
      scrubError(err, redactor);
      if (trail.lost.aborted && !signal.aborted) return await givenUp(trail, job, deps, log);
      const part = splitPartOf(err);
      const lostOn = part?.name ?? build?.builder?.name;
      const lost = lostOn && err instanceof ConnectionError && !signal.aborted ? await builderLost(deps, job, lostOn, err, part) : undefined;
      if (signal.aborted || err instanceof BuildCancelledError) {
        // The queue ends a superseded build's trail; a build cancelled for another reason fails its job, and the
        // reconciler ends its trail with that reason.
        await trail.stopped(signal.aborted ? `cancelled: ${errorText(signal.reason)}` : errorText(err));
      } else if (isTransientError(err) && !(await isLastAttempt(deps, job))) {
        await trail.retrying(lost ?? errorText(err), attemptCause(err));
      } else {
        const refusal = isRefusal(err) ? await reportedRefusal(job, err, deps, log) : undefined;
        await trail.failed(err, { dockerfile: { inContext: dockerfileInContext(job.image.context, job.image.dockerfile), path: job.image.dockerfile }, ...(refusal ? { refusal } : {}) });
      }
      throw err;
    } finally {
      await unreserve();
      // A pool's builder keeps its connection for the next build; only a build's own (no pool) is closed.
      if (build && !build.builder && !build.split) await build.client.close().catch(() => undefined);
      if (build) await freeBuilders(build);
    }
  };
}

function gitRemoteOf(build: PreparedBuild | undefined): string | undefined {
  return build?.request.context.type === "git" ? build.request.context.remote : undefined;
}

/** The daemons the build was sent to: each part's of a split build, else its one. */
function buildersOf(build: PreparedBuild | undefined): BuildKitClient[] {
  if (!build) return [];
  return build.split ? build.split.parts.map((part) => part.client) : [build.client];
}

/** Gives back the pool's builders the build holds (once: later calls do nothing). */
async function freeBuilders(build: PreparedBuild): Promise<void> {
  await build.builder?.release();
  await build.split?.close();
}

/** The build's trail with a cache report added to its success, when the app keeps build records. */
function withCacheReport(trail: BuildTrail, job: BuildJob, deps: BuildProcessorDeps, log: QueueLog): BuildTrail {
  return deps.cacheHistory ? reportingCache(trail, job, { history: deps.cacheHistory, github: deps.github, log }) : trail;
}

/** The registry password and every build secret the repository is given, used by this build or not: never shown. */
function secretsOf(tenants: Tenants, job: BuildJob): string[] {
  const policy = tenants.policyFor({ accountLogin: job.repository.owner, installationId: job.repository.installationId });
  if (!policy.served) return [];
  return [
    ...(policy.registry.credentials ? [policy.registry.credentials.password] : []),
    ...secretsForRepository(policy.buildSecrets, job.repository.repo).values(),
  ];
}

function headline(job: BuildJob): string {
  return `buildkit-bot: ${job.image.name} at ${job.sha} (${job.fork ? `fork pull request, via ${job.gitRef}` : job.gitRef}), build ${job.buildId}`;
}

async function succeeded(trail: BuildTrail, job: BuildJob, build: PreparedBuild, result: BuildResult, builtOn?: BuiltOn, sizeDiff?: SizeDiff): Promise<BuildOutcome> {
  const { pushTags } = build;
  const pushed = pushTags.length > 0;
  const digest = result.digest && pushed ? { digest: result.digest } : {};
  const where = builtOn ? `; ${builtOn.map((b) => `${b.platform} on ${b.builder}`).join(", ")}` : "";
  const summary = `${pushed ? `pushed ${pushTags.join(", ")}${result.digest ? ` (${result.digest})` : ""}` : "built, not pushed"}${where}`;
  await trail.succeeded(
    {
      tags: pushTags,
      pushed,
      ...digest,
      stepsDone: result.steps.completed,
      stepsTotal: result.steps.total,
      cachedSteps: result.steps.cached,
      ...(job.image.platforms.length > 0 ? { platforms: job.image.platforms } : {}),
      ...(build.leftOut ? { leftOut: build.leftOut } : {}),
      ...(builtOn ? { builtOn } : {}),
      ...(build.checksNote ? { checksNote: build.checksNote } : {}),
      ...(build.provenance ? { provenance: build.provenance } : {}),
      ...(sizeDiff ? { sizeDiff } : {}),
    },
    summary,
  );
  return {
    ...digest,
    pushedTags: pushTags,
    ...(build.request.cacheExports?.length && job.image.cache.export ? { cacheExported: [job.image.cache.export] } : {}),
    durationMs: Date.now() - trail.startedAt,
    summary,
  };
}

async function notBuilt(trail: BuildTrail, why: NotBuilt): Promise<BuildOutcome> {
  if (why.outcome === "neutral") await trail.neutral(why.reason);
  else await trail.cancelled(why.reason, { logMessage: why.logMessage });
  return { pushedTags: [], durationMs: Date.now() - trail.startedAt, summary: why.outcome === "neutral" ? why.reason : why.logMessage };
}

/**
 * The build's check run never came (the planning that queued it ended without handing one over): the build was
 * stopped, and its job ends without a retry. Another build of the image reports the commit status, unless there
 * is none.
 */
async function givenUp(trail: BuildTrail, job: BuildJob, deps: BuildProcessorDeps, log: QueueLog): Promise<BuildOutcome> {
  const why = String(trail.lost.reason);
  const message = `Not built: ${why}.`;
  const where = { buildId: job.buildId, repo: `${job.repository.owner}/${job.repository.repo}`, sha: job.sha, image: job.image.name };
  const settled = await deps.settleGivenUp?.(job).catch((err: unknown) => {
    log.warn({ ...where, err: errorText(err) }, "check runs of a given-up build left to the reconciler");
    return undefined;
  });
  await trail.cancelled(why, { logMessage: message, statusReportedElsewhere: !settled || settled.replaced }).catch(() => undefined);
  log.warn({ ...where, why }, "build given up: its check run never came");
  return { pushedTags: [], durationMs: Date.now() - trail.startedAt, summary: message };
}

/** A refused job's check run is concluded at once, through a token confined to the job's repository, or not at all: see refusalChannel. */
async function reportedRefusal(job: BuildJob, err: OutsideNamespacesError | TenantRefusedError, deps: BuildProcessorDeps, log: QueueLog): Promise<NonNullable<FailedWhere["refusal"]>> {
  const channel = await refusalChannel(job, err, deps.github);
  if (channel.request === undefined) {
    log.warn({ buildId: job.buildId, installationId: job.repository.installationId, repoId: job.repository.repoId, why: channel.why }, "refused build job: nothing written to GitHub, its check run stays open");
    return { request: undefined };
  }
  return { request: channel.request, ...(channel.at ? { at: channel.at } : {}) };
}

/** The builder died under the build: the pool stops giving it builds, and the retry note names where the build goes next. */
async function builderLost(deps: BuildProcessorDeps, job: BuildJob, name: string, err: ConnectionError, part?: SplitPart): Promise<string> {
  const request = { buildId: part?.holdId ?? job.buildId, key: builderKeyOf(job), platforms: part?.platforms ?? job.image.platforms };
  const next = await deps.builders?.lost(request, name, err.message).catch(() => undefined);
  return `builder ${name} was lost${part ? ` (${part.platforms.join(", ")})` : ""}; retrying on ${next ?? "another builder"}`;
}

async function isLastAttempt(deps: BuildProcessorDeps, job: BuildJob): Promise<boolean> {
  const attempts = await deps.attemptsOf(job.buildId).catch(() => undefined);
  return attempts === undefined || attempts.attemptsMade + 1 >= attempts.attempts;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
