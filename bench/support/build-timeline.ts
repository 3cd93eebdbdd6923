import type { BenchWorld } from "./world.js";
import type { TimedCall } from "./timing-proxy.js";

/**
 * Where the time of one pipeline build went, from the signed webhook leaving the sender to the check run's
 * completing update returning from GitHub. GitHub calls are timed at the proxy (request start → response end);
 * queue waits come from BullMQ's own job timestamps. The app sends independent calls together, so each GitHub
 * part is the wall time during which at least one call of its kind was in flight (parts may overlap each other
 * and the solve); `other` is the wall time covered by none of them (the app's own work: planning, Redis,
 * connecting to BuildKit, JWT signing…).
 */
export interface BuildTimeline {
  sentAt: number;
  solveStartAt: number;
  totalMs: number;
  /** The webhook's round trip to its 2xx. */
  ackMs: number;
  /** Delivery → solve start: the worker's in_progress update leaving, which the worker starts in the same tick as `solve()`. */
  startLatencyMs: number;
  queueWaitMs: number;
  tokenMintMs: number;
  configFetchMs: number;
  /** Check-run and status writes before the completion is known (the completing PATCH included). */
  reportingMs: number;
  otherGitHubMs: number;
  /** From the solve's start to the completing PATCH leaving: solve, push and the log's end. */
  solvePushMs: number;
  otherMs: number;
  /**
   * GitHub round trips the build waited for, one after another: calls in flight at the same time count once, and
   * calls wholly under the solve (the in_progress update and pending status sent alongside it) do not count.
   */
  roundTrips: number;
  /** Every GitHub request between the delivery and the completion. */
  requests: number;
  calls: TimedCall[];
}

const isMint = (c: TimedCall) => c.method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(c.path);
const isContents = (c: TimedCall) => c.method === "GET" && /^\/repos\/[^/]+\/[^/]+\/contents\//.test(c.path);
const isCheckRunWrite = (c: TimedCall) => (c.method === "POST" || c.method === "PATCH") && /^\/repos\/[^/]+\/[^/]+\/check-runs(\/\d+)?$/.test(c.path);
const isStatus = (c: TimedCall, sha: string) => c.method === "POST" && c.path.endsWith(`/statuses/${sha}`);

type Span = { start: number; end: number };

/** Merged, sorted spans: the wall time covered by any of them. */
function union(spans: readonly Span[]): Span[] {
  const sorted = [...spans].filter((x) => x.end > x.start).sort((x, y) => x.start - y.start);
  const merged: Span[] = [];
  for (const x of sorted) {
    const last = merged.at(-1);
    if (last && x.start <= last.end) last.end = Math.max(last.end, x.end);
    else merged.push({ start: x.start, end: x.end });
  }
  return merged;
}

/** GitHub round trips one after another among `calls`: calls in flight at the same time count once. */
export const serialRoundTrips = (calls: readonly Span[]): number => union(calls).length;

/** Like `serialRoundTrips`, leaving out the groups of calls that lie wholly inside `hiddenUnder` (the solve). */
export const waitedRoundTrips = (calls: readonly Span[], hiddenUnder: Span): number =>
  union(calls).filter((g) => g.start < hiddenUnder.start || g.end > hiddenUnder.end).length;

const covered = (spans: readonly Span[]): number => union(spans).reduce((t, x) => t + (x.end - x.start), 0);

export class TimelineError extends Error {
  override readonly name = "TimelineError";
}

export async function buildTimeline(world: BenchWorld, run: { sha: string; sentAt: number; ackedAt: number }): Promise<BuildTimeline> {
  await world.proxy.synced();
  const after = world.proxy.calls.filter((c) => c.start >= run.sentAt);
  const completed = after.find((c) => c.method === "PATCH" && isCheckRunWrite(c) && c.body?.status === "completed");
  if (!completed) throw new TimelineError(`no completing check-run update seen for ${run.sha}`);
  const started = after.find((c) => c.method === "PATCH" && isCheckRunWrite(c) && c.body?.status === "in_progress");
  if (!started) throw new TimelineError(`no in_progress check-run update seen for ${run.sha}`);
  // The worker sends the in_progress update and the "Building" status in the same tick as the Solve RPC. The update
  // also waits for the run's id when the planner's create is still in flight (the solve does not), so the earlier
  // of the two marks the solve's start.
  const building = after.find((c) => isStatus(c, run.sha) && c.body?.state === "pending" && String(c.body?.description ?? "").startsWith("Building"));
  const solveStartAt = Math.min(started.start, building?.start ?? Number.POSITIVE_INFINITY);
  const calls = after.filter((c) => c.end <= completed.end);
  const part = (pick: (c: TimedCall) => boolean) => covered(calls.filter(pick));

  const { event, build } = await world.jobs(run.sha);
  const wait = (j: { timestamp: number; processedOn?: number | undefined } | undefined) =>
    j?.processedOn !== undefined ? Math.max(0, j.processedOn - j.timestamp) : 0;
  const queueWaitMs = wait(event) + wait(build);

  const totalMs = completed.end - run.sentAt;
  const ackMs = run.ackedAt - run.sentAt;
  const solve = { start: solveStartAt, end: completed.start };
  const known = covered([{ start: run.sentAt, end: run.ackedAt }, ...calls, solve]);
  return {
    sentAt: run.sentAt,
    solveStartAt,
    totalMs,
    ackMs,
    startLatencyMs: solveStartAt - run.sentAt,
    queueWaitMs,
    tokenMintMs: part(isMint),
    configFetchMs: part(isContents),
    reportingMs: part((c) => isCheckRunWrite(c) || isStatus(c, run.sha)),
    otherGitHubMs: part((c) => !isMint(c) && !isContents(c) && !isCheckRunWrite(c) && !isStatus(c, run.sha)),
    solvePushMs: solve.end - solve.start,
    otherMs: Math.max(0, totalMs - known - queueWaitMs),
    roundTrips: waitedRoundTrips(calls, solve),
    requests: calls.length,
    calls,
  };
}

/** `POST check-runs, GET contents, …`: the serial GitHub calls of one build, for the notes. */
export function describeCalls(calls: readonly TimedCall[]): string {
  return calls
    .map((c) => {
      const what = c.path
        .replace(/^\/app\/installations\/\d+\/access_tokens$/, "token mint")
        .replace(/^\/repos\/[^/]+\/[^/]+\/contents\/(.*)$/, "contents $1")
        .replace(/^\/repos\/[^/]+\/[^/]+\/check-runs\/\d+$/, `check-run ${String(c.body?.status ?? "update")}`)
        .replace(/^\/repos\/[^/]+\/[^/]+\/check-runs$/, "check-run create")
        .replace(/^\/repos\/[^/]+\/[^/]+\/statuses\/[0-9a-f]+$/, `status ${String(c.body?.state ?? "")}`);
      return `${c.method} ${what}`;
    })
    .join(" → ");
}
