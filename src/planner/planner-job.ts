import { createHash } from "node:crypto";
import { DEFAULT_CONFIG_LIMITS, ConfigError, REPO_CONFIG_PATH } from "../config/index.js";
import type { ConfigLimits, RepoConfig } from "../config/index.js";
import type { Redis } from "ioredis";
import { listPullRequestFiles, listPushChangedFiles } from "../github/index.js";
import type { GitHubClient, PlannerCheckRuns } from "../github/index.js";
import { eventJobId, supersedeKey, CheckRunHandoff, CheckRunLedger } from "../queue/index.js";
import type { BuildJobInput, EventJob, RunSlot, QueueLog } from "../queue/index.js";
import { BuildClaims } from "./build-claims.js";
import { decodeExternalId, encodeExternalId, EXTERNAL_ID_MAX_LENGTH, externalIdHash, hashedExternalId } from "./external-id.js";
import type { ExternalIdData } from "./external-id.js";
import { ExternalIdStore } from "./external-id-store.js";
import { ForkApprovals } from "./fork-approvals.js";
import { forkBuildAllowed, pullRequestJobOfComment } from "./fork-gate.js";
import { ConfigSourceMemo, keepsConfigSource } from "./config-source-memo.js";
import type { ConfigSource } from "./config-source-memo.js";
import { inThreadConfigWork } from "./config-work.js";
import type { ConfigWork } from "./config-work.js";
import { readConfigSource } from "./load-repo-config.js";
import type { ImageDecision } from "./plan.js";
import { PlanProgress } from "./plan-progress.js";
import { namespaceIssues } from "./namespace-check.js";
import { secretGrantIssues } from "./secret-check.js";
import { redisCall } from "./redis-transient.js";
import { renderPlanSummary } from "./plan-summary.js";
import { configRef, describeTarget, mergedTargetOfPullRequest, targetOfEvent } from "./plan-target.js";
import type { PlanTarget } from "./plan-target.js";
import { singleRegistryTenants } from "../tenancy/index.js";
import type { Tenants, TenantPolicy } from "../tenancy/index.js";

export interface PlannerDeps {
  /** The installation's Octokit (Probot's `context.octokit` or any `@octokit/core` instance). */
  octokit: GitHubClient;
  /** For the push/PR build claims, the retry memo and long external ids. */
  redis: Redis;
  /** Hands one build to the build queue (the queue assigns id, attempt and queue time). */
  enqueueBuild(job: BuildJobInput): Promise<{ buildId: string }>;
  /** Takes back a queued or running build whose check run could not be created (see carryOut). */
  withdrawBuild(buildId: string, why: string): Promise<void>;
  /** Ends every unfinished build under a supersede key, saying why (a destroyed merge group's builds). */
  cancelUnder?(key: string, why: string): Promise<unknown>;
  /**
   * The app config (`AppConfig` fits): `tenants` decides each account's registry, limits and whether it is served;
   * without it, every account is served from `registry` under `<prefix>/<owner>/` with `repoConfigLimits`.
   */
  config: { registry: { prefix: string; host?: string }; repoConfigLimits?: ConfigLimits; tenants?: Tenants };
  clock: { now(): Date };
  checkRuns: PlannerCheckRuns;
  /**
   * Where the repository's config is read and applied, within the account's limits: the app's ConfigWorkerPool
   * (worker threads, bounded in time and memory). Default: on this thread.
   */
  configWork?: ConfigWork;
  /**
   * Concludes the check runs of a slot that an earlier, interrupted attempt of this event job may have left with
   * no build (see orphaned-check-runs.ts); called once this attempt has handed its own run over. Without it, the
   * worker's reconciler does it on its next pass.
   */
  settleSlot?(slot: RunSlot, plannerId: string): Promise<void>;
  /** Redis key prefix; default `bkb`. */
  keyPrefix?: string;
  log?: QueueLog;
}

