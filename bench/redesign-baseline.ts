import { execFile, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createAppCredentials } from "../test/support/fake-github/app-credentials.js";
import { freePort } from "../test/support/stack/free-port.js";
import { startRedis } from "../test/support/stack/redis.js";
import { pushPayload } from "../test/e2e/support/payloads.js";
import { runRate, SHA_PLACEHOLDER, waitForPing } from "./ingest.js";
import { benchDaemons } from "./support/bench-daemon.js";
import type { BenchDaemon } from "./support/bench-daemon.js";
import type { Benchmark, BenchContext, BenchResult, GoalResult } from "./support/benchmark.js";
import { compileApp, productionNodeFlags, startCompiledApp } from "./support/compiled-app.js";
import type { CompiledApp } from "./support/compiled-app.js";
import { describeSpread, pairedRatios, percentile, spread } from "./support/stats.js";
import type { Spread } from "./support/stats.js";
import { ratio } from "./support/table.js";
import type { Table } from "./support/table.js";
import { buildTimeline, serialRoundTrips } from "./support/build-timeline.js";
import type { BuildTimeline } from "./support/build-timeline.js";
import { startBenchWorld } from "./support/world.js";
import type { BenchWorld } from "./support/world.js";

/**
 * Issue 16 point 7: the app's start-up and the bot's hot path must not get slower than before the redesign. The
 * pre-redesign commit is taken out of git into a scratch directory and compiled with its own tsconfig.build.json
 * (its library is plain relative imports, its protos loaded at run time), the current tree as the other benches
 * compile it; both run the same way (compiled, the Dockerfile's node flags, NODE_ENV=production, the same env).
 * Three sides take turns in every round, in rotating order: the baseline, the redesign, and the baseline again,
 * whose ratio to the baseline is the noise of this method on this machine (A/A).
 */

const BASELINE = "3ddb5c1";
const RATE = 200;
/** As in the build-start benchmark: a build makes ~5 GitHub writes and the app allows 60 a minute. */
const PUSH_SPACING_MS = 6_000;
/** "Not slower": redesign/baseline at most this, or at most the A/A ratio's distance from 1 when that is wider. */
const GOAL_RATIO = 1.05;
/** Every side takes every position once in three rounds. */
const ORDERS = [
  [0, 1, 2],
  [1, 2, 0],
  [2, 0, 1],
] as const;
const REPO = resolve(fileURLToPath(new URL("..", import.meta.url)));
const run = promisify(execFile);

interface Side {
  label: string;
  main: string;
  /** The compiled package root, the app's working directory in the start-up runs. */
  root: string;
}

interface IngestRun {
  p50: number;
  p99: number;
  cpu: number;
  errors: number;
  n: number;
}

/** One side's samples: start-up per role (in the order measured), one ingest run per round, webhook → solve starts. */
interface Measured {
  start: number[][];
  ingest: IngestRun[];
  solve: SolveRun[];
}

/** One build's timeline, with the planner's event job (processing → finished) and the worker's build job (processing → solve starts). */
type SolveRun = BuildTimeline & { planningMs: number; workerMs: number };

/** `git archive` of the baseline, linked to this checkout's node_modules, its protos' types generated, compiled. */
async function compileBaseline(scratch: string): Promise<string> {
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  await run("bash", ["-c", 'set -o pipefail; git -C "$1" archive "$2" | tar -x -C "$3"', "archive", REPO, BASELINE, scratch]);
  await symlink(join(REPO, "node_modules"), join(scratch, "node_modules"));
  await run("npm", ["run", "--silent", "proto:gen"], { cwd: scratch });
  const tsc = join(REPO, "node_modules/typescript/bin/tsc");
  await run(process.execPath, [tsc, "-p", join(scratch, "tsconfig.build.json"), "--sourceMap", "false", "--declaration", "false"], { cwd: scratch, maxBuffer: 16 * 1024 * 1024 });
  return join(scratch, "dist/app/main.js");
}

/** `warmups` discarded rounds, then `rounds` rounds of `each(side)` for the three sides; samples[side][round]. */
async function rotate<T>(rounds: number, warmups: number, each: (side: number) => Promise<T>): Promise<T[][]> {
  const samples: T[][] = [[], [], []];
  for (let i = -warmups; i < rounds; i++) {
    for (const s of ORDERS[(i + warmups) % ORDERS.length] ?? ORDERS[0]) {
      const v = await each(s);
      if (i >= 0) samples[s]?.push(v);
    }
  }
  return samples;
}

