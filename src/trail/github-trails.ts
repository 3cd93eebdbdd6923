import type { Probot } from "probot";
import { Redactor } from "@buildkit-bot/buildkit";
import { BuildCheckRun } from "../github/index.js";
import type { OctokitRequest, WriteBudget } from "../github/index.js";
import { dockerfileInContext } from "../config/index.js";
import { silentLog } from "../queue/index.js";
import { TransientError } from "../errors/index.js";
import type { BuildJob, CheckRunHandoff, QueueLog, SupersededBy, SupersedeListener } from "../queue/index.js";
import type { BuildTrail, BuildTrails } from "./build-trail.js";
import { GitHubTrail } from "./github-trail.js";
import type { InFlightBuild, InFlightBuilds } from "./in-flight-builds.js";
import type { LogStore } from "./log-store.js";
import { logPageUrl } from "./log-token.js";
import { LogWriter } from "./log-writer.js";
import { ProgressBridge } from "./progress-bridge.js";

export interface GitHubTrailsDeps {
  /** `auth(id)` → the installation's Octokit, which writes the check runs and statuses. */
  github: Pick<Probot, "auth">;
  budget: WriteBudget;
  logs: LogStore;
  inFlight: InFlightBuilds;
  /** Where the planner leaves the check run's id of a build queued while the run was being created. */
  handoff: CheckRunHandoff;
  /** BUILDKIT_BOT_PUBLIC_URL; without it check runs and statuses carry no link to the log page. */
  publicBaseUrl?: string;
  /**
   * Whether the planning that queued a build without its run's id may still hand it one (see
   * CheckRunLedger.mayStillHand). When it says no, the trail is lost. Without it only the wait's deadline ends the
   * wait, and the build then reports through its commit status only.
   */
  stillComing?(job: BuildJob): Promise<boolean>;
  /** Least time between two progress updates of a check run. Default 30 s. */
  progressIntervalMs?: number;
  log?: QueueLog;
}

/** How long a superseded build's report waits for a check run still being created. */
const SUPERSEDED_RUN_WAIT_MS = 60_000;
/** How long a build's check run may stay "being created" before the reconciler stops waiting for it. */
const HANDOFF_PATIENCE_MS = 60 * 60_000;

/**
 * Opens build trails over the log store, GitHub and the in-flight registry: for an attempt that starts here, for
 * a build superseded wherever it is, and for a build abandoned by a dead worker. Keeps the attempts' trails that
 * are still open, so that a worker that stops can end them.
 */
export class GitHubTrails implements BuildTrails, SupersedeListener {
  readonly #deps: GitHubTrailsDeps;
  readonly #log: QueueLog;
  readonly #open = new Set<GitHubTrail>();

  constructor(deps: GitHubTrailsDeps) {
    this.#deps = deps;
    this.#log = deps.log ?? silentLog;
  }

  async begin(job: BuildJob, options: { signal: AbortSignal; redactor: Redactor }): Promise<GitHubTrail> {
    const deps = this.#deps;
    const where = whereOf(job);
    const opening = this.#openLog(job.buildId);
    // Registered before anything can fail on GitHub's side: if no attempt ever gets through, the reconciler
    // concludes the check run once the job has failed for good. It reads its earlier entry while the log opens.
    const clock = await deps.inFlight.begin(job, opening);
    const detailsUrl = await opening;
    const request = await this.#request(job.repository.installationId);
    const lost = new AbortController();
    const checkRun = this.#checkRun(request, targetOf(job), this.#checkRunIdFor(job, options.signal, lost), detailsUrl);
    const writer = new LogWriter(deps.logs, job.buildId, { redactor: options.redactor });
    const bridge = new ProgressBridge(
      writer,
      (progress) => checkRun.progress(progress),
      (err) => this.#log.warn({ ...where, err: options.redactor.redact(err instanceof Error ? err.message : String(err)) }, "progress update failed"),
      { inContext: dockerfileInContext(job.image.context, job.image.dockerfile), path: job.image.dockerfile },
    );
    const trail: GitHubTrail = new GitHubTrail({
      where,
      redactor: options.redactor,
      log: this.#log,
      checkRun,
      writer,
      inFlight: { registry: deps.inFlight, buildId: job.buildId },
      attempt: { clock, bridge },
      ...(detailsUrl ? { detailsUrl } : {}),
      lost: lost.signal,
      onEnd: () => this.#open.delete(trail),
    });
    this.#open.add(trail);
    return trail;
  }

  /** Ends a superseded build's trail, whether it was still queued or ran on any worker. */
  async superseded(build: BuildJob, by: SupersededBy): Promise<void> {
    const detailsUrl = await this.#openLog(build.buildId);
    const request = await this.#request(build.repository.installationId);
    // Bounded: this runs inside the superseding planner's enqueue, and a check run create takes a round trip.
    const checkRunId = this.#deps.handoff.of(build, { timeoutMs: SUPERSEDED_RUN_WAIT_MS });
    await this.#recordOf(build.buildId, whereOf(build), this.#checkRun(request, targetOf(build), checkRunId, detailsUrl), true).superseded(by);
  }