const silentLog: QueueLog = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * Turns one event job into builds: reads the config at the right commit, applies path filters, creates a check
 * run per image (queued, or neutral when skipped) and queues one build per image. An invalid config gets one
 * failed `buildkit-bot / config` check run and nothing is built. GitHub read failures (RepoReadError) are
 * transient: the queue retries them, and a retried job reuses what it already created (see PlanProgress).
 */
export async function runPlannerJob(job: EventJob, deps: PlannerDeps): Promise<void> {
  await plan(job, deps);
}

async function plan(event: EventJob, deps: PlannerDeps): Promise<void> {
  const log = deps.log ?? silentLog;
  const prefix = deps.keyPrefix ?? "bkb";
  // A `/build` comment is planned as its pull request's head commit (the fork gate below checks the approval).
  const job = event.event === "issue_comment" ? await pullRequestJobOfComment(event, deps.octokit, log) : event;
  if (!job) return;
  if (job.mergeGroupDestroyed !== undefined) return endMergeGroup(job, deps, log);
  const repo = job.repository;
  const where = { deliveryId: job.deliveryId, repo: `${repo.owner}/${repo.repo}`, sha: job.sha };
  const externalIds = new ExternalIdStore(deps.redis, prefix);

  let target: PlanTarget | undefined;
  let onlyImage: string | undefined;
  if (job.rerun) {
    const data = await decodeRerun(job.rerun.externalId, externalIds);
    if (!data) {
      log.warn({ ...where, externalId: job.rerun.externalId }, "rebuild of a check run whose external_id is not ours; ignored");
      return;
    }
    target = data.target;
    onlyImage = data.image || undefined;
  } else {
    target = targetOfEvent(job);
  }
  if (!target) {
    log.info(where, "nothing to plan for this ref");
    return;
  }

  const rebuild = job.rerun !== undefined || job.event === "check_suite";
  const source = await configSourceOf(job, target, deps.octokit, new ConfigSourceMemo(deps.redis, prefix));
  if (source.kind === "none") {
    log.info(where, "no .github/buildkit-bot.yml and no root Dockerfile: nothing to build");
    return;
  }
  // Asked after the config source, so a refused account's repositories with nothing to build get no check run either.
  const tenant = tenantPolicyOf(deps, repo.owner, repo.installationId);
  if (!tenant.served) {
    await deps.checkRuns.createRefusedCheckRun({
      repository: repo,
      headSha: job.sha,
      externalId: await externalIdFor({ target, image: "" }, externalIds),
      reason: tenant.reason,
    });
    log.info({ ...where, installationId: repo.installationId }, "account not served (tenants file): refusal reported");
    return;
  }
  if (target.kind === "pull_request" && target.fork) {
    const forkTarget = target;
    const gate = { octokit: deps.octokit, approvals: new ForkApprovals(deps.redis, prefix), checkRuns: deps.checkRuns, log, where };
    const externalId = () => externalIdFor({ target: forkTarget, image: "" }, externalIds);
    if (!(await forkBuildAllowed(job, forkTarget, tenant.forkPolicy, { ...gate, externalId }))) return;
  }
  const work = deps.configWork ?? inThreadConfigWork();
  const limits = tenant.repoConfigLimits;
  const configTarget = target;
  const reportInvalid = async (error: ConfigError): Promise<void> => {
    await deps.checkRuns.createConfigFailureCheckRun({
      repository: repo,
      headSha: job.sha,
      externalId: await externalIdFor({ target: configTarget, image: "" }, externalIds),
      path: REPO_CONFIG_PATH,
      issues: error.issues,
    });
    log.info({ ...where, issues: error.issues.length }, "invalid repository config reported");
  };
  const loaded = await work.interpret(source, repo.repo, limits);
  if (loaded.kind === "none") {
    log.info(where, "no .github/buildkit-bot.yml and no root Dockerfile: nothing to build");
    return;
  }
  if (loaded.kind === "invalid") {
    await reportInvalid(loaded.error);
    return;
  }
  const config = loaded.config;
  const outside = [...namespaceIssues(config, tenant.namespaces), ...secretGrantIssues(config, tenant.buildSecrets, repo.repo)].sort((a, b) => a.line - b.line);
  if (outside.length > 0) {
    await reportInvalid(new ConfigError(outside));
    return;
  }

  // A same-repository PR plans the branch's push plan plus the PR (see build-claims.ts).
  const prEvent = !job.rerun && job.event === "pull_request" && target.kind === "pull_request" && !target.fork;
  const prTarget = target;
  if (prEvent) target = mergedTargetOfPullRequest(job) ?? target;
  const claiming = !job.rerun && ((job.event === "push" && target.kind === "branch") || prEvent);
  // Tags that follow a branch (`main`, `latest`, `pr-N`) must not go back to an older commit: a rebuild may be of
  // an old commit, and an event may be planned after a newer one. Whether the branch still points at the commit is
  // asked by the worker once the solve has pushed the commit's own tags (see ImagePlan.ifBranchMoved): nearer to the
  // moving tags' copy, and no round trip of its own here or before the solve.
  const headCheckedBranch = target.kind === "branch" ? target.branch : undefined;

  const changedFiles = await changedFilesFor(job, config, deps.octokit);
  const noCache = job.rerun?.noCache ?? false;
  const planInput = {
    sha: job.sha,
    owner: repo.owner,
    repoName: repo.repo,
    defaultBranch: repo.defaultBranch,
    config,
    registryPrefix: tenant.registry.prefix,
    ...(changedFiles ? { changedFiles } : {}),
    ...(onlyImage ? { onlyImage } : {}),
    latestAllowed: job.event === "push" || rebuild,
    noCache,
  };
  let decisions: ImageDecision[];
  try {
    decisions = await work.plan({ ...planInput, target, ...(headCheckedBranch !== undefined ? { branchCheck: headCheckedBranch } : {}) }, limits);
  } catch (err) {
    // Applying the config to the event (path filters, tags) ran past the time or memory limit: the config's fault.
    if (!(err instanceof ConfigError)) throw err;
    await reportInvalid(err);
    return;
  }

  const claims = new BuildClaims(deps.redis, prefix);
  const progress = new PlanProgress(deps.redis, prefix);
  const handoff = new CheckRunHandoff(deps.redis, prefix);
  const ledger = new CheckRunLedger(deps.redis, prefix);
  for (const decision of decisions) {
    let chosen: { decision: ImageDecision; target: PlanTarget } | undefined = { decision, target };
    if (claiming && target.kind === "branch") {
      chosen = await applyClaim(decision, target, {
        claims,
        job,
        config,
        prTarget: prEvent ? prTarget : undefined,
        planPrOnly: async (image) => (await work.plan({ ...planInput, target: prTarget, onlyImage: image, changedFiles: undefined }, limits))[0],
      });
      if (!chosen) {
        log.info({ ...where, image: decision.name }, "already planned for this commit by the other event");
        continue;
      }
    }
    await carryOut(job, deps, chosen.decision, chosen.target, { config, noCache, progress, handoff, ledger, externalIds, log, where });
  }
}

