import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import type { Job } from "bullmq";
import type { EventJob } from "../src/queue/index.js";
import { QueueName } from "../src/queue/index.js";
import type { E2ERepo } from "../test/e2e/support/e2e-harness.js";
import { engineBenchDaemon } from "./support/bench-daemon.js";
import type { Benchmark, BenchContext, BenchResult } from "./support/benchmark.js";
import { percentile } from "./support/stats.js";
import { startBenchWorld } from "./support/world.js";
import type { BenchWorld } from "./support/world.js";
import { otherInstallationRepo, pushAll } from "./pool.js";

/**
 * Issue 17 point 4, the planner's side: installation A sends a flood of push webhooks, then installation B one; how
 * long B's webhook waits to be planned, with the events queue first-in first-out (the app before
 * src/queue/event-fairness.ts) and fair, in turns in one run. Both are the shipped app (one process, roles all)
 * against its own Redis, git server and fake GitHub; they differ only in the event jobs' priority (see
 * bench/support/fifo-events-app.ts).
 */

const REPO_ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const FAIR_APP = { args: ["--import", "tsx", "bench/support/unbudgeted-app.ts"], cwd: REPO_ROOT };
const FIFO_APP = { args: ["--import", "tsx", "bench/support/fifo-events-app.ts"], cwd: REPO_ROOT };
/** Every push is planned to a skipped check run: the planner's whole work (token, config read, plan, one GitHub write), no build. */
const CONFIG = { ".github/buildkit-bot.yml": 'images:\n  - name: app\n    paths: ["never/**"]\n', Dockerfile: "FROM scratch\n" };

interface Rep {
  /** B's webhook sent → its event job finished (planned). */
  plannedMs: number;
  /** A's events not yet taken by the planner when B's webhook was sent: the backlog B arrived behind. */
  backlog: number;
  /** Of those, the ones the planner took before B's. */
  aBefore: number;
}

interface Side {
  name: "FIFO" | "fair";
  world: BenchWorld;
  a: E2ERepo;
  b: E2ERepo;
  events: Queue<EventJob>;
  reps: Rep[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function side(name: Side["name"], ctx: BenchContext): Promise<Side> {
  const world = await startBenchWorld(engineBenchDaemon(ctx.stack), { name: `bench-events-${name.toLowerCase()}`, app: name === "fair" ? FAIR_APP : FIFO_APP });
  const a = await world.e2e.createRepo("flood", CONFIG);
  const b = await otherInstallationRepo(world, world.e2e.installationId + 1, `${world.e2e.owner}-b`, "late", CONFIG);
  const events = new Queue<EventJob>(QueueName.Events, { connection: world.e2e.redisClient, prefix: world.e2e.queuePrefix });
  return { name, world, a, b, events, reps: [] };
}

async function eventJobs(s: Side, shas: ReadonlySet<string>, timeoutMs: number): Promise<Map<string, Job<EventJob>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = (await s.events.getJobs(["completed", "failed"])).filter((j) => j && shas.has(j.data.sha));
    const failed = jobs.find((j) => j.failedReason);
    if (failed) throw new Error(`${s.name}: the event job of ${failed.data.sha.slice(0, 7)} failed: ${failed.failedReason}`);
    if (jobs.length >= shas.size) return new Map(jobs.map((j) => [j.data.sha, j]));
    if (Date.now() > deadline) throw new Error(`${s.name}: ${jobs.length} of ${shas.size} events planned after ${timeoutMs / 1000} s; app logs: ${s.world.e2e.dir}/logs`);
    await sleep(200);
  }
}

