import { DEFAULT_WRITES_PER_MINUTE } from "../src/github/write-budget.js";
import type { E2ERepo } from "../test/e2e/support/e2e-harness.js";
import { eventually } from "../test/e2e/support/wait.js";
import type { Benchmark, BenchContext, BenchResult } from "./support/benchmark.js";
import { describeCalls } from "./support/build-timeline.js";
import { startBenchWorld } from "./support/world.js";
import { engineBenchDaemon } from "./support/bench-daemon.js";
import type { BenchWorld } from "./support/world.js";

/**
 * Item 4: GitHub requests per build for a long build that logs steadily, and the peak content-creating writes per
 * minute across 20 concurrent builds, counted at the fake GitHub. The two run at the same time in two separate
 * worlds (own app, Redis and fake GitHub each): they share only the Engine, and neither measures time.
 */

const GOAL_REQUESTS_PER_BUILD = 15;
const GOAL_PEAK_PER_MINUTE = 60;
const CONCURRENT = 20;

const isWrite = (c: { method: string; path: string }) => (c.method === "POST" || c.method === "PATCH") && !c.path.startsWith("/app/");

async function longBuild(ctx: BenchContext, seconds: number) {
  const world = await startBenchWorld(engineBenchDaemon(ctx.stack), { name: "bench-long" });
  try {
    const { e2e } = world;
    const repo = await e2e.createRepo("long", { "README.md": "long\n" });
    const pushed = await world.push(repo, {
      Dockerfile: `FROM ${ctx.stack.baseImage}\nRUN for i in $(seq 1 ${seconds}); do echo "log line $i of ${seconds}"; sleep 1; done\n`,
    });
    const run = await e2e.completedCheckRun(repo, pushed.sha, "buildkit-bot / long", (seconds + 300) * 1000);
    await e2e.finalStatus(repo, pushed.sha, "long");
    await world.proxy.synced();
    const calls = world.proxy.calls.filter((c) => c.start >= pushed.sentAt);
    const started = run.started_at ? Date.parse(run.started_at) : Number.NaN;
    const completed = run.completed_at ? Date.parse(run.completed_at) : Number.NaN;
    return {
      conclusion: run.conclusion,
      buildSeconds: (completed - started) / 1000,
      requests: calls.length,
      writes: calls.filter(isWrite).length,
      progressUpdates: calls.filter((c) => c.method === "PATCH" && c.body?.status === "in_progress").length,
      sequence: describeCalls(calls),
    };
  } finally {
    await world.close();
  }
}

async function concurrentBuilds(ctx: BenchContext, seconds: number) {
  const world: BenchWorld = await startBenchWorld(engineBenchDaemon(ctx.stack), { name: "bench-budget", env: { BUILDKIT_BOT_CONCURRENCY: String(CONCURRENT) } });
  try {
    const { e2e } = world;
    const repos: E2ERepo[] = [];
    for (let i = 0; i < CONCURRENT; i++) repos.push(await e2e.createRepo(`steady-${String(i).padStart(2, "0")}`, { "README.md": `${i}\n` }));
    const startedAt = Date.now();
    const pushes = await Promise.all(
      repos.map((repo, i) =>
        world.push(repo, { Dockerfile: `FROM ${ctx.stack.baseImage}\nRUN for i in $(seq 1 ${seconds}); do echo "build ${i} line $i"; sleep 1; done\n` }),
      ),
    );
    await eventually(
      async () => repos.every((repo, i) => e2e.checkRuns(repo, { sha: pushes[i]?.sha }).some((c) => c.status === "completed")),
      "every check run to complete",
      { timeoutMs: 900_000, intervalMs: 1_000 },
    );
    for (const [i, repo] of repos.entries()) await e2e.finalStatus(repo, pushes[i]?.sha as string, repo.name, 600_000);
    const conclusions = repos.map((repo, i) => e2e.checkRuns(repo, { sha: pushes[i]?.sha })[0]?.conclusion ?? "none");
    const stats = e2e.github.writeStats();
    const rejected = e2e.github.calls.filter((c) => c.status >= 400 && c.method !== "GET").length;
    return { stats, conclusions, rejected, minutes: (Date.now() - startedAt) / 60_000 };
  } finally {
    await world.close();
  }
}

export const writeBudget: Benchmark = {
  name: "write-budget",
  title: "4. GitHub write budget",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const longSeconds = ctx.quick ? 40 : 300;
    const concurrentSeconds = ctx.quick ? 10 : 60;
    ctx.log(`write-budget: one ${longSeconds} s build that logs every second, and ${CONCURRENT} concurrent ${concurrentSeconds} s builds, side by side`);
    const [long, many] = await Promise.all([longBuild(ctx, longSeconds), concurrentBuilds(ctx, concurrentSeconds)]);
    const successes = many.conclusions.filter((c) => c === "success").length;
    return {
      tables: [
        {
          title: `One build that logs a line a second for ${longSeconds} s`,
          columns: ["conclusion", "build time (check run started → completed)", "GitHub requests", "of which writes", "progress updates"],
          rows: [[String(long.conclusion), `${long.buildSeconds.toFixed(0)} s`, String(long.requests), String(long.writes), String(long.progressUpdates)]],
        },
        {
          title: `${CONCURRENT} concurrent builds (worker concurrency ${CONCURRENT}), each logging a line a second for ${concurrentSeconds} s`,
          columns: ["succeeded", "writes total", "peak writes in any 60 s", "peak writes in any hour", "writes refused by GitHub", "wall time"],
          rows: [
            [
              `${successes}/${CONCURRENT}`,
              String(many.stats.total),
              String(many.stats.peakPerMinute),
              String(many.stats.peakPerHour),
              String(many.rejected),
              `${many.minutes.toFixed(1)} min`,
            ],
          ],
        },
      ],
      goals: [
        {
          goal: `≤ ${GOAL_REQUESTS_PER_BUILD} GitHub requests for a ${longSeconds} s build that logs steadily`,
          measured: `${long.requests} requests (${long.writes} writes)`,
          met: long.requests <= GOAL_REQUESTS_PER_BUILD && long.conclusion === "success",
        },
        {
          goal: `peak ≤ ${GOAL_PEAK_PER_MINUTE} writes per minute across ${CONCURRENT} concurrent builds (GitHub's secondary limit: 80)`,
          measured: `${many.stats.peakPerMinute} in the busiest 60 s window, ${successes}/${CONCURRENT} succeeded`,
          met: many.stats.peakPerMinute <= GOAL_PEAK_PER_MINUTE && successes === CONCURRENT,
        },
      ],
      notes: [
        `The long build ran for real (${longSeconds} s, not extrapolated). Its requests = every call the app made to the fake GitHub from the push delivery until the final commit status, reads and token mints included: ${long.sequence}.`,
        `Writes = content-creating requests (check-run create/update, commit statuses), counted by the fake GitHub in sliding windows the way GitHub's secondary limits see them; the app's own budget is ${DEFAULT_WRITES_PER_MINUTE}/min (its default). Token mints are not writes to a repository and are not counted there.`,
        "Each part ran in its own world (app process with roles all, private Redis, git server, fake GitHub at 0 ms delay) at the same time; they shared only the Engine.",
      ],
    };
  },
};
