import { benchDaemons } from "./support/bench-daemon.js";
import type { BenchDaemon } from "./support/bench-daemon.js";
import type { Benchmark, BenchContext, BenchResult, GoalResult } from "./support/benchmark.js";
import { buildTimeline, describeCalls, serialRoundTrips } from "./support/build-timeline.js";
import type { BuildTimeline } from "./support/build-timeline.js";
import { percentile, spread } from "./support/stats.js";
import { ms } from "./support/table.js";
import type { Table } from "./support/table.js";
import { startBenchWorld } from "./support/world.js";

/**
 * Item 2: from the signed push webhook leaving the sender to the moment the solve starts, with an idle worker
 * (one build at a time; the next push waits until the previous build has reported its outcome).
 */

const GOAL_P50_MS = 100;
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
    for (const daemon of await benchDaemons(ctx.stack)) {
      const r = await runOn(daemon, ctx, runs);
      tables.push(r.table);
      goals.push(r.goal);
      lastCalls.push(r.lastCalls);
    }
    return {
      tables,
      goals,
      notes: [
        `One app process (role all: web, planner, build worker) per daemon — the bench stack's private standalone buildkitd v0.24.0 (the shipped deploy/buildkitd.toml), then its private Docker Engine 20.10 (embedded BuildKit 0.8) — in its own world whose BUILDKIT_HOST is that daemon; each run pushes a new commit of a \`FROM scratch\` + \`COPY\` Dockerfile and waits for its check run and final status before the next push, so the worker is idle when each webhook arrives. Pushes are at least ${PUSH_SPACING_MS / 1000} s apart: a build makes 5 writes and the app's write budget allows 60 a minute (item 4), so back-to-back pushes would measure waits for the budget, not the start of a build.`,
        "Start = the signed delivery's POST begins in the bench process. Solve starts = the worker's in_progress check-run update reaching a pass-through proxy in front of the fake GitHub: the worker starts that update and the Solve RPC in the same tick, and the update first takes a write-budget permit from Redis, so the Solve RPC is already on its way by then. The \"of which\" rows are sums over the same runs (medians of parts do not add up to the median of the whole).",
        ...lastCalls,
        "Queue waits come from BullMQ's job timestamps (added → processedOn) of the event job and the build job.",
        "The worker connects to the daemon, mints the git token, reads the branch head (whether the plan's `main` and `latest` may move to this commit) and asks for the Dockerfile text (used only to annotate a failure) at the same time, and starts the solve as soon as the daemon, the token and the branch head are there; the in_progress update and the pending status go to GitHub alongside the solve, not before it. Each \"of which\" GitHub row is the wall time during which a call of that kind was in flight before the solve started.",
      ],
    };
  },
};

async function runOn(daemon: BenchDaemon, ctx: BenchContext, runs: number): Promise<{ table: Table; goal: GoalResult; lastCalls: string }> {
    const world = await startBenchWorld(daemon, { name: `bench-start-${daemon.kind}` });
    try {
      const { e2e } = world;
      e2e.github.delayMs = 0;
      const repo = await e2e.createRepo("start", { "a.txt": "0\n" });
      const timelines: BuildTimeline[] = [];
      let lastPushAt = 0;
      for (let i = 0; i < WARMUPS + runs; i++) {
        // Back-to-back builds would soon wait for the app's GitHub write budget (60/min, ~5 writes a build), which
        // item 4 measures; spaced out, each build starts as one does on an idle app.
        await new Promise((r) => setTimeout(r, Math.max(0, lastPushAt + PUSH_SPACING_MS - Date.now())));
        lastPushAt = Date.now();
        const pushed = await world.push(repo, { Dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": `${i}\n` });
        const run = await e2e.completedCheckRun(repo, pushed.sha, "buildkit-bot / start", 120_000);
        if (run.conclusion !== "success") throw new Error(`build ${i} ended ${run.conclusion}: ${run.output.title}\n${run.output.summary}`);
        await e2e.finalStatus(repo, pushed.sha, "start");
        const t = await buildTimeline(world, pushed);
        if (i >= WARMUPS) timelines.push(t);
        if (i % 10 === 0) ctx.log(`build-start on ${daemon.name}: run ${i + 1}/${WARMUPS + runs}: ${t.startLatencyMs} ms`);
      }
      const starts = timelines.map((t) => t.startLatencyMs);
      const col = (pick: (t: BuildTimeline) => number) => {
        const s = spread(timelines.map(pick));
        return [ms(s.median), ms(percentile(timelines.map(pick), 99)), `${ms(s.min)}–${ms(s.max)}`];
      };
      const p50 = percentile(starts, 50);
      const last = timelines.at(-1);
      const before = last ? last.calls.filter((c) => c.end <= last.solveStartAt) : [];
      return {
        table: {
          title: `${daemon.name}: webhook → solve starts, ${runs} runs (after ${WARMUPS} discarded warm-ups), fake GitHub at 0 ms delay`,
          columns: ["part", "p50", "p99", "range"],
          rows: [
            ["webhook → solve starts", ...col((t) => t.startLatencyMs)],
            ["  of which: webhook 2xx", ...col((t) => t.ackMs)],
            ["  of which: queue waits (event + build job)", ...col((t) => t.queueWaitMs)],
            ["  of which: GitHub token mints", ...col((t) => t.tokenMintMs)],
            ["  of which: GitHub contents reads", ...col((t) => t.configFetchMs)],
            ["  of which: other GitHub reads (branch head)", ...col((t) => t.otherGitHubMs)],
            ["  of which: GitHub writes (check run created)", ...col((t) => t.calls.filter((c) => c.end <= t.solveStartAt && c.method !== "GET" && !c.path.startsWith("/app/")).reduce((x, c) => x + c.end - c.start, 0))],
            ["serial GitHub round trips before the solve (calls in flight together count once)", ...col((t) => serialRoundTrips(t.calls.filter((c) => c.end <= t.solveStartAt))).map((v) => v.replaceAll(" ms", ""))],
          ],
        },
        goal: { goal: `p50 < ${GOAL_P50_MS} ms to solve start (${daemon.name})`, measured: `p50 ${p50} ms, p99 ${percentile(starts, 99)} ms`, met: p50 < GOAL_P50_MS },
        lastCalls: `${daemon.name}: the GitHub calls that ended before the solve started (${before.length} in the last run, ${serialRoundTrips(before)} serial round trips): ${describeCalls(before)}.`,
      };
    } finally {
      await world.close();
    }
}
