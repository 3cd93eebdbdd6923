import type { Redis } from "ioredis";
import { isTransientError } from "../errors/index.js";
import type { BuildJob } from "../queue/index.js";

/** What is needed to conclude a build's check run without its job: no secret, nothing the job does not hold. */
export interface InFlightBuild {
  buildId: string;
  installationId: number;
  owner: string;
  repo: string;
  sha: string;
  image: string;
  /** Absent when the build started before the planner had handed over its check run (see CheckRunHandoff). */
  checkRunId?: number;
  detailsUrl?: string;
  /** When the build's first attempt started: durations count every attempt, not only the last. */
  startedAt: string;
  /** Attempts started so far, this one included (entries written before attempts were counted: absent, i.e. 1). */
  attempts?: number;
  /** Why each earlier attempt ended, in order (see AttemptCause). */
  earlier?: string[];
}

/** What the attempt that just began knows of the build's attempts. */
export interface AttemptClock {
  /** ms since the epoch: the first attempt's start. */
  startedAt: number;
  /** This attempt's number, from 1. */
  attempt: number;
  /** Why each earlier attempt ended. */
  earlier: string[];
}

/**
 * Builds whose check run this app has taken over and not concluded yet, in one Redis hash (buildId → entry).
 *
 * Why: a worker killed mid-build (SIGKILL, OOM, node lost) leaves its job active with an expiring lock. BullMQ's
 * stall checker then puts it back in the queue — the next attempt resumes with the same check run — or, past
 * `maxStalledCount`, fails it ("job stalled more than allowable limit") without running any of our code. The
 * reconciler (`reconcileAbandonedBuilds`) looks for entries whose job has ended that way (failed, or gone) and
 * concludes their check runs, so none stays `in_progress` forever. The processor adds the entry when it starts
 * and removes it once it has reported an outcome; it also covers the other ways a job can end unreported: every
 * attempt failing before GitHub could be reached, or a cancel that was not a supersede.
 */
export class InFlightBuilds {
  readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = `${prefix}:worker:in-flight`;
  }

  /**
   * Registers the attempt that starts now. A later attempt of the same build keeps the first one's start and its
   * history; an earlier attempt that never said why it ended (its worker died) is counted as "the worker was lost".
   * `detailsUrl` may still be on its way (the log being opened): the earlier entry is read meanwhile.
   */
  async begin(job: BuildJob, detailsUrl: string | undefined | Promise<string | undefined>): Promise<AttemptClock> {
    const [before, url] = await Promise.all([this.get(job.buildId), detailsUrl]);
    const attempt = (before?.attempts ?? (before ? 1 : 0)) + 1;
    const earlier = [...(before?.earlier ?? [])];
    while (earlier.length < attempt - 1) earlier.push("the worker was lost");
    const entry: InFlightBuild = {
      buildId: job.buildId,
      installationId: job.repository.installationId,
      owner: job.repository.owner,
      repo: job.repository.repo,
      sha: job.sha,
      image: job.image.name,
      ...(job.checkRunId !== undefined ? { checkRunId: job.checkRunId } : {}),
      ...(url ? { detailsUrl: url } : {}),
      startedAt: before?.startedAt ?? new Date().toISOString(),
      attempts: attempt,
      earlier,
    };
    await this.redis.hset(this.key, job.buildId, JSON.stringify(entry));
    return { startedAt: Date.parse(entry.startedAt), attempt, earlier };
  }

  /** Records why the current attempt ended early (it will be retried). */
  async attemptEnded(buildId: string, cause: string): Promise<void> {
    const entry = await this.get(buildId);
    if (!entry) return;
    const attempts = entry.attempts ?? 1;
    const earlier = [...(entry.earlier ?? [])];
    while (earlier.length < attempts - 1) earlier.push("the worker was lost");
    earlier.push(cause);
    await this.redis.hset(this.key, buildId, JSON.stringify({ ...entry, earlier }));
  }

  async get(buildId: string): Promise<InFlightBuild | undefined> {
    const raw = await this.redis.hget(this.key, buildId);
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as InFlightBuild;
    } catch {
      return undefined;
    }
  }

  async end(buildId: string): Promise<void> {
    await this.redis.hdel(this.key, buildId);
  }

  async list(): Promise<InFlightBuild[]> {
    const all = await this.redis.hgetall(this.key);
    const out: InFlightBuild[] = [];
    for (const value of Object.values(all)) {
      try {
        out.push(JSON.parse(value) as InFlightBuild);
      } catch {
        // Not ours to interpret; left alone.
      }
    }
    return out;
  }
}

/** The queue's view of a job: its state and, when failed, why. Undefined when the job no longer exists. */
export type JobStateLookup = (buildId: string) => Promise<{ state: string; failedReason?: string } | undefined>;

export interface ReconcileOptions {
  inFlight: InFlightBuilds;
  jobState: JobStateLookup;
  /** Concludes the check run of an abandoned build as failed with `message`. */
  conclude(entry: InFlightBuild, message: string): Promise<void>;
  /** Called when one entry could not be concluded; transient failures keep it for the next pass, others drop it. */
  onError?(entry: InFlightBuild, err: unknown): void;
}

const STILL_GOING = new Set(["active", "waiting", "delayed", "prioritized", "waiting-children", "paused"]);

/** One pass: concludes every in-flight build whose job ended without our processor reporting it. Returns those build ids. */
export async function reconcileAbandonedBuilds(opts: ReconcileOptions): Promise<string[]> {
  const concluded: string[] = [];
  for (const entry of await opts.inFlight.list()) {
    const job = await opts.jobState(entry.buildId);
    if (job && STILL_GOING.has(job.state)) continue;
    if (job?.state === "completed") {
      // The processor reported its outcome before returning; only its bookkeeping was cut short.
      await opts.inFlight.end(entry.buildId);
      continue;
    }
    const why = job?.failedReason ? ` (${job.failedReason})` : job ? "" : " (its job is gone)";
    try {
      await opts.conclude(entry, `The build ended without reporting a result${why}: its worker stopped, or could not reach GitHub. Use "Rebuild" to try again.`);
    } catch (err) {
      opts.onError?.(entry, err);
      if (isTransientError(err)) continue;
    }
    await opts.inFlight.end(entry.buildId);
    concluded.push(entry.buildId);
  }
  return concluded;
}
