import { benchDaemons } from "./support/bench-daemon.js";
import type { BenchDaemon } from "./support/bench-daemon.js";
import type { Benchmark, BenchContext, BenchResult, GoalResult } from "./support/benchmark.js";
import { buildTimeline, describeCalls, serialRoundTrips } from "./support/build-timeline.js";
import type { TimedCall } from "./support/timing-proxy.js";
import type { BuildTimeline } from "./support/build-timeline.js";
import { describeSpread, pairedRatios, percentile, spread } from "./support/stats.js";
import { ms } from "./support/table.js";
import type { Table } from "./support/table.js";
import { startBenchWorld } from "./support/world.js";

/**
 * Item 2: from the signed push webhook leaving the sender to the moment the solve starts, with an idle worker
 * (one build at a time; the next push waits until the previous build has reported its outcome).
 */

/** The goal at each fake-GitHub delay: 100 ms at 0 ms (item 2), 60 ms at +100 ms on a warm token (issue 17 point 5). */
const goalP50Ms = (delayMs: number): number => (delayMs >= 100 ? 60 : 100);
/**
 * `BKB_BENCH_GITHUB_DELAYS=0,100` (the default): the fake GitHub's added latency per response, one run of the
 * benchmark per value, side by side. At +100 ms each serial GitHub round trip before the solve costs 100 ms.
 */
export function githubDelays(env: NodeJS.ProcessEnv = process.env): number[] {
  const raw = env.BKB_BENCH_GITHUB_DELAYS ?? "0,100";
  const delays = raw.split(",").map((v) => Number(v.trim()));
  if (delays.length === 0 || delays.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`BKB_BENCH_GITHUB_DELAYS=${raw}: expected whole milliseconds, comma-separated`);
  return delays;
}
/**
 * `BKB_BENCH_PUSHES=listed,forced` (default `listed`): the kinds of push delivered, taking turns in one world.
 * `listed`: as GitHub sends a push, its commits listing the files they changed, so the planner may take the parent
 * commit's config (remembered in Redis) instead of reading it. `forced`: the same push marked as a force push, whose
 * commit list is no diff, so the planner reads `.github/buildkit-bot.yml` and the root `Dockerfile` at the commit
 * first: the contents round trip the memo saves, measured side by side.
 */
export type PushKind = "listed" | "forced";
export function pushKinds(env: NodeJS.ProcessEnv = process.env): PushKind[] {
  const raw = env.BKB_BENCH_PUSHES ?? "listed";
  const kinds = raw.split(",").map((v) => v.trim());
  if (kinds.some((k) => k !== "listed" && k !== "forced") || new Set(kinds).size !== kinds.length) throw new Error(`BKB_BENCH_PUSHES=${raw}: expected listed and/or forced, comma-separated`);
  return kinds as PushKind[];
}
const KIND_TITLE: Record<PushKind, string> = { listed: "push listing its changed files", forced: "force push (the planner reads the config)" };
const WARMUPS = 3;
const PUSH_SPACING_MS = 6_000;

