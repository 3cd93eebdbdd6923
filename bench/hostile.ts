import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { prepareBattery, warmUp } from "../test/e2e/support/hostile-battery.js";
import type { CaseOutcome } from "../test/e2e/support/hostile-battery.js";
import { PingLoop } from "../test/e2e/support/ping-loop.js";
import type { PingSample } from "../test/e2e/support/ping-loop.js";
import { BAD_SIGNATURE, filler, rawPost, webhookHeaders } from "../test/support/raw-post.js";
import type { RawAnswer } from "../test/support/raw-post.js";
import type { Benchmark, BenchContext, BenchResult, GoalResult } from "./support/benchmark.js";
import { startHostileWorld } from "./support/hostile-world.js";
import type { HostileWorld } from "./support/hostile-world.js";
import type { LoopProbeWindow } from "./support/loop-probe.js";
import { startPingWorker } from "./support/ping-worker.js";
import { RssSampler } from "./support/rss-sampler.js";
import { median, percentile } from "./support/stats.js";
import { ms } from "./support/table.js";

/**
 * Issue 14 item 7: the hostile-input battery (test/e2e/support/hostile-battery.ts) as real deliveries to the app
 * compiled and run as production runs it (role `all`, real Redis, the fake GitHub, the git server), with a signed
 * `ping` every 50 ms from a worker thread. An event-loop probe preloaded into the app (support/loop-probe.ts,
 * monitorEventLoopDelay) reports the lag per window; RSS comes from /proc. Then, separately, the time to refuse a
 * 100 MB unsigned POST, seen from the client.
 * BKB_BENCH_HOSTILE_CPU_PROF=DIR writes the app's CPU profile (--cpu-prof) there when it exits.
 */

const GOAL_LAG_P99_MS = 50;
const GOAL_LAG_MAX_MS = 200;
const GOAL_RSS_GROWTH_MB = 100;
const GOAL_REFUSAL_MS = 50;
/**
 * "No growth in memory": the RSS after the last refusal within this of the RSS after the first. The first one
 * leaves what the app read and discarded after answering (the few MB the client had already sent) with the
 * allocator; later ones reuse it instead of adding to it.
 */
const GOAL_REFUSAL_RESIDUAL_MB = 5;
const MiB = 1024 * 1024;
const REFUSED_BYTES = 100 * MiB;
const PING_INTERVAL_MS = 50;

interface Window {
  label: string;
  durationMs: number;
  loop: LoopProbeWindow;
  pings: PingSample[];
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  /** How the peak was read: the kernel's high-water mark reset at the window's start, or sampling. */
  peakMethod: string;
  /** The app's minor page faults and CPU time during the window. */
  minorFaults: number;
  cpuMs: number;
}

const vmKb = (pid: number, field: "VmRSS" | "VmHWM"): number =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
const rssMb = (pid: number): number => (vmKb(pid, "VmRSS") * 1024) / 1e6;

/** Minor page faults and CPU time (user + system, ms) of `pid` so far, from /proc/<pid>/stat. */
function procCounters(pid: number): { minorFaults: number; cpuMs: number } {
  // Fields after the command name (which may hold spaces) start at field 3 (state).
  const rest = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ").at(-1)!.split(" ");
  const field = (n: number) => Number(rest[n - 3]);
  return { minorFaults: field(10), cpuMs: ((field(14) + field(15)) * 1000) / CLOCK_TICKS_PER_SECOND };
}
/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Resets the kernel's peak-RSS mark of `pid` to its current RSS (Linux ≥ 4.0, `echo 5 > clear_refs`); false if not allowed. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Runs `work` as one measured window: probe window, RSS before/peak/after, pings from a worker thread. */
async function measure(world: HostileWorld, label: string, settleMs: number, work: () => Promise<void>): Promise<Window> {
  await world.probeWindow();
  const reset = resetPeak(world.pid);
  const rssBeforeMb = rssMb(world.pid);
  const counters = procCounters(world.pid);
  const sampler = new RssSampler(world.pid, 20);
  const pings = await startPingWorker(world.hookUrl, world.secret, PING_INTERVAL_MS);
  const started = performance.now();
  let durationMs = 0;
  let samples: PingSample[] = [];
  try {
    await work();
    durationMs = performance.now() - started;
  } finally {
    samples = await pings.stop();
  }
  const loop = await world.probeWindow();
  const rssPeakMb = sampler.stop();
  const countersAfter = procCounters(world.pid);
  await sleep(settleMs);
  return {
    label,
    durationMs,
    loop,
    pings: samples,
    rssBeforeMb,
    rssPeakMb,
    rssAfterMb: rssMb(world.pid),
    minorFaults: countersAfter.minorFaults - counters.minorFaults,
    cpuMs: countersAfter.cpuMs - counters.cpuMs,
    peakMethod: reset ? "VmHWM reset at the window's start (and VmRSS sampled every 20 ms)" : "VmRSS sampled every 20 ms (clear_refs not allowed)",
  };
}

