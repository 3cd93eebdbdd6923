import type { ProgressEvent, Redactor } from "@buildkit-bot/buildkit";
import type { BuildCheckRun } from "../github/index.js";
import { supersededText } from "../queue/index.js";
import { isTransientError } from "../errors/index.js";
import type { QueueLog, SupersededBy } from "../queue/index.js";
import type { AttemptCause } from "./attempt-cause.js";
import type { BuildSucceeded, BuildTrail, CancelOptions, FailedWhere } from "./build-trail.js";
import { failureOf, scrubError } from "./failure-report.js";
import type { AttemptClock, InFlightBuilds } from "./in-flight-builds.js";
import type { LogWriter } from "./log-writer.js";
import type { ProgressBridge } from "./progress-bridge.js";

type EndOutcome = "success" | "failure" | "cancelled" | "neutral";

/**
 * What one trail is written to. A running attempt has all of it; a build that no worker runs here (superseded
 * while queued, abandoned by a dead worker) has no clock and no progress; a check run that no build holds has
 * only the check run.
 */
export interface GitHubTrailParts {
  /** For the app's own log: build, repository, commit, image. */
  where: Record<string, unknown>;
  redactor: Redactor;
  log: QueueLog;
  /** The build's check run and status; absent when nothing may be written to GitHub. */
  checkRun?: BuildCheckRun;
  writer?: LogWriter;
  /** The build's in-flight entry, when this trail is the one to end it. */
  inFlight?: { registry: InFlightBuilds; buildId: string };
  /** The attempt that runs here. */
  attempt?: { clock: AttemptClock; bridge: ProgressBridge };
  detailsUrl?: string;
  lost?: AbortSignal;
  /** Called once the trail has ended, whichever way. */
  onEnd?: () => void;
}

const never = new AbortController().signal;

/** The build trail over the log store, the check run and its status on GitHub, and the in-flight registry. */
export class GitHubTrail implements BuildTrail {
  readonly #p: GitHubTrailParts;
  #starting: Promise<void> | undefined;
  #ended = false;

  constructor(parts: GitHubTrailParts) {
    this.#p = parts;
  }

  get detailsUrl(): string | undefined {
    return this.#p.detailsUrl;
  }

  get startedAt(): number {
    return this.#p.attempt?.clock.startedAt ?? Date.now();
  }

  get lost(): AbortSignal {
    return this.#p.lost ?? never;
  }

  /** Whether an outcome, a retry or a stop has ended this trail. */
  get ended(): boolean {
    return this.#ended;
  }