export const buildStart: Benchmark = {
  name: "build-start",
  title: "2. Latency to build start (webhook → solve starts, idle worker)",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const runs = ctx.quick ? 8 : 50;
    const tables: Table[] = [];
    const goals: GoalResult[] = [];
    const lastCalls: string[] = [];
    const kinds = pushKinds();
    for (const daemon of await benchDaemons(ctx.stack)) {
      for (const delayMs of githubDelays()) {
        const r = await runOn(daemon, ctx, runs, delayMs, kinds);
        tables.push(...r.tables);
        goals.push(...r.goals);
        lastCalls.push(...r.lastCalls);
      }
    }
    return {
      tables,
      goals,
      notes: [
        `One app process (role all: web, planner, build worker) per daemon — the bench stack's private standalone buildkitd v0.24.0 (the shipped deploy/buildkitd.toml), then its private Docker Engine 20.10 (embedded BuildKit 0.8) — in its own world whose BUILDKIT_HOST is that daemon; each run pushes a new commit of a \`FROM scratch\` + \`COPY\` Dockerfile and waits for its check run and final status before the next push, so the worker is idle when each webhook arrives. Pushes are at least ${PUSH_SPACING_MS / 1000} s apart: a build makes 5 writes and the app's write budget allows 60 a minute (item 4), so back-to-back pushes would measure waits for the budget, not the start of a build.`,
        "Start = the signed delivery's POST begins in the bench process. Solve starts = the first of the worker's in_progress check-run update and its pending \"Building\" commit status reaching a pass-through proxy in front of the fake GitHub (serving on a thread of its own, so the bench's fake GitHub and git server, busy on the main thread while the daemon fetches the commit, do not delay the moment a request is seen): the worker starts both and the Solve RPC in the same tick, and each first takes a write-budget permit from Redis, so the Solve RPC is already on its way by then. (The status counts because the update also waits for the run's id while the planner's create is in flight; the solve does not.) The \"of which\" rows are sums over the same runs (medians of parts do not add up to the median of the whole).",
        ...lastCalls,
        "Queue waits come from BullMQ's job timestamps (added → processedOn) of the event job and the build job. The planner row is its event job taken → the build job added (config, plan, claims, enqueue), the worker row the build job taken → solve starts (slot, builder, connection, token, request).",
        `Push kinds (BKB_BENCH_PUSHES, default listed; this run: ${kinds.join(", ")}): ${kinds.map((k) => `${k} = ${KIND_TITLE[k]}`).join("; ")}. With both, they take turns in the same world (alternating which goes first each round), and the ratio row pairs each round's two builds.`,
        "The worker connects to the daemon, takes the git token (from its in-memory cache when warm, else minted) at the same time, and starts the solve as soon as the daemon and the token are there; the Dockerfile text (used only to annotate a failure) is asked for once the Solve RPC is on its way, so the solve never waits for it (it can still show in the contents row, which counts until the solve-start mark, a write-budget round trip after the RPC); the in_progress update and the pending status go to GitHub alongside the solve, not before it. Whether the plan's `main` and `latest` may move to this commit is asked after the solve (the solve pushes the commit's own tag; the moving tags follow by a registry manifest copy), so no branch-head read is counted here. Each \"of which\" GitHub row is the wall time during which a call of that kind was in flight before the solve started.",
        "Fake GitHub delays (BKB_BENCH_GITHUB_DELAYS, default 0,100): each response of the fake GitHub waits that long, GitHub's own latency on top of the proxy. The serial round-trips row counts the calls that ended before the solve started, whether or not the solve waited for them: the planner's check-run create goes out with the build's enqueue, and ends first whenever the worker takes longer than a round trip to start the solve (on a loaded machine, or at +0 ms). The row under it counts those that ended before the build was even queued, which the planner did wait for.",
      ],
    };
  },
};

/** The part of `calls` in flight before `until`, clipped to it: what the solve could have waited for. */
function before(calls: readonly TimedCall[], until: number): TimedCall[] {
  return calls.filter((c) => c.start < until).map((c) => ({ ...c, end: Math.min(c.end, until) }));
}

const isMint = (c: TimedCall) => c.method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(c.path);
const isContents = (c: TimedCall) => c.method === "GET" && /^\/repos\/[^/]+\/[^/]+\/contents\//.test(c.path);
const isWrite = (c: TimedCall) => c.method !== "GET" && !c.path.startsWith("/app/");
/** Wall time during which at least one of `calls` was in flight. */
function covered(calls: readonly TimedCall[]): number {
  const sorted = [...calls].sort((a, b) => a.start - b.start);
  let total = 0;
  let end = -Infinity;
  for (const c of sorted) {
    if (c.start >= end) {
      total += c.end - c.start;
      end = c.end;
    } else if (c.end > end) {
      total += c.end - end;
      end = c.end;
    }
  }
  return total;
}

type Sample = BuildTimeline & { planningMs: number; workerMs: number; early: TimedCall[]; plannerRoundTrips: number };

