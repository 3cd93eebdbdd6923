import type { Probot } from "probot";
import { BuildKitClient } from "../buildkit/client.js";
import { BuildCancelledError } from "../buildkit/errors.js";
import { DEFAULT_CONFIG_LIMITS } from "../config/config-limits.js";
import { secretsForRepository, singleRegistryTenants } from "../tenancy/index.js";
import type { TenantRegistry, Tenants } from "../tenancy/index.js";
import { readBranchHead, readRepoFile, RepoReadError } from "../github/repo-reader.js";
import type { GitHubClient } from "../github/repo-reader.js";
import type { GitHubReporter, OctokitRequest } from "../github/reporter.js";
import type { WriteBudget } from "../github/write-budget.js";
import type { BuildOutcome } from "../queue/build-outcome.js";
import type { CheckRunHandoff } from "../queue/check-run-handoff.js";
import type { BuildProcessor } from "../queue/build-worker.js";
import type { BuildJob } from "../queue/job-types.js";
import { isTransientError, TransientError } from "../queue/queue-errors.js";
import type { QueueLog } from "../queue/queue-log.js";
import { silentLog } from "../queue/queue-log.js";
import type { LogRecord } from "../web/log-records.js";
import type { LogStore } from "../web/log-store.js";
import { logPageUrl } from "../web/log-token.js";
import { LogWriter } from "../web/log-writer.js";
import { gitPinsOf } from "./build-info-pins.js";
import { reporterForBuild } from "./build-reporter.js";
import { attemptCause } from "./attempt-cause.js";
import { buildRequestForJob, dockerfileInContext } from "./build-request-for-job.js";
import { failureOf, scrubError } from "./failure-report.js";
import type { InFlightBuilds } from "./in-flight-builds.js";
import { installationAccountLogin, mintRepositoryToken } from "./installation-token.js";
import { assertInNamespaces, policyOfJob } from "./namespace-guard.js";
import { buildSecretsOfJob } from "./secret-guard.js";
import { ProgressBridge } from "./progress-bridge.js";
import { readPullRequestHead } from "./pull-request-head.js";

export interface BuildProcessorDeps {
  /** `auth()` → the App's own Octokit (token minting), `auth(id)` → the installation's (reads, check runs). */
  github: Pick<Probot, "auth">;
  budget: WriteBudget;
  logs: LogStore;
  inFlight: InFlightBuilds;
  /** Where the planner leaves the check run's id of a build queued while the run was being created. */
  handoff: CheckRunHandoff;
  /** BUILDKIT_HOST of the app config. */
  buildkitHost: string;
  /** The single registry of the app config: every account's, owner-scoped, when there is no `tenants`. */
  registry: TenantRegistry;
  /**
   * The operator's tenants (the app config's): each build gets its own account's registry credentials and is
   * refused when any reference leaves the account's namespaces. Looked up by the job's installation id.
   */
  tenants?: Tenants;
  /** BUILDKIT_BOT_PUBLIC_URL; without it check runs and statuses carry no link to the log page. */
  publicBaseUrl?: string;
  /**
   * Whether the planning that queued a build without its run's id may still hand it one (see
   * CheckRunLedger.mayStillHand). When it says no, the build is given up: stopped, its job ended without a retry.
   * Without it only the wait's deadline ends the wait, and the build then reports through its commit status only.
   */
  stillComing?(job: BuildJob): Promise<boolean>;
  /**
   * After a build was given up: concludes the check runs its slot was left with (see settleSlot) and says whether
   * another build of the image reports the commit status.
   */
  settleGivenUp?(job: BuildJob): Promise<{ replaced: boolean }>;
  /** BullMQ's attempt count for the job; undefined when the job cannot be found (then the attempt counts as the last). */
  attemptsOf(buildId: string): Promise<{ attemptsMade: number; attempts: number } | undefined>;
  log?: QueueLog;
  /** Least time between two progress updates of a check run. Default 30 s. */
  progressIntervalMs?: number;
  connectTimeoutMs?: number;
}

const short = (sha: string): string => sha.slice(0, 7);

type EndOutcome = Extract<LogRecord, { t: "end" }>["outcome"];

/**
 * The build worker's processor. One build job → at most one solve:
 * the fork rules first (private fork: neutral, not built; the PR ref must still point at the sha), then, at the
 * same time, the daemon, a token for that one repository with `contents: read` (never for forks) and the
 * Dockerfile text (one Contents API read, awaited only if the build fails), the solve with progress to the log
 * page and the check run, and the outcome on the check run and the commit status. Errors go to the queue as they are: transient ones are retried (the check run goes back
 * to queued with a note, and only the last attempt concludes it as failed); every other one is reported as the
 * build's failure and then thrown, which fails the job without retry. A resumed job (after a stall) reuses its
 * check run and its log.
 *
 * The Contents read is not taken from the write budget: that budget guards GitHub's secondary limits on
 * content-creating requests, which a GET is not; it counts against the installation's ordinary rate limit, and a
 * 403/429 there is a transient failure like any other.
 */