  line(text: string): void {
    if (!this.#ended) this.#p.writer?.line(text);
  }

  started(): Promise<void> {
    const checkRun = this.#p.checkRun;
    this.#starting = this.#ended || !checkRun ? Promise.resolve() : checkRun.started();
    return this.#starting;
  }

  progress(event: ProgressEvent): void {
    if (!this.#ended) this.#p.attempt?.bridge.onEvent(event);
  }

  async succeeded(result: BuildSucceeded, summary: string): Promise<void> {
    if (!this.#end()) return;
    const attempt = this.#p.attempt;
    await this.#finishLog("success", summary);
    const findings = attempt?.bridge.findings() ?? [];
    await this.#p.checkRun?.succeeded({
      ...result,
      ...(findings.length > 0 ? { findings } : {}),
      durationMs: Date.now() - this.startedAt,
      ...(attempt ? { attempts: { count: attempt.clock.attempt, earlier: attempt.clock.earlier } } : {}),
    });
    await this.#endInFlight();
    this.#p.log.info({ ...this.#p.where, durationMs: Date.now() - this.startedAt, digest: result.digest, pushed: result.pushed }, "build succeeded");
  }

  async failed(err: unknown, where: FailedWhere = {}): Promise<void> {
    if (!this.#end()) return;
    const attempt = this.#p.attempt;
    const failure = failureOf(err, {
      redactor: this.#p.redactor,
      ...(attempt
        ? {
            durationMs: Date.now() - attempt.clock.startedAt,
            attempts: { count: attempt.clock.attempt, earlier: attempt.clock.earlier },
            progress: attempt.bridge.progress,
            recentLog: attempt.bridge.recentLines(),
          }
        : {}),
      ...(where.dockerfile ? { dockerfile: where.dockerfile } : {}),
    });
    const findings = attempt?.bridge.findings() ?? [];
    if (findings.length > 0) failure.findings = findings;
    if (where.cacheReport) failure.cacheReport = where.cacheReport;
    this.#p.writer?.line(`build failed: ${failure.message}`);
    await this.#finishLog("failure", failure.message);
    let retryToReport: unknown;
    const refusal = where.refusal;
    const checkRun = refusal ? (refusal.request ? this.#p.checkRun?.through(refusal.request, refusal.at) : undefined) : this.#p.checkRun;
    try {
      await checkRun?.failed(refusal?.at ? { message: refusal.at.message, log: [] } : failure);
    } catch (reportErr) {
      scrubError(reportErr, this.#p.redactor);
      this.#p.log.error({ ...this.#p.where, err: this.#text(reportErr) }, "could not report the failed build");
      // The report is what matters now: a transient GitHub failure retries the job (and with it the report).
      if (isTransientError(reportErr)) retryToReport = reportErr;
    }
    await this.#endInFlight();
    this.#p.log.warn({ ...this.#p.where, err: failure.message }, "build failed");
    if (retryToReport !== undefined) throw retryToReport;
  }

  async retrying(note: string, cause: AttemptCause): Promise<void> {
    if (!this.#end()) return;
    const { writer, inFlight, checkRun, log, where } = this.#p;
    await this.#starting?.catch(() => undefined);
    writer?.line(`attempt failed, it will be retried: ${note}`);
    await inFlight?.registry.attemptEnded(inFlight.buildId, cause).catch((e: unknown) => log.warn({ ...where, err: this.#text(e) }, "could not record the attempt"));
    this.#p.attempt?.bridge.close();
    await writer?.flush().catch(() => undefined);
    await checkRun?.retrying(this.#p.redactor.redact(note)).catch((e: unknown) => log.warn({ ...where, err: this.#text(e) }, "could not report the retry"));
    log.warn({ ...where, err: note }, "build attempt failed; the queue will retry it");
  }

  async cancelled(reason: string, options: CancelOptions = {}): Promise<void> {
    if (!this.#end()) return;
    const message = options.logMessage ?? `Cancelled: ${reason}.`;
    this.#p.writer?.line(message);
    await this.#finishLog("cancelled", message);
    await this.#p.checkRun?.cancelled(reason, { status: !options.statusReportedElsewhere });
    await this.#endInFlight();
    this.#p.log.info({ ...this.#p.where, outcome: "cancelled" }, message);
  }

  async superseded(by: SupersededBy): Promise<void> {
    if (!this.#end()) return;
    const message = supersededText(by);
    await this.#finishLog("cancelled", message);
    await this.#p.checkRun?.cancelled(message);
    await this.#endInFlight();
  }

  async neutral(reason: string): Promise<void> {
    if (!this.#end()) return;
    this.#p.writer?.line(reason);
    await this.#finishLog("neutral", reason);
    await this.#p.checkRun?.neutral(reason);
    await this.#endInFlight();
    this.#p.log.info({ ...this.#p.where, outcome: "neutral" }, reason);
  }

  async stopped(note: string): Promise<void> {
    if (!this.#end()) return;
    await this.#starting?.catch(() => undefined);
    this.#p.attempt?.bridge.close();
    this.#p.writer?.line(note);
    await this.#p.writer?.flush().catch(() => undefined);
  }

  /** Marks the trail ended; false when it already was. An outcome waits for the "in progress" report before it. */
  #end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#p.onEnd?.();
    return true;
  }

  async #finishLog(outcome: EndOutcome, message: string): Promise<void> {
    await this.#starting?.catch(() => undefined);
    this.#p.attempt?.bridge.close();
    await this.#p.writer?.finish(outcome, message).catch((err: unknown) => this.#p.log.warn({ ...this.#p.where, err: this.#text(err) }, "could not finish the build log"));
  }

  async #endInFlight(): Promise<void> {
    // Left behind, the entry is the reconciler's: a completed job's entry is dropped without a GitHub write.
    const inFlight = this.#p.inFlight;
    await inFlight?.registry.end(inFlight.buildId).catch((err: unknown) => this.#p.log.warn({ ...this.#p.where, err: this.#text(err) }, "could not end the in-flight entry"));
  }

  #text(err: unknown): string {
    return this.#p.redactor.redact(err instanceof Error ? err.message : String(err));
  }
}