/** The operator's decision for the job's account: the tenants file's, else the single registry's, owner-scoped. */
function tenantPolicyOf(deps: PlannerDeps, accountLogin: string, installationId: number): TenantPolicy {
  const { registry, repoConfigLimits, tenants } = deps.config;
  const directory =
    tenants ??
    singleRegistryTenants({
      registry: { prefix: registry.prefix, host: registry.host ?? registry.prefix.split("/")[0]! },
      repoConfigLimits: repoConfigLimits ?? DEFAULT_CONFIG_LIMITS,
    });
  return directory.policyFor({ accountLogin, installationId });
}

/**
 * The push/PR dedupe of build-claims.ts for one image of a branch target: what to carry out, or undefined when
 * the other event's planner already owns the image on this commit.
 */
async function applyClaim(
  decision: ImageDecision,
  target: Extract<PlanTarget, { kind: "branch" }>,
  ctx: {
    claims: BuildClaims;
    job: EventJob;
    config: RepoConfig;
    /** Set when planning a same-repository pull_request event. */
    prTarget: PlanTarget | undefined;
    planPrOnly: (image: string) => Promise<ImageDecision | undefined>;
  },
): Promise<{ decision: ImageDecision; target: PlanTarget } | undefined> {
  const { job, prTarget } = ctx;
  const at = { repoId: job.repository.repoId, sha: job.sha, image: decision.name, branch: target.branch };
  if (decision.kind === "skip") {
    // A skipped check run must not hide the queued one the other planner made.
    return (await ctx.claims.get(at)) ? undefined : { decision, target };
  }
  const prNumbers = prTarget && target.pullRequest && decision.plan.push ? [target.pullRequest.number] : [];
  const result = await ctx.claims.claim(at, { by: prTarget ? "pull_request" : "push", planId: job.deliveryId, prNumbers });
  if (result.won) return { decision, target };
  const pushesPullRequests = ctx.config.images.find((i) => i.name === decision.name)?.push.pullRequests ?? false;
  if (prTarget?.kind !== "pull_request" || !pushesPullRequests || result.existing.prNumbers.includes(prTarget.number)) {
    return undefined;
  }
  const prDecision = await ctx.planPrOnly(decision.name);
  return prDecision ? { decision: prDecision, target: prTarget } : undefined;
}

