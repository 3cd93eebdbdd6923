import type { ProgressEvent, Redactor } from "@buildkit-bot/buildkit";
import type { BuildSuccess, CacheReport, OctokitRequest } from "../github/index.js";
import type { BuildJob, SupersededBy } from "../queue/index.js";
import type { AttemptCause } from "./attempt-cause.js";

/** What a succeeded build tells its trail; how long it took and how many attempts, the trail counts itself. */
export type BuildSucceeded = Omit<BuildSuccess, "durationMs" | "attempts">;

export interface CancelOptions {
  /** What the log says (default `Cancelled: <reason>.`); the check run and the status say `reason`. */
  logMessage?: string;
  /** Another build of the same commit and image reports the commit status: it is left alone. */
  statusReportedElsewhere?: boolean;
}

/**
 * Everything the outside world sees of one build: its log page, its check run, the commit status that mirrors the
 * run, and its in-flight entry (by which the reconciler finishes what no worker will). Written in one place, so
 * every way a build ends ends it the same way: the log first (its page never says "running" under a finished
 * check), then the check run and the status, then the in-flight entry.
 *
 * An outcome (succeeded, failed, cancelled, superseded, neutral) ends the trail, and so does `retrying` (for this
 * attempt) and `stopped`: whatever is called after that writes nothing.
 */
export interface BuildTrail {
  /** The build's log page, when the app has a public address: the check run's `details_url`. */
  readonly detailsUrl: string | undefined;
  /** ms since the epoch: when the build's first attempt started (durations count every attempt). */
  readonly startedAt: number;
  /**
   * Aborts when the build's check run will never come: the planning that queued the build ended without handing
   * it over. The build must then stop, and end with `cancelled`.
   */
  readonly lost: AbortSignal;

  /** One line in the log page's general section. */
  line(text: string): void;
  /**
   * The solve begins: the check run goes `in_progress`, the status `pending`. The solve need not wait for it; every
   * outcome does, so GitHub always sees the two in order.
   */
  started(): Promise<void>;
  /** One progress event of the solve: log-page records, and check-run progress at most once an interval. */
  progress(event: ProgressEvent): void;
  succeeded(result: BuildSucceeded, summary: string): Promise<void>;
  /**
   * The build failed for good: the failing step, its exit code, the end of its log, the Dockerfile line. Rejects
   * only when GitHub could not be told for a transient reason (a retry of the job then tells it).
   */
  failed(err: unknown, where?: FailedWhere): Promise<void>;
  /** This attempt failed in a way a later one may fix: the run goes back to `queued` saying why, and the cause is counted. */
  retrying(note: string, cause: AttemptCause): Promise<void>;
  cancelled(reason: string, options?: CancelOptions): Promise<void>;
  /** A newer commit replaced this build: check run `cancelled`, status `error`, both "superseded by <sha7>". */
  superseded(by: SupersededBy): Promise<void>;
  /** Nothing to judge (e.g. a private repository's fork): the run is `neutral`, the status a success. */
  neutral(reason: string): Promise<void>;
  /**
   * The attempt stops without an outcome of its own (its job was cancelled): `note` goes to the log, which is
   * written out. Whoever stopped the build ends its record (the queue's supersede, or the reconciler).
   */
  stopped(note: string): Promise<void>;
}

/** Where a build failed: its Dockerfile (for the annotation on the failing line), and its steps so far. */
export interface FailedWhere {
  dockerfile?: { inContext: string; path: string };
  /** Which steps came from the cache and which ran before the failure. */
  cacheReport?: CacheReport;
  /**
   * The worker refused the job (see refusal-report.ts): the check run and the status are written only through
   * `request`, confined to the job's own repository; with no `request`, nothing is written to GitHub. With `at`,
   * they are written in that repository (as GitHub names it) in `at.message`'s words alone.
   */
  refusal?: { request: OctokitRequest | undefined; at?: { owner: string; repo: string; message: string } };
}

/** Opens the trail of a build attempt that starts on this worker. */
export interface BuildTrails {
  /**
   * Opens the build's log (or the one an earlier attempt opened), counts the attempt in the in-flight registry and
   * ties the check run the planner made, or is still making. `redactor` holds the build's secrets: whatever the
   * trail writes goes through it, including secrets added to it later.
   */
  begin(job: BuildJob, options: { signal: AbortSignal; redactor: Redactor }): Promise<BuildTrail>;
}