export function createBuildProcessor(deps: BuildProcessorDeps): BuildProcessor {
  const log = deps.log ?? silentLog;
  return async (job, signal) => {
    const where = { buildId: job.buildId, repo: `${job.repository.owner}/${job.repository.repo}`, sha: job.sha, image: job.image.name };
    const tenants = deps.tenants ?? singleRegistryTenants({ registry: deps.registry, repoConfigLimits: DEFAULT_CONFIG_LIMITS });
    const known = tenants.policyFor({ accountLogin: job.repository.owner, installationId: job.repository.installationId });
    const ownCredentials = known.served ? known.registry.credentials : undefined;
    const secrets: string[] = ownCredentials ? [ownCredentials.password] : [];
    // Every build secret the repository is given is scrubbed from logs and errors, whether this build mounts it or not.
    if (known.served) secrets.push(...secretsForRepository(known.buildSecrets, job.repository.repo).values());
    const pageToken = await deps.logs.open(job.buildId);
    const detailsUrl = deps.publicBaseUrl ? logPageUrl(deps.publicBaseUrl, pageToken) : undefined;
    // Registered before anything can fail on GitHub's side: if no attempt ever gets through, the reconciler
    // concludes the check run once the job has failed for good.
    const clock = await deps.inFlight.begin(job, detailsUrl);
    // Every attempt counts: a retried build says how long it took from its first start, and why it was retried.
    const started = clock.startedAt;
    const attempts = { count: clock.attempt, earlier: clock.earlier };
    const installation = await deps.github.auth(job.repository.installationId);
    const request = installation.request as unknown as OctokitRequest;
    // The planner may still be creating the check run: the solve does not wait for it, only the run's writes do.
    // When the run will never come (the planning that queued the build ended without handing one over), the
    // build is given up: `givenUp` stops the solve, and the job ends without a retry.
    const givenUp = new AbortController();
    const buildSignal = AbortSignal.any([signal, givenUp.signal]);
    let checkRunId: number | Promise<number | undefined>;
    if (job.checkRunId !== undefined) {
      checkRunId = job.checkRunId;
    } else {
      const stillComing = deps.stillComing;
      const settled = deps.handoff.settle(job.buildId, { signal, ...(stillComing ? { stillComing: () => stillComing(job) } : {}) });
      checkRunId = settled.then((o) => (o.kind === "created" ? o.checkRunId : undefined));
      void settled.then((o) => {
        if (o.kind === "lost") givenUp.abort(o.why);
        else if (o.kind !== "created" && !signal.aborted) log.warn(where, "the planner's check run for this build did not come: only the commit status reports it");
      });
    }
    const reporter = reporterForBuild(
      request,
      deps.budget,
      { owner: job.repository.owner, repo: job.repository.repo, sha: job.sha, image: job.image.name, checkRunId },
      detailsUrl,
      deps.progressIntervalMs,
    );

    let writer = new LogWriter(deps.logs, job.buildId, { secrets: [...secrets] });
    let client: BuildKitClient | undefined;
    let bridge: ProgressBridge | undefined;
    let startReport: Promise<void> | undefined;
    const finishLog = async (outcome: EndOutcome, message: string): Promise<void> => {
      bridge?.close();
      await writer.finish(outcome, message).catch((err: unknown) => log.warn({ ...where, err: errorText(err) }, "could not finish the build log"));
    };
    const takenBack = async (): Promise<BuildOutcome> => {
      const why = String(givenUp.signal.reason);
      const message = `Not built: ${why}.`;
      writer.line(message);
      await finishLog("cancelled", message);
      await deps.inFlight.end(job.buildId).catch(() => undefined);
      // Another build of this image reports the commit status, unless there is none.
      const settled = await deps.settleGivenUp?.(job).catch((err: unknown) => {
        log.warn({ ...where, err: errorText(err) }, "check runs of a given-up build left to the reconciler");
        return undefined;
      });
      if (settled && !settled.replaced) await reporter.checkRunCancelled(why).catch(() => undefined);
      log.warn({ ...where, why }, "build given up: its check run never came");
      return { pushedTags: [], durationMs: Date.now() - started, summary: message };
    };
    const notBuilt = async (conclude: (r: GitHubReporter) => Promise<void>, outcome: EndOutcome, message: string): Promise<BuildOutcome> => {
      writer.line(message);
      await finishLog(outcome, message);
      await conclude(reporter);
      await deps.inFlight.end(job.buildId);
      log.info({ ...where, outcome }, message);
      return { pushedTags: [], durationMs: Date.now() - started, summary: message };
    };

    try {
      writer.line(`buildkit-bot: ${job.image.name} at ${job.sha} (${job.fork ? `fork pull request, via ${job.gitRef}` : job.gitRef}), build ${job.buildId}`);
      if (job.fork && job.repository.private) {
        const why = "Not built: pull requests from forks of a private repository are not built, because cloning them would need this repository's credentials.";
        return await notBuilt((r) => r.checkRunNeutral(why), "neutral", why);
      }
      if (job.fork) {
        const moved = await pullRequestMovedOn(request, job);
        if (moved !== undefined) return await notBuilt((r) => r.checkRunCancelled(moved), "cancelled", `Not built: ${moved}.`);
      }

      // The daemon connection, the git token and the Dockerfile text are independent: one round trip, not three.
      // The Dockerfile text only helps a failure point at its line, so the solve does not wait for it.
      const dockerfileText = readRepoFile(installation as unknown as GitHubClient, {
        owner: job.repository.owner,
        repo: job.repository.repo,
        path: job.image.dockerfile,
        ref: job.sha,
      }).catch(() => undefined);
      const minting = job.fork ? Promise.resolve(undefined) : mintBuildToken(deps, job);
      minting.catch(() => undefined);
      const account = deps.github.auth().then((app) => installationAccountLogin(app.request as unknown as OctokitRequest, job.repository.installationId));
      account.catch(() => undefined);
      const branchCheck = job.image.ifBranchMoved;
      const branchHead = branchCheck
        ? readBranchHead(installation as unknown as GitHubClient, { owner: job.repository.owner, repo: job.repository.repo, branch: branchCheck.branch })
        : undefined;
      branchHead?.catch(() => undefined);
      client = await BuildKitClient.connect(deps.buildkitHost, deps.connectTimeoutMs !== undefined ? { connectTimeoutMs: deps.connectTimeoutMs } : {});
      const capabilities = await client.capabilities();
      const gitToken = await minting;
      if (gitToken !== undefined) {
        secrets.push(gitToken);
        await writer.flush().catch(() => undefined);
        writer = new LogWriter(deps.logs, job.buildId, { secrets: [...secrets] });
      }
      const moved = branchCheck ? branchMovedOn(job, await branchHead) : undefined;
      if (moved) writer.line(moved.note);
      const buildJob = moved ? { ...job, image: moved.image } : job;
      // The job's own references are not trusted: the account's namespaces come from the tenants, by installation.
      const policy = policyOfJob(tenants, job, await account);
      const { request: buildRequest, pushTags, notes } = buildRequestForJob(buildJob, { ...(gitToken ? { gitToken } : {}), registry: policy.registry, capabilities, buildSecrets: buildSecretsOfJob(buildJob, policy) });
      assertInNamespaces(buildRequest, policy);
      writer.line(`daemon: ${client.address} (${capabilities.daemon}${capabilities.buildkitVersion ? `, BuildKit ${capabilities.buildkitVersion}` : ""})`);
      for (const note of notes) writer.line(note);
      writer.line(pushTags.length > 0 ? `pushing: ${pushTags.join(", ")}` : "not pushing");

      // "In progress" goes to GitHub alongside the solve: a round trip is no reason to hold the build back. It is
      // awaited before any conclusion, so GitHub always sees the two in order.
      const reportingStart = reporter.checkRunStarted();
      startReport = reportingStart;
      reportingStart.catch(() => undefined);
      const current = new ProgressBridge(writer, (p) => reporter.checkRunProgress(p), (err) => log.warn({ ...where, err: errorText(err) }, "progress update failed"));
      bridge = current;
      const result = await client.solve(buildRequest, {
        signal: buildSignal,
        onProgress: current.onEvent,
        dockerfileText,
      });
      current.close();
      await reportingStart;
      // The run's id has settled by now (the start report waited for it).
      if (givenUp.signal.aborted) return await takenBack();

      if (job.fork) {
        const pins = gitPinsOf(result.exporterResponse);
        const other = pins.find((pin) => pin !== job.sha);
        if (pins.length > 0 && other !== undefined) {
          const moved = `the pull request moved on to ${short(other)}`;
          return await notBuilt((r) => r.checkRunCancelled(moved), "cancelled", `Built the wrong commit, discarded: ${moved}.`);
        }
      }

      const durationMs = Date.now() - started;
      const pushed = pushTags.length > 0;
      const summary = pushed ? `pushed ${pushTags.join(", ")}${result.digest ? ` (${result.digest})` : ""}` : "built, not pushed";
      // The log ends before the check run concludes, so its page never says "running" under a finished check.
      await finishLog("success", summary);
      await reporter.checkRunSucceeded({
        tags: pushTags,
        pushed,
        ...(result.digest && pushed ? { digest: result.digest } : {}),
        durationMs,
        attempts,
        stepsDone: result.steps.completed,
        stepsTotal: result.steps.total,
        cachedSteps: result.steps.cached,
        ...(job.image.platforms.length > 0 ? { platforms: job.image.platforms } : {}),
        ...(moved ? { leftOut: moved.leftOut } : {}),
      });
      await deps.inFlight.end(job.buildId);
      log.info({ ...where, durationMs, digest: result.digest, pushed }, "build succeeded");
      return {
        ...(result.digest && pushed ? { digest: result.digest } : {}),
        pushedTags: pushTags,
        ...(buildRequest.cacheExports?.length && job.image.cache.export ? { cacheExported: [job.image.cache.export] } : {}),
        durationMs,
        summary,
      };
    } catch (caught) {
      await startReport?.catch(() => undefined);
      let err: unknown = caught instanceof RepoReadError ? new TransientError(caught.message, { cause: caught }) : caught;
      scrubError(err, secrets);
      const message = errorText(err);
      if (givenUp.signal.aborted && !signal.aborted) return await takenBack();
      if (signal.aborted || err instanceof BuildCancelledError) {
        // The queue reports a superseded build (and drops it from the in-flight registry); a build cancelled for
        // another reason fails its job, and the reconciler concludes its check run with that reason.
        await finishLog("cancelled", signal.aborted ? `cancelled: ${errorText(signal.reason)}` : message);
        throw err;
      }
      if (isTransientError(err) && !(await isLastAttempt(deps, job))) {
        writer.line(`attempt failed, it will be retried: ${message}`);
        await deps.inFlight.attemptEnded(job.buildId, attemptCause(err)).catch((e: unknown) => log.warn({ ...where, err: errorText(e) }, "could not record the attempt"));
        bridge?.close();
        await writer.flush().catch(() => undefined);
        await reporter.checkRunRetrying(message).catch((e: unknown) => log.warn({ ...where, err: errorText(e) }, "could not report the retry"));
        log.warn({ ...where, err: message }, "build attempt failed; the queue will retry it");
        throw err;
      }
      const failure = failureOf(err, {
        secrets,
        durationMs: Date.now() - started,
        attempts,
        dockerfile: { inContext: dockerfileInContext(job.image.context, job.image.dockerfile), path: job.image.dockerfile },
        ...(bridge ? { progress: bridge.progress, recentLog: bridge.recentLines() } : {}),
      });
      writer.line(`build failed: ${failure.message}`);
      await finishLog("failure", failure.message);
      try {
        await reporter.checkRunFailed(failure);
      } catch (reportErr) {
        scrubError(reportErr, secrets);
        log.error({ ...where, err: errorText(reportErr) }, "could not report the failed build");
        // The report is what matters now: a transient GitHub failure retries the job (and with it the report).
        if (isTransientError(reportErr)) err = reportErr;
      }
      await deps.inFlight.end(job.buildId).catch(() => undefined);
      log.warn({ ...where, err: message }, "build failed");
      throw err;
    } finally {
      await client?.close().catch(() => undefined);
    }
  };
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

/** A token for the build's git fetch: this one repository, `contents: read`. */
async function mintBuildToken(deps: BuildProcessorDeps, job: BuildJob): Promise<string> {
  const app = await deps.github.auth();
  return mintRepositoryToken(app.request as unknown as OctokitRequest, job.repository.installationId, job.repository.repoId);
}

/** Why a fork's build must not run (the PR ref no longer points at the sha), or undefined when it may. */
async function pullRequestMovedOn(request: OctokitRequest, job: BuildJob): Promise<string | undefined> {
  const number = job.pullRequest?.number ?? Number(/^refs\/pull\/(\d+)\/head$/.exec(job.gitRef)?.[1]);
  if (!Number.isSafeInteger(number)) return `the pull request ref ${job.gitRef} cannot be checked`;
  const head = await readPullRequestHead(request, { owner: job.repository.owner, repo: job.repository.repo, number });
  if (head === undefined) return `the pull request ref refs/pull/${number}/head is gone`;
  return head === job.sha ? undefined : `the pull request moved on to ${short(head)}`;
}

async function isLastAttempt(deps: BuildProcessorDeps, job: BuildJob): Promise<boolean> {
  const attempts = await deps.attemptsOf(job.buildId).catch(() => undefined);
  return attempts === undefined || attempts.attemptsMade + 1 >= attempts.attempts;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
