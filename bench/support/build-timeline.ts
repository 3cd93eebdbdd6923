import type { BenchWorld } from "./world.js";
import type { TimedCall } from "./timing-proxy.js";

/**
 * Where the time of one pipeline build went, from the signed webhook leaving the sender to the check run's
 * completing update returning from GitHub. GitHub calls are timed at the proxy (request start → response end);
 * queue waits come from BullMQ's own job timestamps. The parts run one after another, so they add up; `other`
 * is what is left (the app's own work: planning, Redis, connecting to BuildKit, JWT signing…).
 */
export interface BuildTimeline {
  sentAt: number;
  solveStartAt: number;
  totalMs: number;
  /** The webhook's round trip to its 2xx. */
  ackMs: number;
  /** Delivery → first solve byte: the end of the last GitHub write before `solve()` ("Building" status). */
  startLatencyMs: number;
  queueWaitMs: number;
  tokenMintMs: number;
  configFetchMs: number;
  /** Check-run and status writes before the completion is known (the completing PATCH included). */
  reportingMs: number;
  otherGitHubMs: number;
  /** From the "Building" status returning to the completing PATCH leaving: solve, push and the log's end. */
  solvePushMs: number;
  otherMs: number;
  /** GitHub requests made between the delivery and the completion, all serial. */
  roundTrips: number;
  /**
   * Writes of this build that started 1.00–1.10 s after the app's previous write: the signature of
   * @octokit/plugin-throttling's write group (one mutating request at a time, at least 1 s apart per process).
   */
  heldWrites: TimedCall[];
  calls: TimedCall[];
}

const isMint = (c: TimedCall) => c.method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(c.path);
const isContents = (c: TimedCall) => c.method === "GET" && /^\/repos\/[^/]+\/[^/]+\/contents\//.test(c.path);
const isCheckRunWrite = (c: TimedCall) => (c.method === "POST" || c.method === "PATCH") && /^\/repos\/[^/]+\/[^/]+\/check-runs(\/\d+)?$/.test(c.path);
const isStatus = (c: TimedCall, sha: string) => c.method === "POST" && c.path.endsWith(`/statuses/${sha}`);

export class TimelineError extends Error {
  override readonly name = "TimelineError";
}

export async function buildTimeline(world: BenchWorld, run: { sha: string; sentAt: number; ackedAt: number }): Promise<BuildTimeline> {
  const after = world.proxy.calls.filter((c) => c.start >= run.sentAt);
  const completed = after.find((c) => c.method === "PATCH" && isCheckRunWrite(c) && c.body?.status === "completed");
  if (!completed) throw new TimelineError(`no completing check-run update seen for ${run.sha}`);
  const started = after.find((c) => c.method === "PATCH" && isCheckRunWrite(c) && c.body?.status === "in_progress");
  if (!started) throw new TimelineError(`no in_progress check-run update seen for ${run.sha}`);
  const building = after.find((c) => isStatus(c, run.sha) && c.start >= started.end);
  const solveStartAt = building && building.end <= completed.start ? building.end : started.end;
  const calls = after.filter((c) => c.end <= completed.end);
  const sum = (pick: (c: TimedCall) => boolean) => calls.filter(pick).reduce((t, c) => t + (c.end - c.start), 0);

  const { event, build } = await world.jobs(run.sha);
  const wait = (j: { timestamp: number; processedOn?: number | undefined } | undefined) =>
    j?.processedOn !== undefined ? Math.max(0, j.processedOn - j.timestamp) : 0;
  const queueWaitMs = wait(event) + wait(build);

  const totalMs = completed.end - run.sentAt;
  const ackMs = run.ackedAt - run.sentAt;
  const tokenMintMs = sum(isMint);
  const configFetchMs = sum(isContents);
  const reportingMs = sum((c) => isCheckRunWrite(c) || isStatus(c, run.sha));
  const otherGitHubMs = sum((c) => !isMint(c) && !isContents(c) && !isCheckRunWrite(c) && !isStatus(c, run.sha));
  const solvePushMs = completed.start - solveStartAt;
  const allWrites = world.proxy.calls.filter((c) => (c.method === "POST" || c.method === "PATCH") && c.path.startsWith("/repos/")).sort((x, y) => x.start - y.start);
  const heldWrites: TimedCall[] = [];
  for (let i = 1; i < allWrites.length; i++) {
    const w = allWrites[i] as TimedCall;
    const gap = w.start - (allWrites[i - 1] as TimedCall).start;
    if (w.start >= run.sentAt && w.end <= completed.end && gap >= 1000 && gap <= 1100) heldWrites.push(w);
  }
  return {
    sentAt: run.sentAt,
    solveStartAt,
    totalMs,
    ackMs,
    startLatencyMs: solveStartAt - run.sentAt,
    queueWaitMs,
    tokenMintMs,
    configFetchMs,
    reportingMs,
    otherGitHubMs,
    solvePushMs,
    otherMs: totalMs - ackMs - queueWaitMs - tokenMintMs - configFetchMs - reportingMs - otherGitHubMs - solvePushMs,
    roundTrips: calls.length,
    heldWrites,
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