  /**
   * Ends the trail of a build nobody will finish (see reconcileAbandonedBuilds) as failed: its check run, unless
   * it is completed already, and its log. A build whose run the planner withdrew (it could not be created; the
   * event is planned again) gets no GitHub write at all: its commit status belongs to the build that replaces it.
   * The in-flight entry is the reconciler's to end: a transient failure keeps it for the next pass.
   */
  async abandoned(entry: InFlightBuild, message: string): Promise<void> {
    const request = await this.#request(entry.installationId);
    const checkRunId = entry.checkRunId ?? (await this.#handedOver(entry));
    const checkRun = checkRunId !== undefined && (await isOpen(request, entry, checkRunId)) ? this.#checkRun(request, entry, checkRunId, entry.detailsUrl) : undefined;
    const where = { buildId: entry.buildId, repo: `${entry.owner}/${entry.repo}`, sha: entry.sha, image: entry.image };
    await this.#recordOf(entry.buildId, where, checkRun, false).failed(new Error(message));
  }

  /**
   * Ends the trails of the attempts still running here (the worker has stopped waiting for them, and the app
   * stops): their check runs go back to queued, and the queue resumes the builds on a worker that runs.
   */
  async interruptRunning(): Promise<number> {
    const running = [...this.#open];
    await Promise.all(running.map((trail) => trail.retrying("the app stopped while this attempt ran; the build resumes from the queue", "the worker was stopped")));
    return running.length;
  }

  async #openLog(buildId: string): Promise<string | undefined> {
    const token = await this.#deps.logs.open(buildId);
    return this.#deps.publicBaseUrl ? logPageUrl(this.#deps.publicBaseUrl, token) : undefined;
  }

  async #request(installationId: number): Promise<OctokitRequest> {
    return (await this.#deps.github.auth(installationId)).request;
  }

  #checkRun(request: OctokitRequest, target: CheckRunPlace, checkRunId: number | Promise<number | undefined>, detailsUrl: string | undefined): BuildCheckRun {
    return checkRunOn({ request, budget: this.#deps.budget }, target, checkRunId, { detailsUrl, progressIntervalMs: this.#deps.progressIntervalMs });
  }

  /** A trail of a build that runs nowhere here: its log and its check run, no clock, no progress. */
  #recordOf(buildId: string, where: Record<string, unknown>, checkRun: BuildCheckRun | undefined, endsInFlight: boolean): GitHubTrail {
    return new GitHubTrail({
      where,
      redactor: new Redactor(),
      log: this.#log,
      ...(checkRun ? { checkRun } : {}),
      writer: new LogWriter(this.#deps.logs, buildId),
      ...(endsInFlight ? { inFlight: { registry: this.#deps.inFlight, buildId } } : {}),
    });
  }

  /**
   * The build's check run id, or its promise while the planner is still creating the run. The solve does not wait
   * for it, only the run's writes do. When the run will never come, `lost` aborts with why.
   */
  #checkRunIdFor(job: BuildJob, signal: AbortSignal, lost: AbortController): number | Promise<number | undefined> {
    if (job.checkRunId !== undefined) return job.checkRunId;
    const stillComing = this.#deps.stillComing;
    const settled = this.#deps.handoff.settle(job.buildId, { signal, ...(stillComing ? { stillComing: () => stillComing(job) } : {}) });
    void settled.then((o) => {
      if (o.kind === "lost") lost.abort(o.why);
      else if (o.kind !== "created" && !signal.aborted) this.#log.warn(whereOf(job), "the planner's check run for this build did not come: only the commit status reports it");
    });
    return settled.then((o) => (o.kind === "created" ? o.checkRunId : undefined));
  }

  async #handedOver(entry: InFlightBuild): Promise<number | undefined> {
    const state = await this.#deps.handoff.read(entry.buildId);
    if (state.kind === "created") return state.checkRunId;
    if (state.kind === "withdrawn") return undefined;
    if (Date.now() - Date.parse(entry.startedAt) > HANDOFF_PATIENCE_MS) return undefined;
    throw new TransientError("its check run is still being created by the planner");
  }
}

/** Where a check run stands: repository, commit and image. */
type CheckRunPlace = { owner: string; repo: string; sha: string; image: string };

/**
 * The trail of a check run that no build holds (see settleSlot): only the run is written, and the commit status
 * unless another run reports it (`statusReportedElsewhere` on `cancelled`).
 */
export function checkRunTrail(github: { request: OctokitRequest; budget: WriteBudget; log?: QueueLog }, place: CheckRunPlace, checkRunId: number): BuildTrail {
  return new GitHubTrail({
    where: { repo: `${place.owner}/${place.repo}`, sha: place.sha, image: place.image, checkRunId },
    redactor: new Redactor(),
    log: github.log ?? silentLog,
    checkRun: checkRunOn(github, place, checkRunId, {}),
  });
}

function checkRunOn(
  github: { request: OctokitRequest; budget: WriteBudget },
  place: CheckRunPlace,
  checkRunId: number | Promise<number | undefined>,
  options: { detailsUrl?: string | undefined; progressIntervalMs?: number | undefined },
): BuildCheckRun {
  return new BuildCheckRun({
    request: github.request,
    budget: github.budget,
    target: {
      owner: place.owner,
      repo: place.repo,
      sha: place.sha,
      image: place.image,
      ...(typeof checkRunId === "number" ? { checkRunId } : { checkRunIdLater: checkRunId }),
      ...(options.detailsUrl ? { detailsUrl: options.detailsUrl } : {}),
    },
    ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
  });
}

function targetOf(job: BuildJob): CheckRunPlace {
  return { owner: job.repository.owner, repo: job.repository.repo, sha: job.sha, image: job.image.name };
}

function whereOf(job: BuildJob): Record<string, unknown> {
  return { buildId: job.buildId, repo: `${job.repository.owner}/${job.repository.repo}`, sha: job.sha, image: job.image.name };
}

async function isOpen(request: OctokitRequest, place: CheckRunPlace, checkRunId: number): Promise<boolean> {
  const { data } = await request("GET /repos/{owner}/{repo}/check-runs/{check_run_id}", { owner: place.owner, repo: place.repo, check_run_id: checkRunId });
  return data.status !== "completed";
}