async function runOn(
  daemon: BenchDaemon,
  ctx: BenchContext,
  runs: number,
  delayMs: number,
  kinds: PushKind[],
): Promise<{ tables: Table[]; goals: GoalResult[]; lastCalls: string[] }> {
    const world = await startBenchWorld(daemon, { name: `bench-start-${daemon.kind}-${delayMs}` });
    try {
      const { e2e } = world;
      e2e.github.delayMs = delayMs;
      const repo = await e2e.createRepo("start", { "a.txt": "0\n" });
      const samples = new Map<PushKind, Sample[]>(kinds.map((k) => [k, []]));
      let lastPushAt = 0;
      let n = 0;
      for (let i = 0; i < WARMUPS + runs; i++) {
        for (const kind of i % 2 === 0 ? kinds : [...kinds].reverse()) {
          // Back-to-back builds would soon wait for the app's GitHub write budget (60/min, ~5 writes a build), which
          // item 4 measures; spaced out, each build starts as one does on an idle app.
          await new Promise((r) => setTimeout(r, Math.max(0, lastPushAt + PUSH_SPACING_MS - Date.now())));
          lastPushAt = Date.now();
          n++;
          const pushed = await world.push(repo, { Dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": `${n}\n` }, { forced: kind === "forced" });
          const run = await e2e.completedCheckRun(repo, pushed.sha, "buildkit-bot / start", 120_000);
          if (run.conclusion !== "success") throw new Error(`build ${n} ended ${run.conclusion}: ${run.output.title}\n${run.output.summary}`);
          await e2e.finalStatus(repo, pushed.sha, "start");
          const t = await buildTimeline(world, pushed);
          const { event, build } = await world.jobs(pushed.sha);
          const planningMs = build && event?.processedOn !== undefined ? build.timestamp - event.processedOn : Number.NaN;
          const workerMs = build?.processedOn !== undefined ? t.solveStartAt - build.processedOn : Number.NaN;
          // The planner queues the build only after its reads: GitHub calls that ended before the build job was added.
          const plannerRoundTrips = build ? serialRoundTrips(t.calls.filter((c) => c.end <= build.timestamp)) : Number.NaN;
          if (i >= WARMUPS) samples.get(kind)?.push({ ...t, planningMs, workerMs, early: before(t.calls, t.solveStartAt), plannerRoundTrips });
          if (i % 10 === 0) ctx.log(`build-start on ${daemon.name}, GitHub +${delayMs} ms, ${kind}: run ${i + 1}/${WARMUPS + runs}: ${t.startLatencyMs} ms`);
        }
      }
      const tables: Table[] = [];
      const goals: GoalResult[] = [];
      const lastCalls: string[] = [];
      for (const kind of kinds) {
        const timelines = samples.get(kind) ?? [];
        const starts = timelines.map((t) => t.startLatencyMs);
        const col = (pick: (t: Sample) => number) => {
          const s = spread(timelines.map(pick));
          return [ms(s.median), ms(percentile(timelines.map(pick), 99)), `${ms(s.min)}–${ms(s.max)}`];
        };
        const p50 = percentile(starts, 50);
        const roundTrips = timelines.map((t) => serialRoundTrips(t.calls.filter((c) => c.end <= t.solveStartAt)));
        const last = timelines.at(-1);
        const ended = last ? last.calls.filter((c) => c.end <= last.solveStartAt) : [];
        const what = kinds.length > 1 ? `, ${KIND_TITLE[kind]}` : "";
        tables.push({
          title: `${daemon.name}: webhook → solve starts, ${runs} runs (after ${WARMUPS} discarded warm-ups), fake GitHub at +${delayMs} ms${what}`,
          columns: ["part", "p50", "p99", "range"],
          rows: [
            ["webhook → solve starts", ...col((t) => t.startLatencyMs)],
            ["  of which: webhook 2xx", ...col((t) => t.ackMs)],
            ["  of which: queue waits (event + build job)", ...col((t) => t.queueWaitMs)],
            ["  of which: planner (event job taken → build queued)", ...col((t) => t.planningMs)],
            ["  of which: worker (build job taken → solve starts)", ...col((t) => t.workerMs)],
            ["  of which: GitHub token mints in flight", ...col((t) => covered(t.early.filter(isMint)))],
            ["  of which: GitHub contents reads in flight", ...col((t) => covered(t.early.filter(isContents)))],
            ["  of which: other GitHub reads in flight", ...col((t) => covered(t.early.filter((c) => !isMint(c) && !isContents(c) && !isWrite(c))))],
            ["  of which: GitHub writes in flight (check run created)", ...col((t) => covered(t.early.filter(isWrite)))],
            ["serial GitHub round trips before the solve (calls in flight together count once)", ...col((t) => serialRoundTrips(t.calls.filter((c) => c.end <= t.solveStartAt))).map((v) => v.replaceAll(" ms", ""))],
            ["  of which ended before the build was queued (the planner waited for them)", ...col((t) => t.plannerRoundTrips).map((v) => v.replaceAll(" ms", ""))],
          ],
        });
        if (kind === "listed") {
          goals.push({
            goal: `p50 < ${goalP50Ms(delayMs)} ms to solve start (${daemon.name}, GitHub +${delayMs} ms)`,
            measured: `p50 ${p50} ms, p99 ${percentile(starts, 99)} ms; serial GitHub round trips before the solve: median ${percentile(roundTrips, 50)}, max ${Math.max(...roundTrips)}`,
            met: p50 < goalP50Ms(delayMs),
          });
        }
        lastCalls.push(`${daemon.name}, GitHub +${delayMs} ms${what}: the GitHub calls that ended before the solve started (${ended.length} in the last run, ${serialRoundTrips(ended)} serial round trips): ${describeCalls(ended)}.`);
      }
      const listed = samples.get("listed");
      const forced = samples.get("forced");
      if (listed && forced) {
        const r = pairedRatios(forced.map((t) => t.startLatencyMs), listed.map((t) => t.startLatencyMs));
        const d = spread(listed.map((t, i) => (forced[i]?.startLatencyMs ?? Number.NaN) - t.startLatencyMs));
        tables.push({
          title: `${daemon.name}, GitHub +${delayMs} ms: webhook → solve starts, listed push / force push, paired by round`,
          columns: ["measure", "median (range)"],
          rows: [
            ["ratio listed / forced", describeSpread(r, "×", 2)],
            ["forced − listed", describeSpread(d)],
          ],
        });
      }
      return { tables, goals, lastCalls };
    } finally {
      await world.close();
    }
}
