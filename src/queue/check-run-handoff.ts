import type { Redis } from "ioredis";

/** Longer than any build lives in the queue (failed jobs are kept 14 days, retries take minutes). */
const HANDOFF_TTL_SECONDS = 15 * 24 * 3600;
const WITHDRAWN = "withdrawn";

export type HandoffState = { kind: "created"; checkRunId: number } | { kind: "withdrawn" } | { kind: "pending" };

export interface WaitOptions {
  signal?: AbortSignal;
  /** Give up after this long (undefined is returned). Default 10 min. */
  timeoutMs?: number;
  /** Default 20 ms for the first 5 s, then 1 s: the id is usually there at the first look. */
  pollMs?: number;
}

/**
 * How a build learns the id of its check run when it was queued while the planner was still creating that run
 * (both are sent at once, so the create's round trip overlaps the build's start). The planner leaves, per build
 * id, either the run's id or "withdrawn" (the run could not be created, and the build was taken back); whoever
 * reports on the build (its worker, a supersede, the reconciler) reads or waits for it here.
 */
export class CheckRunHandoff {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(buildId: string): string {
    return `${this.prefix}:check-run-of:${buildId}`;
  }

  /** The build's check-run id: at once when its job holds it, else as `waitFor` resolves it. */
  of(build: { buildId: string; checkRunId?: number }, options: WaitOptions = {}): number | Promise<number | undefined> {
    return build.checkRunId ?? this.waitFor(build.buildId, options);
  }

  async give(buildId: string, checkRunId: number): Promise<void> {
    await this.redis.set(this.key(buildId), String(checkRunId), "EX", HANDOFF_TTL_SECONDS);
  }

  async withdraw(buildId: string): Promise<void> {
    await this.redis.set(this.key(buildId), WITHDRAWN, "EX", HANDOFF_TTL_SECONDS);
  }

  async read(buildId: string): Promise<HandoffState> {
    const raw = await this.redis.get(this.key(buildId));
    if (raw === null) return { kind: "pending" };
    if (raw === WITHDRAWN) return { kind: "withdrawn" };
    const checkRunId = Number(raw);
    return Number.isSafeInteger(checkRunId) && checkRunId > 0 ? { kind: "created", checkRunId } : { kind: "withdrawn" };
  }

  /**
   * The check run's id once the planner has left it; undefined when the run was withdrawn, the wait timed out or
   * `signal` fired. Redis errors are retried until the deadline: a restarting Redis must not lose the report.
   */
  async waitFor(buildId: string, options: WaitOptions = {}): Promise<number | undefined> {
    const start = Date.now();
    const deadline = start + (options.timeoutMs ?? 10 * 60_000);
    const pollMs = options.pollMs ?? 20;
    for (;;) {
      const state = await this.read(buildId).catch((): HandoffState => ({ kind: "pending" }));
      if (state.kind === "created") return state.checkRunId;
      if (state.kind === "withdrawn") return undefined;
      const left = deadline - Date.now();
      if (left <= 0 || options.signal?.aborted) return undefined;
      await sleep(Math.min(left, Date.now() - start < 5_000 ? pollMs : Math.max(pollMs, 1_000)), options.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
