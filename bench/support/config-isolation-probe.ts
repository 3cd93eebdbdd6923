import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import type { ConfigLimits } from "../../src/config/config-limits.js";
import type { parseRepoConfig as ParseRepoConfig } from "../../src/config/parse-repo-config.js";
import type { inThreadConfigWork as InThreadConfigWork } from "../../src/planner/config-work.js";
import type { ConfigWorkerPool as Pool } from "../../src/planner/config-worker-pool.js";
import type { PlanInput } from "../../src/planner/plan.js";

/**
 * Run by bench/config-isolation.ts as its own process, with the production image's node flags and Node's own type
 * stripping (nothing here but types comes from src/): loads the app compiled into BKB_PROBE_DIST and measures the
 * ConfigWorkerPool against the same work on the calling thread. Prints one JSON object (ProbeResult).
 */

export interface CaseResult {
  name: string;
  /** Per-call wall time, paired samples taken alternately. */
  inThreadMs: number[];
  pooledMs: number[];
}

export interface ProbeResult {
  threads: number;
  /** From `new ConfigWorkerPool` to every thread ready (modules loaded, schema compiled). */
  startMs: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  cases: CaseResult[];
  /** The worst 64 KiB config read on this thread and in the pool: time, and the longest gap between 1 ms timer firings. */
  slowConfig: { inThreadMs: number; pooledMs: number; loopMaxInThreadMs: number; loopMaxPooledMs: number };
  /** A task stopped at its time limit, then the next config: how long that next one waits for its fresh thread. */
  afterKillMs: number;
}

const dist = process.env.BKB_PROBE_DIST;
const fixtures = process.env.BKB_PROBE_FIXTURES;
const iterations = Number(process.env.BKB_PROBE_ITERATIONS ?? "200");
if (!dist || !fixtures) throw new Error("BKB_PROBE_DIST and BKB_PROBE_FIXTURES are required");
const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(dist, path)).href)) as T;
const { ConfigWorkerPool } = await load<{ ConfigWorkerPool: typeof Pool }>("planner/config-worker-pool.js");
const { inThreadConfigWork } = await load<{ inThreadConfigWork: typeof InThreadConfigWork }>("planner/config-work.js");
const { parseRepoConfig } = await load<{ parseRepoConfig: typeof ParseRepoConfig }>("config/parse-repo-config.js");
const { DEFAULT_CONFIG_LIMITS } = await load<{ DEFAULT_CONFIG_LIMITS: ConfigLimits }>("config/config-limits.js");

const full = readFileSync(join(fixtures, "valid/full.yml"), "utf8");
const fiftyImages =
  "images:\n" +
  Array.from(
    { length: 50 },
    (_, i) =>
      `  - name: svc${i}\n    context: services/svc${i}\n    paths: [${Array.from({ length: 10 }, (_, j) => `"services/svc${i}/part${j}/**"`).join(", ")}]\n` +
      `    tags: ["{{branch}}", "sha-{{short_sha}}", "{{tag}}"]\n    push: { branches: [main, "release/*"], tags: ["v*"] }\n`,
  ).join("");
const slow = `images: [{name: app}]\nx: [${"a,".repeat(32_000)}a]\n`;
const changedFiles = Array.from({ length: 200 }, (_, i) => `services/svc${i % 60}/part${i % 12}/file${i}.ts`);
const planOf = (text: string): PlanInput => ({
  target: { kind: "branch", branch: "main" },
  sha: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
  owner: "acme",
  repoName: "shop",
  defaultBranch: "main",
  config: parseRepoConfig(text),
  registryPrefix: "registry.example/acme",
  latestAllowed: true,
  branchCheck: "main",
  changedFiles,
});

const rssBeforeBytes = process.memoryUsage().rss;
const started = performance.now();
const pool = new ConfigWorkerPool({ size: 2 });
await pool.start();
const startMs = performance.now() - started;
const rssAfterBytes = process.memoryUsage().rss;
const here = inThreadConfigWork();

const timed = async (f: () => Promise<unknown>): Promise<number> => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};

const cases: Array<{ name: string; run: (work: typeof here) => Promise<unknown> }> = [
  { name: "minimal config (1 image), read", run: (w) => w.interpret({ kind: "file", text: "images: [{name: app}]\n" }, "shop") },
  { name: "test/fixtures full.yml (2 images, every key), read", run: (w) => w.interpret({ kind: "file", text: full }, "shop") },
  { name: `50 images, 10 path globs each (${fiftyImages.length} bytes), read`, run: (w) => w.interpret({ kind: "file", text: fiftyImages }, "shop") },
  { name: "50 images × 200 changed files: path filters and tags", run: (w) => w.plan(planOf(fiftyImages)) },
];
const results: CaseResult[] = [];
for (const c of cases) {
  for (let i = 0; i < 20; i++) {
    await c.run(here);
    await c.run(pool);
  }
  const result: CaseResult = { name: c.name, inThreadMs: [], pooledMs: [] };
  for (let i = 0; i < iterations; i++) {
    result.inThreadMs.push(await timed(() => c.run(here)));
    result.pooledMs.push(await timed(() => c.run(pool)));
  }
  results.push(result);
}

/** The call's time, and the longest gap between the firings of a 1 ms timer while it ran. */
const withTicker = async (f: () => Promise<unknown>): Promise<[number, number]> => {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  await sleep(20);
  longest = 0;
  last = performance.now();
  const took = await timed(f);
  await sleep(20);
  clearInterval(ticker);
  return [took, longest];
};
const [slowHere, loopMaxInThreadMs] = await withTicker(() => here.interpret({ kind: "file", text: slow }, "shop"));
const [slowPooled, loopMaxPooledMs] = await withTicker(() => pool.interpret({ kind: "file", text: slow }, "shop"));

await pool.interpret({ kind: "file", text: slow }, "shop", { ...DEFAULT_CONFIG_LIMITS, checkTimeMs: 5 });
await pool.interpret({ kind: "file", text: slow }, "shop", { ...DEFAULT_CONFIG_LIMITS, checkTimeMs: 5 });
const afterKillMs = await timed(() => pool.interpret({ kind: "file", text: full }, "shop"));
await pool.close();

const out: ProbeResult = {
  threads: pool.size,
  startMs,
  rssBeforeBytes,
  rssAfterBytes,
  cases: results,
  slowConfig: { inThreadMs: slowHere, pooledMs: slowPooled, loopMaxInThreadMs, loopMaxPooledMs },
  afterKillMs,
};
console.log(JSON.stringify(out));