/** A's flood, committed first and delivered 8 at a time, then B's one push; waits until all are planned. */
async function rep(s: Side, r: number, flood: number): Promise<Rep> {
  const pushes = Array.from({ length: flood }, (_, i) => ({ repo: s.a, branch: `a-${r}-${i}`, files: { [`n${i}.txt`]: `${r}\n` } }));
  const floodSpans = [...(await pushAll(s.world, pushes)).keys()];
  const [[mine] = []] = await pushAll(s.world, [{ repo: s.b, branch: `b-${r}`, files: { "b.txt": `${r}\n` } }]);
  if (!mine) throw new Error("installation B's push was not delivered");
  const jobs = await eventJobs(s, new Set([mine.sha, ...floodSpans.map((x) => x.sha)]), 600_000);
  const bJob = jobs.get(mine.sha) as Job<EventJob>;
  const taken = floodSpans.map((x) => jobs.get(x.sha)?.processedOn as number).filter((at) => at >= mine.sentAt);
  const aBefore = taken.filter((at) => at < (bJob.processedOn as number)).length;
  return { plannedMs: (bJob.finishedOn as number) - mine.sentAt, backlog: taken.length, aBefore };
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export const eventFairness: Benchmark = {
  name: "event-fairness",
  title: "15. Events queue: one installation's webhook flood and another's first webhook (issue 17, fairness of the planner)",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const flood = ctx.quick ? 30 : 100;
    const reps = ctx.quick ? 2 : 6;
    const sides = [await side("FIFO", ctx), await side("fair", ctx)];
    try {
      for (let r = 0; r < reps; r++) {
        // In turns, each side first every other time: drift in the machine's load falls on both.
        for (const sd of r % 2 === 0 ? sides : [...sides].reverse()) {
          ctx.log(`event-fairness: ${sd.name}, round ${r + 1} of ${reps}: A sends ${flood} webhooks, then B one`);
          sd.reps.push(await rep(sd, r, flood));
        }
      }
    } finally {
      for (const sd of sides) {
        await sd.events.close().catch(() => undefined);
        await sd.world.close();
      }
    }
    const [fifo, fair] = sides as [Side, Side];
    const planned = (sd: Side) => sd.reps.map((x) => x.plannedMs);
    const before = (sd: Side) => sd.reps.map((x) => x.aBefore);
    const backlog = (sd: Side) => sd.reps.map((x) => x.backlog);
    const ratio = (p: number) => (percentile(planned(fifo), p) / percentile(planned(fair), p)).toFixed(1);
    const row = (label: string, f: (sd: Side, p: number) => string, withRatio: boolean) => [
      label,
      ...sides.flatMap((sd) => [f(sd, 50), f(sd, 99)]),
      withRatio ? `${ratio(50)}× / ${ratio(99)}×` : "",
    ];
    const fewAhead = 3;
    const within = fair.reps.filter((x) => x.aBefore <= fewAhead).length;
    return {
      tables: [
        {
          title: `Installation A sends ${flood} push webhooks (8 at a time), then installation B sends 1; ${reps} rounds per side, in turns`,
          columns: ["", "FIFO p50", "FIFO p99", "fair p50", "fair p99", "FIFO ÷ fair (p50 / p99)"],
          rows: [
            row("B's webhook sent → planned (its event job finished)", (sd, p) => s(percentile(planned(sd), p)), true),
            row("A's events not yet taken by the planner when B's webhook was sent", (sd, p) => String(percentile(backlog(sd), p)), false),
            row("… of which taken before B's", (sd, p) => String(percentile(before(sd), p)), false),
          ],
        },
      ],
      goals: [
        {
          goal: `B's first webhook is planned within the first few events, not behind A's flood (at most ${fewAhead} of A's waiting events taken first, each time)`,
          measured: `fair: ${within}/${fair.reps.length} rounds; A's waiting events taken first p50 ${percentile(before(fair), 50)}, max ${Math.max(...before(fair))} of a backlog p50 ${percentile(backlog(fair), 50)} (FIFO: p50 ${percentile(before(fifo), 50)} of ${percentile(backlog(fifo), 50)})`,
          met: fair.reps.length > 0 && within === fair.reps.length,
        },
      ],
      notes: [
        "Two worlds, each the shipped app in one process (roles all; the GitHub write budget lifted as in the builder-pool benchmarks, bench/support/unbudgeted-app.ts) with its own Redis, git server and fake GitHub. The FIFO side gives every event job the same priority (bench/support/fifo-events-app.ts), which BullMQ runs in arrival order: the events queue before src/queue/event-fairness.ts. Rounds alternate between the sides.",
        `Each push changes a file no image's paths match, so the planner does its whole work per event (installation token, config read at the commit, the plan in its config thread, a skipped check run written to the fake GitHub) and no build runs. Planner concurrency is the default (BUILDKIT_BOT_EVENT_CONCURRENCY, 4). A's ${flood} pushes (each on its own branch: none supersedes another) are committed first, then delivered 8 at a time; B's push (a second installation of the app) right after the last. Planned = BullMQ's finishedOn of B's event job; "taken" is an event job's processedOn (the planner started it), and the planner works through A's flood while it arrives, so the backlog is what remained when B's webhook left. A's events taken between B's webhook leaving and its event job being stored count as taken before it. The fair order puts B's event behind A's events whose turn had come by then (one per second of the flood's delivery, see src/queue/event-fairness.ts).`,
      ],
    };
  },
};