async function carryOut(
  job: EventJob,
  deps: PlannerDeps,
  decision: ImageDecision,
  target: PlanTarget,
  ctx: {
    config: RepoConfig;
    noCache: boolean;
    progress: PlanProgress;
    handoff: CheckRunHandoff;
    ledger: CheckRunLedger;
    externalIds: ExternalIdStore;
    log: QueueLog;
    where: Record<string, unknown>;
  },
): Promise<void> {
  const repo = job.repository;
  const externalId = await externalIdFor({ target, image: decision.name }, ctx.externalIds);
  if (decision.kind === "skip") {
    await deps.checkRuns.createSkippedCheckRun({
      repository: repo,
      headSha: job.sha,
      externalId,
      image: decision.name,
      reason: decision.reason,
    });
    ctx.log.info({ ...ctx.where, image: decision.name, reason: decision.reason }, "image skipped");
    return;
  }
  const planId = job.deliveryId;
  const memoKey = `${decision.name}:${target.kind}`;
  if (await ctx.progress.enqueued(planId, memoKey)) return;
  const fork = target.kind === "pull_request" && target.fork;
  const pr = target.kind === "pull_request" ? target.number : target.kind === "branch" ? target.pullRequest?.number : undefined;
  const build = (checkRunId: number | undefined): BuildJobInput => ({
    reason: job.reason,
    repository: repo,
    sha: job.sha,
    // A fork's commit is fetched through the base repository's PR ref; the worker verifies the sha.
    gitRef: fork && pr !== undefined ? `refs/pull/${pr}/head` : job.sha,
    image: decision.plan,
    ...(checkRunId !== undefined ? { checkRunId } : {}),
    supersedeKey: supersedeKeyOf(repo.repoId, target),
    noCache: ctx.noCache,
    fork,
    ...(job.pullRequest && job.pullRequest.number === pr ? { pullRequest: job.pullRequest } : {}),
    ...(refOf(target) ? { ref: refOf(target) } : {}),
    eventReceivedAt: job.receivedAt,
    queuedAt: deps.clock.now().toISOString(),
  });
  const createRun = (): Promise<number> =>
    deps.checkRuns.createQueuedCheckRun({
      repository: repo,
      headSha: job.sha,
      externalId,
      image: decision.name,
      summary: renderPlanSummary({
        plan: decision.plan,
        target,
        droppedTags: decision.droppedTags,
        ...(decision.matchedFiles ? { matchedFiles: decision.matchedFiles } : {}),
        noCache: ctx.noCache,
        configFromFile: ctx.config.fromFile,
      }),
    });

  // Noted before anything is created: should this attempt be cut short between the create and the hand-over,
  // the run it leaves behind is found again (see CheckRunLedger).
  const slot: RunSlot = { installationId: repo.installationId, owner: repo.owner, repo: repo.repo, repoId: repo.repoId, sha: job.sha, image: decision.name };
  const plannerId = eventJobId(job.deliveryId);
  // Independent: one round trip for both.
  const [{ again }, recorded] = await Promise.all([
    redisCall("noting the check run about to be created", () => ctx.ledger.open(slot, plannerId)),
    ctx.progress.checkRunId(planId, memoKey),
  ]);

  let checkRunId = recorded;
  if (checkRunId !== undefined) {
    // A retried job whose run was made but whose build was not queued.
    await deps.enqueueBuild(build(checkRunId));
  } else {
    // The run's create and the build's enqueue go out together, so an idle worker starts the build during the
    // create's round trip; the worker gets the run's id through the handoff when it first reports. A build must
    // not go on without its run: when the create fails, the build is taken back (a transient failure retries this job).
    const [created, queued] = await Promise.allSettled([createRun(), deps.enqueueBuild(build(undefined))]);
    if (created.status === "rejected") {
      if (queued.status === "fulfilled") await withdraw(queued.value.buildId, deps, ctx);
      throw created.reason;
    }
    const runId = created.value;
    checkRunId = runId;
    await ctx.progress.recordCheckRun(planId, memoKey, runId);
    if (queued.status === "rejected") throw queued.reason;
    const given = await redisCall("handing the check run to its build", () => ctx.handoff.give(queued.value.buildId, runId));
    if (given !== "given") {
      // The build stopped waiting before the run came (see CheckRunHandoff.settle): another build takes the run.
      ctx.log.warn({ ...ctx.where, image: decision.name, buildId: queued.value.buildId, checkRunId: runId }, "the build gave up waiting for its check run; queueing another");
      await deps.enqueueBuild(build(runId));
    }
  }
  await ctx.progress.recordEnqueued(planId, memoKey);
  ctx.log.info(
    { ...ctx.where, image: decision.name, checkRunId, push: decision.plan.push, target: describeTarget(target) },
    "build queued",
  );
  // Best effort from here: the build is queued with its run; what is left is bookkeeping the reconciler redoes.
  try {
    if (!again) await ctx.ledger.close(slot, plannerId);
    else await deps.settleSlot?.(slot, plannerId);
  } catch (err) {
    ctx.log.warn({ ...ctx.where, image: decision.name, err: err instanceof Error ? err.message : String(err) }, "check runs of an interrupted planning left to the reconciler");
  }
}

