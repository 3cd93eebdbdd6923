import { mkdir } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { testStack } from "../test/support/stack/env.js";
import { buildStart } from "./build-start.js";
import { cliStartup } from "./cli-startup.js";
import { configIsolation } from "./config-isolation.js";
import { eventFairness } from "./event-fairness.js";
import { goClient } from "./go-client.js";
import { hostile } from "./hostile.js";
import { ingest } from "./ingest.js";
import { logFlood } from "./log-flood.js";
import { overhead } from "./pipeline-overhead.js";
import { poolAffinity, poolFairness, poolThroughput } from "./pool.js";
import { redesignBaseline } from "./redesign-baseline.js";
import { schedulerSim } from "./scheduler-sim.js";
import { onlyDaemon } from "./support/bench-daemon.js";
import type { Benchmark, BenchContext, BenchResult } from "./support/benchmark.js";
import { describeMachine, machineInfo } from "./support/machine.js";
import { writeSection } from "./support/results-file.js";
import { renderTable } from "./support/table.js";
import { writeBudget } from "./write-budget.js";

/**
 * `node --import tsx bench/run.ts [name…]`, normally through `npm run bench [-- name…]` (scripts/bench.sh), which
 * starts the private stack and exports its BKB_TEST_* variables. Prints each benchmark's tables and writes them
 * into BENCHMARKS.md.
 */

const BENCHMARKS: Benchmark[] = [ingest, buildStart, overhead, writeBudget, logFlood, goClient, hostile, configIsolation, cliStartup, schedulerSim, redesignBaseline, poolThroughput, poolFairness, poolAffinity, eventFairness];
const REPO = resolve(fileURLToPath(new URL("..", import.meta.url)));

function render(b: Benchmark, result: BenchResult, header: string): string {
  const goals = result.goals.map((g) => `- ${g.met ? "**met**" : "**missed**"}: ${g.goal} — measured ${g.measured}`);
  return [
    `## ${b.title}`,
    "",
    header,
    "",
    ...result.tables.flatMap((t) => [renderTable(t), ""]),
    "Goals:",
    "",
    ...goals,
    "",
    "What the numbers include:",
    "",
    ...result.notes.map((n) => `- ${n}`),
  ].join("\n");
}

async function main(): Promise<number> {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(", ")}; choose from ${BENCHMARKS.map((b) => b.name).join(", ")}`);
    return 2;
  }
  const selected = names.length > 0 ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  const stack = testStack();
  const root = process.env.STACK_ROOT ?? "/tmp";
  await mkdir(join(root, "bench"), { recursive: true });
  const quick = process.env.BKB_BENCH_QUICK === "1";
  const only = onlyDaemon();
  const ctx: BenchContext = { stack, root, quick, log: (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`) };
  const machine = describeMachine(await machineInfo(stack.dockerSocket, stack.buildkitAddr, stack.buildkitdAddr));
  const command = `npm run bench${names.length > 0 ? ` -- ${names.join(" ")}` : ""}${quick ? " (BKB_BENCH_QUICK=1: reduced run counts, a smoke run, not results)" : ""}${only ? ` (BKB_BENCH_DAEMON=${only}: one daemon only, not written)` : ""}`;
  let failed = 0;
  for (const b of selected) {
    ctx.log(`── ${b.title}`);
    const startedAt = new Date();
    const loadBefore = loadavg()[0] ?? Number.NaN;
    let body: string;
    try {
      const result = await b.run(ctx);
      const minutes = ((Date.now() - startedAt.getTime()) / 60_000).toFixed(1);
      // Other work on the machine shows in every absolute time (not in the side-by-side ratios): say how busy it was.
      const load = `1-min load average ${loadBefore.toFixed(1)} at the start, ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at the end`;
      const header = `Command: \`${command}\` · run ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC (${minutes} min, ${load}) · ${machine}`;
      body = render(b, result, header);
    } catch (err) {
      failed++;
      const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
      console.error(`${b.name} failed: ${text}`);
      body = `## ${b.title}\n\nCommand: \`${command}\` · ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC · ${machine}\n\n**The benchmark failed; no numbers.**\n\n\`\`\`\n${text.split("\n").slice(0, 12).join("\n")}\n\`\`\``;
    }
    console.log(`\n${body}\n`);
    if (!quick && !only) await writeSection(join(REPO, "BENCHMARKS.md"), BENCHMARKS.map((x) => x.name), b.name, body);
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
