import type { Redis } from "ioredis";

/** Longer than any build lives in the queue (failed jobs are kept 14 days, retries take minutes). */
const HANDOFF_TTL_SECONDS = 15 * 24 * 3600;
const WITHDRAWN = "withdrawn";
const ABANDONED = "abandoned";
/** The default deadline of a wait: a bound behind `stillComing`, which normally ends a hopeless wait in seconds. */
const DEFAULT_WAIT_MS = 10 * 60_000;
/** How often a wait asks `stillComing`, once it has waited this long. */
const STILL_COMING_EVERY_MS = 1_000;

export type HandoffState =
  | { kind: "created"; checkRunId: number }
  | { kind: "withdrawn" }
  | { kind: "abandoned" }
  | { kind: "pending" };

/**
 * How a wait ended: the run's id; withdrawn by the planner (its create failed); `lost`: the build's own wait gave
 * it up (nobody will hand it a run, or the deadline passed) and won the race against a late `give`, or the build
 * was given up before; `timeout`: another waiter's deadline passed; `aborted`: the signal fired.
 */
export type HandoffOutcome =
  | { kind: "created"; checkRunId: number }
  | { kind: "withdrawn" }
  | { kind: "lost"; why: string }
  | { kind: "timeout" }
  | { kind: "aborted" };

export interface WaitOptions {
  signal?: AbortSignal;
  /** Give up after this long. Default 10 min. */
  timeoutMs?: number;
  /** Default 20 ms for the first 5 s, then 1 s: the id is usually there at the first look. */
  pollMs?: number;
  /**
   * Set only by the build's own wait: whether the planning attempt that queued the build may still hand it a run
   * (see CheckRunLedger.mayStillHand). Asked once a second after the first second. When it says no, or at the
   * deadline, the wait gives the build up (`abandon`). A throw counts as "maybe" (Redis restarting).
   * Other waiters (a supersede report) only stop waiting at their deadline.
   */
  stillComing?: () => Promise<boolean>;
}

export type GiveResult = "given" | "abandoned" | "withdrawn";

/**
 * How a build learns the id of its check run when it was queued while the planner was still creating that run
 * (both are sent at once, so the create's round trip overlaps the build's start). The planner leaves, per build
 * id, either the run's id or "withdrawn" (the run could not be created, and the build was taken back); whoever
 * reports on the build (its worker, a supersede, the reconciler) reads or waits for it here.
 *
 * The planner's `give` and a waiter's giving up (`abandon`) are both set-if-absent: exactly one of them wins, so
 * a run handed late never goes to a build that has already been given up (the planner then queues another build
 * for the run).
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

  /** Hands `checkRunId` to the build, unless the build was given up first ("abandoned") or withdrawn. */
  async give(buildId: string, checkRunId: number): Promise<GiveResult> {
    const set = await this.redis.set(this.key(buildId), String(checkRunId), "EX", HANDOFF_TTL_SECONDS, "NX");
    if (set === "OK") return "given";
    // A resent command (ioredis resends what a dropped connection left unanswered) finds its own value.
    const state = await this.read(buildId);
    if (state.kind === "created" && state.checkRunId === checkRunId) return "given";
    return state.kind === "abandoned" ? "abandoned" : "withdrawn";
  }

  async withdraw(buildId: string): Promise<void> {
    await this.redis.set(this.key(buildId), WITHDRAWN, "EX", HANDOFF_TTL_SECONDS);
  }

  /** Gives the build up unless a run was handed (or withdrawn) first; returns what the key holds afterwards. */
  async abandon(buildId: string): Promise<HandoffState> {
    const set = await this.redis.set(this.key(buildId), ABANDONED, "EX", HANDOFF_TTL_SECONDS, "NX");
    return set === "OK" ? { kind: "abandoned" } : this.read(buildId);
  }

  async read(buildId: string): Promise<HandoffState> {
    const raw = await this.redis.get(this.key(buildId));
    if (raw === null) return { kind: "pending" };
    if (raw === WITHDRAWN) return { kind: "withdrawn" };
    if (raw === ABANDONED) return { kind: "abandoned" };
    const checkRunId = Number(raw);
    return Number.isSafeInteger(checkRunId) && checkRunId > 0 ? { kind: "created", checkRunId } : { kind: "withdrawn" };
  }

  /**
   * The check run's id once the planner has left it; undefined when the run was withdrawn, the build was given
   * up or `signal` fired. Redis errors are retried until the deadline: a restarting Redis must not lose the report.
   */
  async waitFor(buildId: string, options: WaitOptions = {}): Promise<number | undefined> {
    const outcome = await this.settle(buildId, options);
    return outcome.kind === "created" ? outcome.checkRunId : undefined;
  }

  /** Waits like `waitFor`, saying how the wait ended. */
  async settle(buildId: string, options: WaitOptions = {}): Promise<HandoffOutcome> {
    const start = Date.now();
    const deadline = start + (options.timeoutMs ?? DEFAULT_WAIT_MS);
    const pollMs = options.pollMs ?? 20;
    let nextAsk = start + STILL_COMING_EVERY_MS;
    for (;;) {
      const state = await this.read(buildId).catch((): HandoffState => ({ kind: "pending" }));
      if (state.kind === "created") return state;
      if (state.kind === "withdrawn") return state;
      if (state.kind === "abandoned") return { kind: "lost", why: "it was given up earlier" };
      if (options.signal?.aborted) return { kind: "aborted" };
      let why: string | undefined;
      if (Date.now() >= deadline) {
        if (!options.stillComing) return { kind: "timeout" };
        why = `its check run did not arrive within ${Math.round((options.timeoutMs ?? DEFAULT_WAIT_MS) / 1000)} s`;
      } else if (options.stillComing && Date.now() >= nextAsk) {
        nextAsk = Date.now() + STILL_COMING_EVERY_MS;
        if (!(await options.stillComing().catch(() => true))) why = "the planning that queued it ended without handing it a check run";
      }
      if (why !== undefined) {
        // Set-if-absent: a run handed at this very moment still wins, and is then taken.
        const after = await this.abandon(buildId).catch(() => undefined);
        if (after?.kind === "abandoned") return { kind: "lost", why };
        if (after?.kind === "created" || after?.kind === "withdrawn") return after;
      }
      const left = deadline - Date.now();
      await sleep(Math.max(0, Math.min(Math.max(left, pollMs), Date.now() - start < 5_000 ? pollMs : Math.max(pollMs, 1_000))), options.signal);
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