/** Stops everyone waiting for the build's check run, then takes the build back from the queue (or its worker). */
async function withdraw(buildId: string, deps: PlannerDeps, ctx: { handoff: CheckRunHandoff; log: QueueLog; where: Record<string, unknown> }): Promise<void> {
  try {
    await ctx.handoff.withdraw(buildId);
    await deps.withdrawBuild(buildId, "its check run could not be created");
  } catch (err) {
    // The build then runs without a check run: its worker waits for one, then reports through the commit status only.
    ctx.log.warn({ ...ctx.where, buildId, err: err instanceof Error ? err.message : String(err) }, "could not withdraw a build");
  }
}

/**
 * A merge group GitHub destroyed: dequeued or invalidated, its builds are ended ("cancelled: the merge group was
 * dequeued"). A merged group's build is left to finish: its commit is now the base branch's, and its result is a
 * check on that commit.
 */
async function endMergeGroup(job: EventJob, deps: PlannerDeps, log: QueueLog): Promise<void> {
  const why = job.mergeGroupDestroyed ?? "destroyed";
  const branch = job.ref?.startsWith("refs/heads/") ? job.ref.slice("refs/heads/".length) : undefined;
  if (why === "merged" || branch === undefined || !deps.cancelUnder) return;
  await deps.cancelUnder(supersedeKey(job.repository.repoId, { kind: "branch", name: branch }), `the merge group was ${why}`);
  log.info({ deliveryId: job.deliveryId, sha: job.sha, reason: why }, "builds of a destroyed merge group ended");
}

