import type { TestStack } from "../../test/support/stack/env.js";
import type { Table } from "./table.js";

/** One stated goal of issue 7 and whether this run met it. */
export interface GoalResult {
  goal: string;
  measured: string;
  met: boolean;
}

export interface BenchResult {
  tables: Table[];
  goals: GoalResult[];
  /** What the numbers include, warm-ups discarded, anything estimated: printed under the tables. */
  notes: string[];
}

export interface BenchContext {
  stack: TestStack;
  /** The bench stack's root directory (private Engine, Redis, registry): scratch space goes under `<root>/bench`. */
  root: string;
  /** Scale factor for run counts (BKB_BENCH_QUICK=1 shrinks them for a smoke run; the results say so). */
  quick: boolean;
  log(message: string): void;
}

export interface Benchmark {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}
