import type { Probot } from "probot";
import { BuildCancelledError, Redactor } from "@buildkit-bot/buildkit";
import type { BuildResult } from "@buildkit-bot/buildkit";
import { DEFAULT_CONFIG_LIMITS } from "../config/index.js";
import { silentLog } from "../queue/index.js";
import { isTransientError } from "../errors/index.js";
import type { BuildJob, BuildOutcome, BuildProcessor, QueueLog } from "../queue/index.js";
import { secretsForRepository, singleRegistryTenants } from "../tenancy/index.js";
import type { TenantRegistry, Tenants } from "../tenancy/index.js";
import { attemptCause, scrubError } from "../trail/index.js";
import type { BuildTrail, BuildTrails } from "../trail/index.js";
import { dockerfileInContext } from "./build-request-for-job.js";
import { forkBuiltOtherCommit, forkNotBuilt } from "./fork-rules.js";
import type { NotBuilt } from "./fork-rules.js";
import { prepareBuild } from "./prepare-build.js";
import type { PreparedBuild } from "./prepare-build.js";

export interface BuildProcessorDeps {
  /** `auth()` → the App's own Octokit (token minting), `auth(id)` → the installation's (reads). */
  github: Pick<Probot, "auth">;
  /** Where everything the world sees of the build is written: log page, check run, status, in-flight entry. */
  trails: BuildTrails;
  /** BUILDKIT_HOST of the app config. */
  buildkitHost: string;
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
}

/**
 * The build worker's processor. One build job → at most one solve: the fork rules first, then the daemon, the
 * token and the request (see prepareBuild), the solve with its progress on the build's trail, and the outcome on
 * the trail. Errors go to the queue as they are: transient ones are retried (the check run goes back to queued
 * with a note, and only the last attempt concludes it as failed); every other one ends the trail as the build's
 * failure and is then thrown, which fails the job without retry. A resumed job (after a stall) reuses its check
 * run and its log.
 */
export function createBuildProcessor(deps: BuildProcessorDeps): BuildProcessor {
  const log = deps.log ?? silentLog;
  const tenants = deps.tenants ?? singleRegistryTenants({ registry: deps.registry, repoConfigLimits: DEFAULT_CONFIG_LIMITS });
  return async (job, signal) => {
    const redactor = new Redactor(secretsOf(tenants, job));
    const trail = await deps.trails.begin(job, { signal, redactor });
    let build: PreparedBuild | undefined;
    try {
      trail.line(headline(job));
      const refused = await forkNotBuilt(job, deps.github);
      if (refused) return await notBuilt(trail, refused);
      build = await prepareBuild(job, { ...deps, tenants }, redactor, trail);
      const starting = trail.started();
      starting.catch(() => undefined);
      const result = await build.client.solve(build.request, {
        signal: AbortSignal.any([signal, trail.lost]),
        onProgress: (event) => trail.progress(event),
        dockerfileText: build.dockerfileText,
      });
      await starting;
      // The run's id has settled by now (the start report waited for it).
      if (trail.lost.aborted) return await givenUp(trail, job, deps, log);
      const discarded = forkBuiltOtherCommit(job, result.exporterResponse);
      if (discarded) return await notBuilt(trail, discarded);
      return await succeeded(trail, job, build, result);
    } catch (err) {
      scrubError(err, redactor);
      if (trail.lost.aborted && !signal.aborted) return await givenUp(trail, job, deps, log);
      if (signal.aborted || err instanceof BuildCancelledError) {
        // The queue ends a superseded build's trail; a build cancelled for another reason fails its job, and the
        // reconciler ends its trail with that reason.
        await trail.stopped(signal.aborted ? `cancelled: ${errorText(signal.reason)}` : errorText(err));
      } else if (isTransientError(err) && !(await isLastAttempt(deps, job))) {
        await trail.retrying(errorText(err), attemptCause(err));
      } else {
        await trail.failed(err, { dockerfile: { inContext: dockerfileInContext(job.image.context, job.image.dockerfile), path: job.image.dockerfile } });
      }
      throw err;
    } finally {
      await build?.client.close().catch(() => undefined);
    }
  };
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

async function succeeded(trail: BuildTrail, job: BuildJob, build: PreparedBuild, result: BuildResult): Promise<BuildOutcome> {
  const { pushTags } = build;
  const pushed = pushTags.length > 0;
  const digest = result.digest && pushed ? { digest: result.digest } : {};
  const summary = pushed ? `pushed ${pushTags.join(", ")}${result.digest ? ` (${result.digest})` : ""}` : "built, not pushed";
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

async function isLastAttempt(deps: BuildProcessorDeps, job: BuildJob): Promise<boolean> {
  const attempts = await deps.attemptsOf(job.buildId).catch(() => undefined);
  return attempts === undefined || attempts.attemptsMade + 1 >= attempts.attempts;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