interface CaseWindow {
  name: string;
  durationMs: number;
  loop: LoopProbeWindow;
  /** Peak RSS during the case minus RSS before it. */
  growthMb: number;
  minorFaults: number;
  cpuMs: number;
  ok: boolean;
}

const ok2xx = (s: PingSample) => s.status >= 200 && s.status < 300;
const mb = (v: number) => `${v.toFixed(1)} MB`;
const signedMb = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(1)} MB`;

export const hostile: Benchmark = {
  name: "hostile",
  title: "7. Hostile-input battery: event-loop lag, memory, ping latency, 100 MB refusal",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const idleSeconds = ctx.quick ? 5 : 15;
    const refusals = ctx.quick ? 5 : 10;
    const profileDir = process.env.BKB_BENCH_HOSTILE_CPU_PROF;
    ctx.log("hostile: compiling the app and starting its world (Redis, git server, fake GitHub)");
    const world = await startHostileWorld({
      scratch: join(ctx.root, "bench", "hostile-app"),
      buildkitAddr: ctx.stack.buildkitdAddr ?? ctx.stack.buildkitAddr,
      registry: ctx.stack.registry,
      ...(profileDir ? { nodeOptions: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {}),
    });
    try {
      ctx.log("hostile: creating the battery's repositories and bodies (5,000 commits included), twice: all at once, then one by one");
      const battery = await prepareBattery(world);
      const oneByOne = await prepareBattery(world);
      ctx.log(`hostile: ${battery.names.length} cases prepared; warming up (a plain push planned, one refusal, pings)`);
      const warm = new PingLoop(world.hookUrl, world.secret, PING_INTERVAL_MS);
      warm.start();
      await warmUp(world);
      await rawPost(world.hookUrl, webhookHeaders("push", BAD_SIGNATURE, { "content-length": String(REFUSED_BYTES) }), filler(MiB));
      await sleep(2_000);
      await warm.stop();

      ctx.log(`hostile: idle window, ${idleSeconds} s of pings only`);
      const idle = await measure(world, "idle: pings only", 1_000, () => sleep(idleSeconds * 1_000));

      ctx.log(`hostile: ${refusals} × 100 MB unsigned POST with Content-Length, then 3 chunked`);
      const declared: RawAnswer[] = [];
      const chunked: RawAnswer[] = [];
      /** The app's RSS 200 ms after each declared-length refusal. */
      const rssAfterEach: number[] = [];
      const refusalWindow = await measure(world, `${refusals} × 100 MB unsigned POST, Content-Length declared`, 2_000, async () => {
        for (let i = 0; i < refusals; i++) {
          declared.push(await rawPost(world.hookUrl, webhookHeaders("push", BAD_SIGNATURE, { "content-length": String(REFUSED_BYTES) }), filler(REFUSED_BYTES)));
          await sleep(200);
          rssAfterEach.push(rssMb(world.pid));
        }
      });
      const chunkedWindow = await measure(world, "3 × 100 MB unsigned POST, chunked (no length)", 2_000, async () => {
        for (let i = 0; i < 3; i++) {
          chunked.push(await rawPost(world.hookUrl, webhookHeaders("push", BAD_SIGNATURE), filler(REFUSED_BYTES)));
          await sleep(200);
        }
      });

      ctx.log("hostile: the battery, all lanes at once, with a ping every 50 ms");
      let outcomes: CaseOutcome[] = [];
      const during = await measure(world, "the battery, all cases at once", 5_000, async () => {
        outcomes = await battery.run({ outcomeTimeoutMs: 240_000 });
      });

      ctx.log("hostile: each case alone (a second set of repositories), pings going on");
      const alone: CaseWindow[] = [];
      const pings = await startPingWorker(world.hookUrl, world.secret, PING_INTERVAL_MS);
      let aloneOutcomes: CaseOutcome[] = [];
      try {
        aloneOutcomes = await oneByOne.runEach(async (name, go) => {
          await sleep(300);
          await world.probeWindow();
          const reset = resetPeak(world.pid);
          const before = rssMb(world.pid);
          const counters = procCounters(world.pid);
          const started = performance.now();
          const got = await go();
          const durationMs = performance.now() - started;
          const loop = await world.probeWindow();
          const countersAfter = procCounters(world.pid);
          const peak = reset ? (vmKb(world.pid, "VmHWM") * 1024) / 1e6 : Number.NaN;
          alone.push({
            name,
            durationMs,
            loop,
            growthMb: peak - before,
            minorFaults: countersAfter.minorFaults - counters.minorFaults,
            cpuMs: countersAfter.cpuMs - counters.cpuMs,
            ok: got.every((o) => o.ok),
          });
        });
      } finally {
        await pings.stop();
      }
      return report({ idle, during, refusalWindow, chunkedWindow, rssAfterEach, outcomes, aloneOutcomes, alone, declared, chunked, cases: battery.names.length, profileDir });
    } finally {
      await world.close();
    }
  },
};

function report(r: {
  idle: Window;
  during: Window;
  refusalWindow: Window;
  chunkedWindow: Window;
  rssAfterEach: number[];
  outcomes: CaseOutcome[];
  aloneOutcomes: CaseOutcome[];
  alone: CaseWindow[];
  declared: RawAnswer[];
  chunked: RawAnswer[];
  cases: number;
  profileDir: string | undefined;
}): BenchResult {
  const { during } = r;
  const windows = [r.idle, r.refusalWindow, r.chunkedWindow, during];
  const pingStats = (w: Window) => {
    const lat = w.pings.filter(ok2xx).map((s) => s.latencyMs);
    return { sent: w.pings.length, ok: lat.length, non2xx: w.pings.length - lat.length, p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat.length ? Math.max(...lat) : Number.NaN };
  };
  const growth = during.rssPeakMb - during.rssBeforeMb;
  const refusalTimes = r.declared.map((a) => a.answeredAfterMs);
  const refusalMax = Math.max(...refusalTimes);
  const refusalResidual = r.refusalWindow.rssAfterMb - r.refusalWindow.rssBeforeMb;
  const accumulated = (r.rssAfterEach.at(-1) ?? Number.NaN) - (r.rssAfterEach[0] ?? Number.NaN);
  const failed = r.outcomes.filter((o) => !o.ok);
  const duringPings = pingStats(during);
  const goals: GoalResult[] = [
    {
      goal: `event-loop lag p99 ≤ ${GOAL_LAG_P99_MS} ms under the battery`,
      measured: `${during.loop.lagP99Ms.toFixed(1)} ms (idle: ${r.idle.loop.lagP99Ms.toFixed(1)} ms)`,
      met: during.loop.lagP99Ms <= GOAL_LAG_P99_MS,
    },
    {
      goal: `event-loop lag max ≤ ${GOAL_LAG_MAX_MS} ms under the battery`,
      measured: `${during.loop.lagMaxMs.toFixed(1)} ms (idle: ${r.idle.loop.lagMaxMs.toFixed(1)} ms)`,
      met: during.loop.lagMaxMs <= GOAL_LAG_MAX_MS,
    },
    {
      goal: `RSS growth ≤ ${GOAL_RSS_GROWTH_MB} MB under the battery (peak − before)`,
      measured: `${signedMb(growth)} (${mb(during.rssBeforeMb)} → peak ${mb(during.rssPeakMb)}; ${mb(during.rssAfterMb)} 5 s after)`,
      met: growth <= GOAL_RSS_GROWTH_MB,
    },
    {
      goal: `100 MB unsigned POST refused in < ${GOAL_REFUSAL_MS} ms (request start → 413 received, every one of ${refusalTimes.length})`,
      measured: `median ${median(refusalTimes).toFixed(1)} ms, max ${refusalMax.toFixed(1)} ms; statuses ${[...new Set(r.declared.map((a) => a.status))].join(", ")}`,
      met: refusalMax < GOAL_REFUSAL_MS && r.declared.every((a) => a.status === 413),
    },
    {
      goal: `no memory growth from the refusals: RSS after the last of the ${r.rssAfterEach.length} within ${GOAL_REFUSAL_RESIDUAL_MB} MB of RSS after the first (refusals do not add up)`,
      measured: `${signedMb(accumulated)} (after each: ${r.rssAfterEach.map((v) => v.toFixed(1)).join(", ")} MB); the first one took the app from ${mb(r.refusalWindow.rssBeforeMb)} to ${mb(r.rssAfterEach[0] ?? Number.NaN)}, ${mb(r.refusalWindow.rssAfterMb)} 2 s after the last (${signedMb(refusalResidual)}), peak ${mb(r.refusalWindow.rssPeakMb)}`,
      met: accumulated <= GOAL_REFUSAL_RESIDUAL_MB,
    },
    {
      goal: "every ping during the battery answered 2xx",
      measured: `${duringPings.ok} of ${duringPings.sent}; p50 ${duringPings.p50.toFixed(1)} ms, p99 ${duringPings.p99.toFixed(1)} ms, max ${duringPings.max.toFixed(1)} ms`,
      met: duringPings.non2xx === 0 && duringPings.sent > 0,
    },
    {
      goal: `every one of the ${r.cases} hostile cases ends in its expected outcome, all at once and one by one`,
      measured: failed.length === 0 ? `${r.outcomes.length} of ${r.cases} at once, ${r.aloneOutcomes.filter((o) => o.ok).length} of ${r.cases} one by one` : `${r.outcomes.length - failed.length} of ${r.cases}; not: ${failed.map((o) => `${o.name} (${o.got})`).join("; ")}`,
      met: failed.length === 0 && r.outcomes.length === r.cases && r.aloneOutcomes.length === r.cases && r.aloneOutcomes.every((o) => o.ok),
    },
  ];
  return {
    tables: [
      {
        title: `The app's event loop, memory and a signed ping every ${PING_INTERVAL_MS} ms, per window (lag = monitorEventLoopDelay in the app, resolution excluded)`,
        columns: ["window", "duration", "lag p50", "lag p99", "lag max", "lag mean", "app CPU", "pings 2xx / sent", "ping p50", "ping p99", "ping max", "RSS before", "RSS peak", "RSS after"],
        rows: windows.map((w) => {
          const p = pingStats(w);
          return [
            w.label,
            `${(w.durationMs / 1000).toFixed(1)} s`,
            ms(w.loop.lagP50Ms, 1),
            ms(w.loop.lagP99Ms, 1),
            ms(w.loop.lagMaxMs, 1),
            ms(w.loop.lagMeanMs, 1),
            ms(w.cpuMs),
            `${p.ok} / ${p.sent}`,
            ms(p.p50, 1),
            ms(p.p99, 1),
            ms(p.max, 1),
            mb(w.rssBeforeMb),
            mb(w.rssPeakMb),
            mb(w.rssAfterMb),
          ];
        }),
      },
      {
        title: "100 MB unsigned POST, client-side: request start → response headers",
        columns: ["body", "requests", "statuses", "median", "max", "client bytes sent (median)"],
        rows: [
          ["Content-Length: 104857600", r.declared],
          ["chunked, no length", r.chunked],
        ].map(([label, answers]) => {
          const list = answers as RawAnswer[];
          const times = list.map((a) => a.answeredAfterMs);
          return [
            label as string,
            String(list.length),
            [...new Set(list.map((a) => a.status))].join(", "),
            ms(median(times), 1),
            ms(Math.max(...times), 1),
            `${(median(list.map((a) => a.bytesSent)) / MiB).toFixed(1)} MiB`,
          ];
        }),
      },
      {
        title: "Each case alone (sent, then its outcome awaited; pings going on): the app's event-loop lag and RSS growth during it, worst first",
        columns: ["case", "duration", "lag max", "lag p99", "app CPU", "minor page faults", "RSS peak − before", "outcome met"],
        rows: [...r.alone]
          .sort((a, b) => b.loop.lagMaxMs - a.loop.lagMaxMs)
          .map((c) => [
            c.name,
            `${(c.durationMs / 1000).toFixed(1)} s`,
            ms(c.loop.lagMaxMs, 1),
            ms(c.loop.lagP99Ms, 1),
            ms(c.cpuMs),
            c.minorFaults.toLocaleString("en"),
            signedMb(c.growthMb),
            c.ok ? "yes" : "**no**",
          ]),
      },
      {
        title: `The battery's ${r.cases} cases (all at once) and what each ended in`,
        columns: ["case", "expected", "got", "met"],
        rows: r.outcomes.map((o) => [o.name, o.expected, o.got.replaceAll("|", "\\|"), o.ok ? "yes" : "**no**"]),
      },
    ],
    goals,
    notes: [
      "The app runs as production runs it: compiled with tsconfig.build.json, the Dockerfile's node flags, NODE_ENV=production, default log level, BUILDKIT_BOT_ROLE=all (web, planner and build worker in one process), against a private redis-server, the local git server and the fake GitHub (as a GitHub Enterprise host), all on this machine; no case reaches BuildKit (every push is either refused, a config failure or skipped by its path filter).",
      `Event-loop lag: a preload in the app (bench/support/loop-probe.ts, through NODE_OPTIONS=--import) runs \`monitorEventLoopDelay({ resolution: 10 })\` and reports each window on SIGUSR2. The histogram records the time between its 10 ms timer's firings (an idle loop records ≈ 10.2 ms), so lag = recorded − 10 ms. Percentiles are the histogram's own.`,
      `Pings: a signed \`ping\` delivery every ${PING_INTERVAL_MS} ms from a worker thread of the bench process (its own event loop, so the bench's work — the fake GitHub, the bodies it streams — does not delay them), sent whether or not the previous one was answered; latency = request start → response complete.`,
      "Order: a warm-up (a plain push planned and reported, one refusal, 2 s of pings: one-off work such as code loaded and the config schema compiled on first use is not counted), the idle window, the refusals, the battery with all cases at once, then each case alone against a second set of repositories (after 300 ms of quiet, in the battery's order).",
      `RSS: /proc/<pid>/status; the peak is ${during.peakMethod}. "before" is taken at the window's start, "after" once the window has settled (1 s idle, 2 s refusals, 5 s battery); the chunked refusals, which read 25 MiB each by design, have a window of their own so they do not count against the declared-length refusals' memory goal. "RSS peak − before" of a case alone is its VmHWM (reset at its start) minus its VmRSS at its start.`,
      "The battery: three lanes at once — (1) bodies: 100 MB unsigned with Content-Length, 100 MB unsigned chunked, two signed 25,000,000-byte pushes, a signed 26 MiB push, eight unsigned 20 MiB bodies at once, a bad signature, a signed non-JSON body, six signed payloads of the wrong shape; (2) a stalled body (10 of 1,000 declared bytes, then nothing until the 10 s body timeout); (3) pushes of repositories whose `.github/buildkit-bot.yml` is each hostile config of test/config/hostile-inputs.ts (alias bomb, extglob path filter, `{{` + 3,000 spaces, 10,000 images, a 5 MB file, 100,000 nested `[`, …), `{{` + 250 spaces, 51 images, a file of exactly 65,536 bytes and one of 65,537, a file at every per-image limit, 1,000-character and 500-level changed file names against star-heavy patterns, and a push of 5,000 commits each listed in its payload. The window ends when every push's check run is there.",
      `Refusal: ${r.declared.length} sequential 100 MB POSTs with a bad signature and \`Content-Length: 104857600\`, 200 ms apart (the warm-up sent one before); timed in the bench process from \`http.request\` to the response event; each on a keep-alive connection that stops sending once answered. The chunked rows are for comparison: without a length, the app reads up to its 25 MiB limit before it can refuse.`,
      "app CPU = user + system CPU time of the app process (all its threads, the config checks' worker threads included) during the window, minor page faults = the faults it took (both from /proc/<pid>/stat): a window whose lag is much larger than its CPU time had the app waiting for a CPU (2 CPUs shared with the bench process, Redis, git and whatever else runs on the machine), not running.",
      ...(r.profileDir ? [`CPU profile of the app written to ${r.profileDir} (--cpu-prof) when it exited.`] : []),
    ],
  };
}