function supersedeKeyOf(repoId: number, target: PlanTarget): string {
  switch (target.kind) {
    case "branch":
      return supersedeKey(repoId, { kind: "branch", name: target.branch });
    case "tag":
      return supersedeKey(repoId, { kind: "tag" });
    case "pull_request":
      return supersedeKey(repoId, { kind: "pull", number: target.number });
  }
}

function refOf(target: PlanTarget): string | undefined {
  if (target.kind === "branch") return `refs/heads/${target.branch}`;
  if (target.kind === "tag") return `refs/tags/${target.tag}`;
  return undefined;
}

/**
 * What decides the config at the commit the event is planned from. A push whose complete file list leaves the
 * config file and the root Dockerfile alone takes what was found at its parent, when that is remembered: no GitHub
 * read before its build is queued. The handler leaves the list out when it may be incomplete or is no diff against
 * `before` (a new branch or tag, a force push, a commit list that may be truncated); then, as for pull requests and
 * rebuilds, the files are read. Every commit read at its own sha is remembered for the pushes after it; a fork's pull
 * request, read at its base branch, is not. The memo's writes are not waited for: a lost one only costs a read later.
 */
async function configSourceOf(job: EventJob, target: PlanTarget, octokit: GitHubClient, memo: ConfigSourceMemo): Promise<ConfigSource> {
  const repo = job.repository;
  const ref = configRef(target, job.sha);
  if (job.event === "push" && !job.rerun && job.before && job.changedFiles && keepsConfigSource(job.changedFiles)) {
    const parent = await memo.get(repo, job.before);
    if (parent) {
      void memo.put(repo, job.sha, parent);
      return parent;
    }
  }
  const source = await readConfigSource(octokit, { owner: repo.owner, repo: repo.repo, ref });
  if (ref === job.sha) void memo.put(repo, job.sha, source);
  return source;
}

/**
 * Files the event changed, when path filters need them and they can be known: the push payload's list, else the
 * compare API; a PR's file list. Rebuilds and check-suite re-runs build every image (someone asked for it).
 */
async function changedFilesFor(job: EventJob, config: RepoConfig, octokit: GitHubClient): Promise<string[] | undefined> {
  if (job.rerun || !config.images.some((i) => i.paths.length > 0)) return undefined;
  const at = { owner: job.repository.owner, repo: job.repository.repo };
  if (job.event === "push") {
    if (job.changedFiles) return job.changedFiles;
    return listPushChangedFiles(octokit, { ...at, before: job.before, after: job.sha });
  }
  if (job.event === "pull_request" && job.pullRequest) {
    return listPullRequestFiles(octokit, { ...at, pullNumber: job.pullRequest.number });
  }
  return undefined;
}

async function externalIdFor(data: ExternalIdData, store: ExternalIdStore): Promise<string> {
  const full = encodeExternalId(data);
  if (full.length <= EXTERNAL_ID_MAX_LENGTH) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 32);
  await store.put(hash, full);
  return hashedExternalId(hash);
}

async function decodeRerun(externalId: string, store: ExternalIdStore): Promise<ExternalIdData | undefined> {
  const hash = externalIdHash(externalId);
  if (hash === undefined) return decodeExternalId(externalId);
  const full = await store.get(hash);
  return full === undefined ? undefined : decodeExternalId(full);
}
