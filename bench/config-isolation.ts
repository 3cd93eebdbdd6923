import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Benchmark, BenchContext, BenchResult } from "./support/benchmark.js";
import { compileApp, productionNodeFlags } from "./support/compiled-app.js";
import type { ProbeResult } from "./support/config-isolation-probe.js";
import { percentile, spread } from "./support/stats.js";
import { mb, ms } from "./support/table.js";

const run = promisify(execFile);
const REPO = resolve(fileURLToPath(new URL("..", import.meta.url)));

/**
 * What reading and applying a repository's config in the app's worker threads (ConfigWorkerPool) costs per config,
 * against the same work on the event worker's thread: the app compiled as production runs it, with the production
 * image's node flags, measured in a process of its own (bench/support/config-isolation-probe.ts).
 */
export const configIsolation: Benchmark = {
  name: "config-isolation",
  title: "9. Repository config in worker threads: cost per config",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const scratch = join(ctx.root, "bench", "config-isolation-app");
    ctx.log("compiling the app (tsconfig.build.json)");
    await compileApp(scratch);
    const iterations = ctx.quick ? 40 : 400;
    ctx.log(`probing: ${iterations} paired calls per case`);
    const { stdout } = await run(process.execPath, [...(await productionNodeFlags()), join(REPO, "bench/support/config-isolation-probe.ts")], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH,
        BKB_PROBE_DIST: join(scratch, "dist"),
        BKB_PROBE_FIXTURES: join(REPO, "test/fixtures/config"),
        BKB_PROBE_ITERATIONS: String(iterations),
      },
      maxBuffer: 64 * 1024 * 1024,
    });
    const probe = JSON.parse(stdout.trim().split("\n").at(-1)!) as ProbeResult;

    const rows = probe.cases.map((c) => {
      const added = c.pooledMs.map((p, i) => p - c.inThreadMs[i]!);
      return [
        c.name,
        ms(spread(c.inThreadMs).median, 2),
        ms(spread(c.pooledMs).median, 2),
        ms(spread(added).median, 2),
        ms(percentile(added, 99), 2),
      ];
    });
    // The goal is about crossing to a thread, so it is taken on configs of a real size, where the work itself is
    // small; the large cases add how fast the same work runs in another isolate, shown in the table.
    const realSized = probe.cases.slice(0, 2);
    const worstAdded = Math.max(...realSized.map((c) => spread(c.pooledMs.map((p, i) => p - c.inThreadMs[i]!)).median));
    const s = probe.slowConfig;
    return {
      tables: [
        {
          title: `Per call, ${iterations} paired calls each (in-thread and pooled alternately)`,
          columns: ["Work", "In-thread median", "Pooled median", "Added median", "Added p99"],
          rows,
        },
        {
          title: "The pool itself",
          columns: ["What", "Measured"],
          rows: [
            [`Start of ${probe.threads} threads until all are ready`, ms(probe.startMs)],
            [`RSS added by ${probe.threads} idle threads`, mb(probe.rssAfterBytes - probe.rssBeforeBytes)],
            ["Worst 64 KiB config (32,001-item flow list), read in-thread", `${ms(s.inThreadMs)}; a 1 ms timer went ${ms(s.loopMaxInThreadMs)} without firing`],
            ["The same, read in the pool", `${ms(s.pooledMs)}; a 1 ms timer went at most ${ms(s.loopMaxPooledMs, 1)} without firing`],
            ["Next config after both threads were stopped at their time limit (waits for a fresh thread)", ms(probe.afterKillMs)],
          ],
        },
      ],
      goals: [
        {
          goal: "a real-sized config (1 or 2 images) read in the pool costs at most 1 ms more than on the event worker's thread (median)",
          measured: ms(worstAdded, 2),
          met: worstAdded <= 1,
        },
      ],
      notes: [
        "Each call is awaited before the next; in-thread and pooled calls alternate, so load on the machine hits both alike.",
        "Pooled: structured clone of the input (config text, or config and changed files) to a warm thread, the work there, the clone of the plain-data result back.",
        "20 warm-up calls of each kind per case are discarded. The timer gaps are the event loop's stalls as any timer or socket of the process sees them.",
      ],
    };
  },
};