/** Spawn → first answered /ping, then SIGTERM and wait for the exit. */
async function timeToPing(side: Side, flags: string[], env: NodeJS.ProcessEnv, log: string): Promise<number> {
  const fd = openSync(log, "a");
  const started = performance.now();
  const child = spawn(process.execPath, [...flags, side.main], { cwd: side.root, env, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${env.PORT}/ping`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return performance.now() - started;
      if (child.exitCode !== null || Date.now() > deadline) {
        const tail = (await readFile(log, "utf8").catch(() => "")).slice(-2000);
        throw new Error(`${side.label} ${child.exitCode !== null ? `exited ${child.exitCode}` : "did not answer /ping within 60 s"}:\n${tail}`);
      }
      await sleep(5);
    }
  } finally {
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(30_000).then(() => child.kill("SIGKILL"))]);
  }
}

/**
 * Webhook → solve starts (the build-start benchmark's measure: the signed push leaving → the worker's in_progress
 * update, sent in the same tick as the solve) with an idle worker, one e2e world per side (its own fake GitHub, git
 * server, Redis and app, role all) on `daemon`.
 */
async function solveStarts(daemon: BenchDaemon, sides: Side[], flags: string[], rounds: number): Promise<SolveRun[][]> {
  const worlds: BenchWorld[] = [];
  try {
    for (const [s, side] of sides.entries()) {
      worlds.push(await startBenchWorld(daemon, { name: `bench-baseline-${s}`, env: { NODE_ENV: "production" }, app: { args: [...flags, side.main], cwd: side.root } }));
    }
    for (const w of worlds) w.e2e.github.delayMs = 0;
    const repos = await Promise.all(worlds.map((w) => w.e2e.createRepo("start", { "a.txt": "0\n" })));
    const lastPushAt = sides.map(() => 0);
    let n = 0;
    return await rotate(rounds, 1, async (s) => {
      const world = worlds[s];
      const repo = repos[s];
      if (!world || !repo) throw new Error(`no world for side ${s}`);
      await sleep(Math.max(0, (lastPushAt[s] ?? 0) + PUSH_SPACING_MS - Date.now()));
      lastPushAt[s] = Date.now();
      const pushed = await world.push(repo, { Dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": `${n++}\n` });
      const run = await world.e2e.completedCheckRun(repo, pushed.sha, "buildkit-bot / start", 120_000);
      if (run.conclusion !== "success") throw new Error(`${sides[s]?.label}: build ended ${run.conclusion}: ${run.output.title}\n${run.output.summary}`);
      await world.e2e.finalStatus(repo, pushed.sha, "start");
      const t = await buildTimeline(world, pushed);
      const { event, build } = await world.jobs(pushed.sha);
      const planningMs = event?.finishedOn !== undefined && event.processedOn !== undefined ? event.finishedOn - event.processedOn : Number.NaN;
      return { ...t, planningMs, workerMs: build?.processedOn !== undefined ? t.solveStartAt - build.processedOn : Number.NaN };
    });
  } finally {
    for (const w of worlds) await w.close();
  }
}

export const redesignBaseline: Benchmark = {
  name: "baseline",
  title: `10. The redesign against its baseline (${BASELINE}): app start-up, webhook ingest, webhook → solve starts`,
  async run(ctx: BenchContext): Promise<BenchResult> {
    const startRounds = ctx.quick ? 3 : 15;
    const ingestRounds = ctx.quick ? 3 : 6;
    const seconds = ctx.quick ? 5 : 20;
    const solveRounds = ctx.quick ? 3 : 15;
    const daemon = (await benchDaemons(ctx.stack))[0];
    if (!daemon) throw new Error("the baseline benchmark needs a daemon from the stack");
    const head = (await run("git", ["-C", REPO, "rev-parse", "--short", "HEAD"])).stdout.trim();
    ctx.log(`baseline: compiling ${BASELINE} and the working tree (HEAD ${head})`);
    const baselineMain = await compileBaseline(join(ctx.root, "bench", "baseline-old"));
    const redesignMain = await compileApp(join(ctx.root, "bench", "baseline-new"));
    const baseline: Side = { label: `baseline ${BASELINE}`, main: baselineMain, root: join(baselineMain, "../../..") };
    const sides: Side[] = [baseline, { label: `redesign ${head}`, main: redesignMain, root: join(redesignMain, "../../..") }, { ...baseline, label: "baseline again (A/A)" }];
    const flags = await productionNodeFlags();

    const dir = await mkdtemp(join(tmpdir(), "bkb-bench-baseline-"));
    const redises = await Promise.all(sides.map((_, s) => startRedis({ dir: join(dir, `redis-${s}`) })));
    try {
      const creds = createAppCredentials(7003);
      const keyFile = join(dir, "github-app-private-key");
      await writeFile(keyFile, creds.privateKeyPem, { mode: 0o400 });
      const secret = "whsec-bench-baseline";
      await mkdir(join(dir, "logs"), { recursive: true });
      // docker-compose.yml's environment for the app (LOG_LEVEL and LOG_FORMAT unset, as there); each side its own Redis.
      const env = (s: number, role: string, port: number): NodeJS.ProcessEnv => ({
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: "production",
        APP_ID: String(creds.appId),
        PRIVATE_KEY_PATH: keyFile,
        WEBHOOK_SECRET: secret,
        HOST: "127.0.0.1",
        PORT: String(port),
        BUILDKIT_BOT_ROLE: role,
        BUILDKIT_BOT_REDIS_URL: redises[s]?.url,
        BUILDKIT_BOT_REGISTRY: `${ctx.stack.registry}/bench-baseline-${s}`,
        BUILDKIT_HOST: ctx.stack.buildkitAddr,
        BUILDKIT_BOT_QUEUE_PREFIX: `bench-baseline-${role}`,
        BUILDKIT_BOT_PUBLIC_URL: "https://buildkit-bot.bench.invalid",
      });

      const startUp: Array<{ role: string; samples: number[][] }> = [];
      for (const role of ["web", "all"]) {
        ctx.log(`baseline: start-up, role ${role}: 1 discarded round + ${startRounds} rounds of the three sides`);
        const samples = await rotate(startRounds, 1, async (s) => timeToPing(sides[s] as Side, flags, env(s, role, await freePort()), join(dir, "logs", `start-${s}-${role}.log`)));
        startUp.push({ role, samples });
      }

      ctx.log(`baseline: ingest at ${RATE}/s, ${ingestRounds} rounds of ${seconds} s per side`);
      const apps: Array<{ app: CompiledApp; url: string }> = [];
      try {
        for (const [s, side] of sides.entries()) {
          const port = await freePort();
          apps.push({ app: await startCompiledApp(side.main, env(s, "web", port), join(dir, "logs"), `ingest-${s}`), url: `http://127.0.0.1:${port}` });
          await waitForPing(`http://127.0.0.1:${port}/ping`);
        }
        const repo = { installationId: 4100, repoId: 900_002, owner: "bench", name: "baseline", private: true, defaultBranch: "main" };
        const template = JSON.stringify(pushPayload(repo, { ref: "refs/heads/main", before: "e".repeat(40), after: SHA_PLACEHOLDER, files: ["Dockerfile"] }));
        for (const { app, url } of apps) await runRate(url, app.pid, secret, template, 10, 3);
        const ingest = await rotate(ingestRounds, 0, async (s): Promise<IngestRun> => {
          const a = apps[s];
          if (!a) throw new Error(`no app for side ${s}`);
          const r = await runRate(a.url, a.app.pid, secret, template, RATE, seconds);
          await sleep(2_000);
          return { p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99), cpu: r.cpuPerResponseUs, errors: r.errors, n: r.latencies.length };
        });

        for (const { app } of apps.splice(0)) await app.stop();

        ctx.log(`baseline: webhook → solve starts on ${daemon.name}: 1 discarded round + ${solveRounds} rounds, pushes ${PUSH_SPACING_MS / 1000} s apart per app`);
        const solve = await solveStarts(daemon, sides, flags, solveRounds);
        const [a, b, aa] = [0, 1, 2].map((s) => ({ start: startUp.map((x) => x.samples[s] ?? []), ingest: ingest[s] ?? [], solve: solve[s] ?? [] })) as [Measured, Measured, Measured];
        const compare = (pick: (x: Measured) => number[]) => ({ q: pairedRatios(pick(a), pick(b)), noise: pairedRatios(pick(a), pick(aa)) });
        const limit = (noise: Spread) => Math.max(GOAL_RATIO, noise.median, 1 / noise.median);
        const withRange = (r: Spread) => `${ratio(r.median)} (${ratio(r.min)}–${ratio(r.max)})`;
        const rows: Array<{ label: string; unit: string; digits: number; pick: (x: Measured) => number[]; goal?: false }> = [
          ...startUp.map((x, i) => ({ label: `start-up, role ${x.role} (spawn → /ping)`, unit: "ms", digits: 0, pick: (y: Measured) => y.start[i] ?? [] })),
          { label: `ingest ${RATE}/s: p50 latency`, unit: "ms", digits: 2, pick: (y: Measured) => y.ingest.map((r) => r.p50) },
          { label: `ingest ${RATE}/s: p99 latency`, unit: "ms", digits: 2, pick: (y: Measured) => y.ingest.map((r) => r.p99) },
          { label: `ingest ${RATE}/s: app CPU per response`, unit: "µs", digits: 0, pick: (y: Measured) => y.ingest.map((r) => r.cpu) },
          { label: `webhook → solve starts (role all, ${daemon.name})`, unit: "ms", digits: 0, pick: (y: Measured) => y.solve.map((t) => t.startLatencyMs) },
          { label: "  of which: webhook 2xx", unit: "ms", digits: 0, pick: (y: Measured) => y.solve.map((t) => t.ackMs), goal: false },
          { label: "  of which: queue waits (event + build job)", unit: "ms", digits: 0, pick: (y: Measured) => y.solve.map((t) => t.queueWaitMs), goal: false },
          { label: "  of which: the planner's event job (processing → done)", unit: "ms", digits: 0, pick: (y: Measured) => y.solve.map((t) => t.planningMs), goal: false },
          { label: "  of which: the worker's build job (processing → solve starts)", unit: "ms", digits: 0, pick: (y: Measured) => y.solve.map((t) => t.workerMs), goal: false },
          { label: "  GitHub calls waited for before the solve (serial)", unit: "round trips", digits: 0, pick: (y: Measured) => y.solve.map((t) => serialRoundTrips(t.calls.filter((c) => c.end <= t.solveStartAt))), goal: false },
        ];
        const table: Table = {
          title: `Medians over the rounds (range in brackets); ratios are medians of each round's ratio (start-up: ${startRounds} rounds; ingest: ${ingestRounds} rounds of ${seconds} s per side; solve starts: ${solveRounds} rounds)`,
          columns: ["case", sides[0]?.label ?? "", sides[1]?.label ?? "", sides[2]?.label ?? "", "redesign/baseline", "A/A: baseline again/baseline"],
          rows: rows.map((r) => {
            const { q, noise } = compare(r.pick);
            return [r.label, ...[a, b, aa].map((x) => describeSpread(spread(r.pick(x)), r.unit, r.digits)), withRange(q), withRange(noise)];
          }),
        };
        const goals: GoalResult[] = rows.filter((r) => r.goal !== false).map((r) => {
          const { q, noise } = compare(r.pick);
          return {
            goal: `${r.label}: redesign/baseline ≤ ${limit(noise).toFixed(3)} (${GOAL_RATIO}, or the A/A noise when wider)`,
            measured: `${ratio(q.median)} median over ${q.n} rounds (A/A ${ratio(noise.median)})`,
            met: q.median <= limit(noise),
          };
        });
        const errors = [a, b, aa].map((x) => x.ingest.reduce((t, r) => t + r.errors, 0));
        const answered = [a, b, aa].map((x) => x.ingest.reduce((t, r) => t + r.n, 0));
        goals.push({ goal: `ingest ${RATE}/s: no errors on either side`, measured: `${errors.join(" / ")} errors in ${answered.join(" / ")} responses`, met: errors.every((e) => e === 0) });
        return {
          tables: [table],
          goals,
          notes: [
            `Baseline = commit ${BASELINE} (before the redesign of issue 16), taken with \`git archive\` into a scratch directory, linked to this checkout's node_modules (its dependencies are a subset of today's, same versions), \`npm run proto:gen\` and \`tsc -p tsconfig.build.json\` there: its library is compiled in with the app and loads proto/ at run time. Redesign = the working tree at HEAD ${head}, compiled as the other benches compile it (the library package built on its own and linked).`,
            `Both run as production runs them: \`node ${flags.join(" ")} dist/app/main.js\` (the Dockerfile's CMD, the same at both commits), NODE_ENV=production, the same environment (the config variables did not change), LOG_LEVEL and LOG_FORMAT unset, output to a file; each side has its own redis-server.`,
            "Start-up: spawn → first answered GET /ping (polled every 5 ms), then SIGTERM; role web (webhooks only) and role all (web, planner and build worker in one process; /ping answers once the HTTP server listens). One discarded round first.",
            `Hot path: signed push deliveries at ${RATE}/s to the web role (workers off), every one with its own delivery id, head sha and signature (the ingest benchmark's load generator, autocannon in the bench process); latency = request written → response complete; CPU = the app process's user + system time over the run ÷ responses. The three apps run side by side, one measured at a time, 2 s apart; a 3 s warm-up at 10/s each first.`,
            "Rounds rotate the order of the three sides, so every side takes every position equally often. \"Baseline again\" is the same baseline compiled code (for ingest: a second baseline process): its ratio to the baseline is what this method reports for no change at all, and widens the 1.05 goal when it is wider.",
            `Webhook → solve starts: the build-start benchmark's measure (the signed push leaving the fake GitHub's sender → the worker's in_progress check-run update reaching a timing proxy; both commits send it in the same tick as the Solve RPC), each side in its own end-to-end world (fake GitHub at 0 ms delay, git server, Redis, the compiled app with role all, NODE_ENV=production) on ${daemon.name}; a \`FROM scratch\` + \`COPY\` build per push, the next push after its final status, so the worker is idle; pushes to one app at least ${PUSH_SPACING_MS / 1000} s apart (the app's GitHub write budget).`,
          ],
        };
      } finally {
        for (const { app } of apps) await app.stop();
      }
    } finally {
      for (const r of redises) await r.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
