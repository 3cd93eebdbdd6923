import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { DEFAULT_LIGHT_LOAD, DEFAULT_LOAD_FACTOR, chooseBuilder } from "../src/builders/choose-builder.js";
import type { BuilderCandidate } from "../src/builders/choose-builder.js";
import { FairShare } from "../src/queue/index.js";
import type { BuildClass } from "../src/queue/index.js";
import type { Benchmark, BenchContext, BenchResult, GoalResult } from "./support/benchmark.js";
import { percentile } from "./support/stats.js";
import type { Table } from "./support/table.js";

/**
 * Issue 17 point 7, "scale on paper": the choice of a builder (src/builders/choose-builder.ts) for a synthetic stream
 * of builds from 1,000 installations over 50 in-process fake builders, in simulated time (no BuildKit, no Redis).
 * The scheduler's work per build is timed for real: the candidate list as the pool builds it, the choice, and its
 * bookkeeping. Side by side, a least-loaded choice with no affinity on the same stream. Seeded: every run sees the
 * same stream. Then the fair share's Redis work per build (src/queue FairShare) against the stack's real Redis, with
 * 10 and with 1,000 installations.
 */

const INSTALLATIONS = 1_000;
const AMD_BUILDERS = 40;
const ARM_BUILDERS = 10;
const MAX_CONCURRENT = 8;
const MEAN_BUILD_SECONDS = 90;
/** Zipf exponent of key popularity in the first two tables; the third varies it. */
const ZIPF_S = 0.8;
const SKEWS = [0.6, 0.8, 1.0] as const;
const FACTOR_LOADS = [0.2, 0.5, 0.8] as const;
const LOAD_FACTORS = [1.25, 2, 4] as const;
/** chooseBuilder's lightLoad: 0 is the plain bound (the rule before it), 1 consistent hashing up to max_concurrent_builds. */
const LIGHT_LOADS = [0, DEFAULT_LIGHT_LOAD, 0.75, 1] as const;
const UTILISATIONS = [0.5, 0.8, 0.95] as const;
const GOAL_P99_MS = 2;
const AMD = "linux/amd64";
const ARM = "linux/arm64";
/** The first builds of each run fill the builders and meet every key once; they are simulated, not counted. */
const WARMUP_SHARE = 0.1;

/** mulberry32: a small seeded generator, so every run sees the same stream. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Key {
  text: string;
  platforms: string[];
}

interface Workload {
  keys: Key[];
  /** Cumulative Zipf weights over the keys, in a shuffled order of popularity. */
  cdf: Float64Array;
}

function workload(zipf: number): Workload {
  const random = generator(17);
  const keys: Key[] = [];
  for (let i = 0; i < INSTALLATIONS; i++) {
    const repos = 1 + Math.floor(random() ** 3 * 12);
    for (let r = 0; r < repos; r++) {
      const images = random() < 0.8 ? 1 : 2;
      for (let m = 0; m < images; m++) {
        const roll = random();
        const platforms = roll < 0.88 ? [AMD] : roll < 0.95 ? [ARM] : [AMD, ARM];
        keys.push({ text: `${100_000 + i}/org-${i}/repo-${r}/image-${m}`, platforms });
      }
    }
  }
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [keys[i], keys[j]] = [keys[j] as Key, keys[i] as Key];
  }
  const cdf = new Float64Array(keys.length);
  let sum = 0;
  for (let rank = 0; rank < keys.length; rank++) cdf[rank] = sum += 1 / (rank + 1) ** zipf;
  for (let rank = 0; rank < keys.length; rank++) cdf[rank] = (cdf[rank] as number) / sum;
  return { keys, cdf };
}

function pick(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((cdf[mid] as number) < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface FakeBuilder {
  name: string;
  platforms: string[];
  running: number;
}

function fakeBuilders(amd = AMD_BUILDERS, arm = ARM_BUILDERS): FakeBuilder[] {
  return [
    ...Array.from({ length: amd }, (_, i) => ({ name: `amd-${String(i).padStart(2, "0")}`, platforms: [AMD], running: 0 })),
    ...Array.from({ length: arm }, (_, i) => ({ name: `arm-${String(i).padStart(2, "0")}`, platforms: [ARM], running: 0 })),
  ];
}

/** What the pool hands the choice: one fresh object per builder, as it reads them from Redis on every choice. */
function candidatesOf(builders: readonly FakeBuilder[]): BuilderCandidate[] {
  return builders.map((b) => ({ name: b.name, platforms: b.platforms, available: true, draining: false, running: b.running, maxConcurrent: MAX_CONCURRENT }));
}

type Strategy = "affinity" | "least-loaded";

/** Answers of chooseBuilder's kinds from the least-loaded builder with room (ties: the first in list order): no affinity. */
function leastLoaded(required: readonly string[], candidates: readonly BuilderCandidate[]): ReturnType<typeof chooseBuilder> {
  const serving = (ps: readonly string[]) => candidates.filter((c) => ps.every((p) => c.platforms.includes(p)) && c.running < (c.maxConcurrent ?? Infinity));
  const least = (cs: BuilderCandidate[]) => cs.reduce<BuilderCandidate | undefined>((best, c) => (!best || c.running < best.running ? c : best), undefined);
  const whole = least(serving(required));
  if (whole) return { kind: "chosen", name: whole.name };
  if (candidates.some((c) => required.every((p) => c.platforms.includes(p)))) return { kind: "busy" };
  const byPlatform: Record<string, string> = {};
  for (const p of required) {
    const part = least(serving([p]));
    if (!part) return { kind: "busy" };
    byPlatform[p] = part.name;
  }
  return { kind: "split", byPlatform };
}

interface Job {
  key: number;
  /** Not one of the first builds of the run (those are simulated, not counted). */
  counted: boolean;
  arrivedAt: number;
  overheadNs: bigint;
  duration: number;
}

/** Completions in simulated time: a binary min-heap of (time, builders). */
class Completions {
  readonly #times: number[] = [];
  readonly #builders: number[][] = [];

  get size(): number {
    return this.#times.length;
  }

  peek(): number {
    return this.#times[0] ?? Infinity;
  }

  push(time: number, builders: number[]): void {
    this.#times.push(time);
    this.#builders.push(builders);
    let i = this.#times.length - 1;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if ((this.#times[parent] as number) <= time) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  pop(): number[] {
    const top = this.#builders[0] as number[];
    const lastTime = this.#times.pop() as number;
    const lastBuilders = this.#builders.pop() as number[];
    if (this.#times.length > 0) {
      this.#times[0] = lastTime;
      this.#builders[0] = lastBuilders;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.#times.length && (this.#times[l] as number) < (this.#times[m] as number)) m = l;
        if (r < this.#times.length && (this.#times[r] as number) < (this.#times[m] as number)) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }

  #swap(a: number, b: number): void {
    [this.#times[a], this.#times[b]] = [this.#times[b] as number, this.#times[a] as number];
    [this.#builders[a], this.#builders[b]] = [this.#builders[b] as number[], this.#builders[a] as number[]];
  }
}

interface RunResult {
  strategy: Strategy;
  loadFactor: number;
  lightLoad: number;
  utilisation: number;
  jobs: number;
  /** The amd64 builders' busy share over the counted part of the run, measured. */
  busy: number;
  overheadUs: number[];
  rebuilds: number;
  onLast: number;
  onAnyEarlier: number;
  loadRatios: number[];
  waited: number;
  waitSeconds: number[];
  splits: number;
}

function simulate(work: Workload, strategy: Strategy, utilisation: number, jobs: number, loadFactor = DEFAULT_LOAD_FACTOR, lightLoad = DEFAULT_LIGHT_LOAD): RunResult {
  const random = generator(Math.round(utilisation * 1000) + 1);
  const builders = fakeBuilders();
  const index = new Map(builders.map((b, i) => [b.name, i]));
  // amd64 builds (whole and split parts) are 93 % of builds: the arrival rate loads the amd64 builders to `utilisation`.
  const rate = (utilisation * AMD_BUILDERS * MAX_CONCURRENT) / (0.93 * MEAN_BUILD_SECONDS);
  const last: Array<readonly number[] | undefined> = new Array(work.keys.length);
  const builtOn = new Uint8Array(work.keys.length * builders.length);
  const completions = new Completions();
  const waiting: Job[] = [];
  const warmup = Math.floor(jobs * WARMUP_SHARE);
  const result: RunResult = { strategy, loadFactor, lightLoad, utilisation, jobs: jobs - warmup, busy: 0, overheadUs: [], rebuilds: 0, onLast: 0, onAnyEarlier: 0, loadRatios: [], waited: 0, waitSeconds: [], splits: 0 };
  let now = 0;
  let arrived = 0;
  let nextArrival = 0;
  let amdRunning = 0;
  let busySince: number | undefined;
  let busyArea = 0;
  const advance = (to: number): void => {
    if (busySince !== undefined) busyArea += amdRunning * (to - now);
    now = to;
  };
  const amd = (b: number): boolean => b < AMD_BUILDERS;

  // Returns whether the job got its builders; its scheduler time is added to job.overheadNs either way.
  const place = (job: Job): boolean => {
    const key = work.keys[job.key] as Key;
    const t0 = process.hrtime.bigint();
    const candidates = candidatesOf(builders);
    const choice = strategy === "affinity" ? chooseBuilder(key.text, key.platforms, candidates, { split: true, loadFactor, lightLoad }) : leastLoaded(key.platforms, candidates);
    let placed: number[] | undefined;
    if (choice.kind === "chosen") placed = [index.get(choice.name) as number];
    else if (choice.kind === "split") placed = Object.values(choice.byPlatform).map((n) => index.get(n) as number);
    else if (choice.kind === "unservable") throw new Error(`the simulation's builders serve every platform, yet ${key.platforms.join(",")} was unservable`);
    if (placed) for (const b of placed) (builders[b] as FakeBuilder).running++;
    job.overheadNs += process.hrtime.bigint() - t0;
    if (!placed) return false;
    amdRunning += placed.filter(amd).length;

    if (job.counted) {
      result.overheadUs.push(Number(job.overheadNs) / 1e3);
      if (placed.length > 1) result.splits++;
      const previous = last[job.key];
      if (previous) {
        result.rebuilds++;
        if (previous.length === placed.length && previous.every((b, i) => placed[i] === b)) result.onLast++;
        if (placed.every((b) => builtOn[job.key * builders.length + b] === 1)) result.onAnyEarlier++;
      }
      let max = 0;
      let sum = 0;
      for (let b = 0; b < AMD_BUILDERS; b++) {
        const r = (builders[b] as FakeBuilder).running;
        sum += r;
        if (r > max) max = r;
      }
      result.loadRatios.push(max / (sum / AMD_BUILDERS));
      if (now > job.arrivedAt) {
        result.waited++;
        result.waitSeconds.push(now - job.arrivedAt);
      }
    }
    last[job.key] = placed;
    for (const b of placed) builtOn[job.key * builders.length + b] = 1;
    completions.push(now + job.duration, placed);
    return true;
  };

  while (arrived < jobs || waiting.length > 0) {
    if (arrived < jobs && nextArrival <= completions.peek()) {
      advance(nextArrival);
      if (arrived === warmup) busySince = now;
      nextArrival = now - Math.log(1 - random()) / rate;
      // Build time: log-normal with the stated mean (σ = 0.8), from two uniforms (Box–Muller).
      const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      const job: Job = { key: pick(work.cdf, random()), counted: arrived >= warmup, arrivedAt: now, overheadNs: 0n, duration: MEAN_BUILD_SECONDS * Math.exp(0.8 * normal - 0.32) };
      arrived++;
      // A build that finds its builders full waits; one for other platforms goes past it.
      if (!place(job)) waiting.push(job);
      continue;
    }
    if (completions.size === 0) break;
    advance(completions.peek());
    const done = completions.pop();
    amdRunning -= done.filter(amd).length;
    const freed = done.map((b) => builders[b] as FakeBuilder);
    for (const b of freed) b.running--;
    // Freed slots go to the waiting builds in arrival order. Only builds a freed builder serves are tried, and after
    // one of them finds its builders full, the others needing the same platforms are not tried again.
    const full = new Set<string>();
    for (let i = 0; i < waiting.length; ) {
      const job = waiting[i] as Job;
      const platforms = (work.keys[job.key] as Key).platforms;
      const signature = platforms.join(",");
      if (full.has(signature) || !freed.some((b) => platforms.some((p) => b.platforms.includes(p)))) {
        i++;
        continue;
      }
      if (place(job)) {
        waiting.splice(i, 1);
      } else {
        full.add(signature);
        i++;
      }
    }
  }
  result.busy = busyArea / ((now - (busySince ?? now)) * AMD_BUILDERS * MAX_CONCURRENT);
  return result;
}

/** Keys that land elsewhere when one builder is removed or added (no load: where each key's cache would live). */
function movedKeys(work: Workload): { removed: { moved: number; own: number; total: number; servers: number }; added: { moved: number; total: number; servers: number }; ringBuildUs: number } {
  const home = (builders: FakeBuilder[], key: Key): string => {
    const choice = chooseBuilder(key.text, key.platforms, candidatesOf(builders), { split: true });
    return choice.kind === "chosen" ? choice.name : choice.kind === "split" ? Object.values(choice.byPlatform).join("+") : choice.kind;
  };
  const amdKeys = work.keys.filter((k) => k.platforms.length === 1 && k.platforms[0] === AMD);
  const full = fakeBuilders();
  const before = amdKeys.map((k) => home(full, k));
  const gone = "amd-17";
  const without = full.filter((b) => b.name !== gone);
  const afterRemove = amdKeys.map((k) => home(without, k));
  const grown = [...fakeBuilders(AMD_BUILDERS + 1)];
  const t0 = process.hrtime.bigint();
  home(grown, amdKeys[0] as Key); // a new set of builder names: the ring is built on this first choice
  const ringBuildUs = Number(process.hrtime.bigint() - t0) / 1e3;
  const afterAdd = amdKeys.map((k) => home(grown, k));
  return {
    removed: { moved: before.filter((b, i) => b !== afterRemove[i]).length, own: before.filter((b) => b === gone).length, total: amdKeys.length, servers: AMD_BUILDERS },
    added: { moved: before.filter((b, i) => b !== afterAdd[i]).length, total: amdKeys.length, servers: AMD_BUILDERS + 1 },
    ringBuildUs,
  };
}

/** The fair share's Redis work per build (src/queue FairShare), against the stack's real Redis: round trips and time per call. */
interface RedisRun {
  installations: number;
  builds: number;
  /** Every FairShare call of the run (empty takes too) per build that started. */
  roundTripsPerBuild: number;
  /** Real time per call, µs, by call. */
  calls: Record<"enqueue" | "take" | "acquire" | "release", number[]>;
  /** Takes that found nothing (every installation with work at its cap). */
  emptyTakes: number;
}

const SLOTS = (AMD_BUILDERS + ARM_BUILDERS) * MAX_CONCURRENT;
const INSTALLATION_CAP = 4;

async function fairShareRun(redisUrl: string, installations: number, builds: number): Promise<RedisRun> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const prefix = `bench-scheduler-${randomBytes(4).toString("hex")}`;
  const fair = new FairShare(redis, prefix);
  const random = generator(installations);
  const calls: RedisRun["calls"] = { enqueue: [], take: [], acquire: [], release: [] };
  const timed = async <T>(name: keyof RedisRun["calls"], call: () => Promise<T>): Promise<T> => {
    const t0 = process.hrtime.bigint();
    const out = await call();
    calls[name].push(Number(process.hrtime.bigint() - t0) / 1e3);
    return out;
  };
  const running: Array<{ buildId: string; installationId: number }> = [];
  const classes = new Map<string, BuildClass>();
  let emptyTakes = 0;
  let started = 0;
  try {
    // A backlog first: one waiting build per slot, for installations picked at random.
    let serial = 0;
    const enqueueOne = () => {
      const inst = 100_000 + Math.floor(random() * installations);
      const cls = (serial % 3) as BuildClass;
      const id = `b-${serial++}`;
      classes.set(id, cls);
      return timed("enqueue", () => fair.enqueue(inst, cls, id, INSTALLATION_CAP));
    };
    for (let i = 0; i < SLOTS; i++) await enqueueOne();
    // The slots (or every installation's cap) fill from the backlog; then each round one build arrives, one running
    // build ends and the next one starts. Only the rounds are counted.
    const limit = Math.min(SLOTS, installations * INSTALLATION_CAP);
    for (let taken = await fair.take("bench"); taken; taken = running.length < limit ? await fair.take("bench") : undefined) {
      await fair.acquire("bench", taken.installationId, classes.get(taken.buildId) as BuildClass, taken.buildId);
      running.push(taken);
    }
    for (const c of Object.values(calls)) c.length = 0;
    const before = fair.roundTrips;
    let starved = false;
    for (let n = 0; n < builds; n++) {
      await enqueueOne();
      if (running.length >= limit || (starved && running.length > 0)) {
        const done = running.splice(Math.floor(random() * running.length), 1)[0] as { buildId: string; installationId: number };
        await timed("release", () => fair.release(done.buildId, done.installationId, "bench"));
      }
      const taken = await timed("take", () => fair.take("bench"));
      starved = !taken;
      if (!taken) {
        emptyTakes++;
        continue;
      }
      await timed("acquire", () => fair.acquire("bench", taken.installationId, classes.get(taken.buildId) as BuildClass, taken.buildId));
      running.push(taken);
      started++;
    }
    return { installations, builds, roundTripsPerBuild: (fair.roundTrips - before) / started, calls, emptyTakes };
  } finally {
    const keys = await redis.keys(`*${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
}

const us = (v: number): string => `${v < 10 ? v.toFixed(1) : v.toFixed(0)} µs`;
/** The load the arrival rate aims at, and the amd64 builders' busy share measured over the counted builds. */
const load = (r: RunResult): string => `${Math.round(r.utilisation * 100)} % (${(100 * r.busy).toFixed(0)} %)`;
const loadRatio = (r: RunResult): string => `${(r.loadRatios.reduce((a, b) => a + b, 0) / r.loadRatios.length).toFixed(2)} / ${percentile(r.loadRatios, 99).toFixed(2)}`;
const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : "–");

export const schedulerSim: Benchmark = {
  name: "scheduler",
  title: "11. Scheduler at scale, on paper (issue 17: 1,000 installations, 50 fake builders, simulated time)",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const jobs = ctx.quick ? 20_000 : 200_000;
    const work = workload(ZIPF_S);
    ctx.log(`scheduler: ${work.keys.length} keys from ${INSTALLATIONS} installations, ${jobs} builds per row`);
    // One short pass first so both strategies run on a warmed-up JIT.
    simulate(work, "affinity", 0.5, 5_000);
    simulate(work, "least-loaded", 0.5, 5_000);
    const runs: RunResult[] = [];
    for (const u of UTILISATIONS) {
      for (const s of ["affinity", "least-loaded"] as const) {
        ctx.log(`scheduler: ${s} at ${Math.round(u * 100)} % load`);
        runs.push(simulate(work, s, u, jobs));
      }
    }
    const byFactor: RunResult[] = [];
    for (const u of FACTOR_LOADS) {
      for (const c of LOAD_FACTORS) {
        ctx.log(`scheduler: c = ${c} at ${Math.round(u * 100)} % load`);
        byFactor.push(simulate(work, "affinity", u, jobs, c));
      }
    }
    const byLight: RunResult[] = [];
    for (const u of FACTOR_LOADS) {
      for (const l of LIGHT_LOADS) {
        ctx.log(`scheduler: lightLoad = ${l} at ${Math.round(u * 100)} % load`);
        byLight.push(simulate(work, "affinity", u, jobs, DEFAULT_LOAD_FACTOR, l));
      }
    }
    const bySkew: Array<{ zipf: number; hottest: number; run: RunResult }> = [];
    for (const zipf of SKEWS) {
      const skewed = workload(zipf);
      ctx.log(`scheduler: Zipf s = ${zipf} at 50 % load`);
      bySkew.push({ zipf, hottest: skewed.cdf[0] as number, run: simulate(skewed, "affinity", 0.5, jobs) });
    }
    const moved = movedKeys(work);
    const redisBuilds = ctx.quick ? 2_000 : 20_000;
    const fairRuns: RedisRun[] = [];
    for (const installations of [10, INSTALLATIONS]) {
      ctx.log(`scheduler: fair share in Redis, ${installations} installations, ${redisBuilds} builds`);
      fairRuns.push(await fairShareRun(ctx.stack.redisUrl, installations, redisBuilds));
    }

    const tables: Table[] = [
      {
        title: `Per build, ${jobs - Math.floor(jobs * WARMUP_SHARE)} builds per row after ${Math.floor(jobs * WARMUP_SHARE)} not counted; scheduler time is real, build time simulated`,
        columns: [
          "amd64 builders' load: aimed (measured)",
          "choice",
          "scheduler time per build p50 / p99 / max",
          "rebuilds on the key's last builder",
          "on a builder that built the key before",
          "max/avg running (amd64), mean / p99",
          "builds that waited for a slot",
          "wait p50 / p99 (simulated)",
        ],
        rows: runs.map((r) => [
          load(r),
          r.strategy === "affinity" ? `chooseBuilder (c = ${DEFAULT_LOAD_FACTOR}, lightLoad ${DEFAULT_LIGHT_LOAD})` : "least loaded (no affinity)",
          `${us(percentile(r.overheadUs, 50))} / ${us(percentile(r.overheadUs, 99))} / ${us(percentile(r.overheadUs, 100))}`,
          pct(r.onLast, r.rebuilds),
          pct(r.onAnyEarlier, r.rebuilds),
          loadRatio(r),
          pct(r.waited, r.jobs),
          r.waitSeconds.length > 0 ? `${percentile(r.waitSeconds, 50).toFixed(1)} s / ${percentile(r.waitSeconds, 99).toFixed(1)} s` : "–",
        ]),
      },
      {
        title: `chooseBuilder's light-load share against load (c = ${DEFAULT_LOAD_FACTOR}, Zipf s = ${ZIPF_S}): while the builds running, this one counted, are at most that share of the builders' summed max_concurrent_builds, the first builder on the key's ring with room takes it; above it, the bound ceil(c × average)`,
        columns: ["amd64 builders' load: aimed (measured)", "lightLoad", "rebuilds on the key's last builder", "on a builder that built the key before", "max/avg running (amd64), mean / p99"],
        rows: byLight.map((r) => [load(r), r.lightLoad === 0 ? "0 (the bound alone)" : String(r.lightLoad), pct(r.onLast, r.rebuilds), pct(r.onAnyEarlier, r.rebuilds), loadRatio(r)]),
      },
      {
        title: `chooseBuilder's load factor c against load (lightLoad ${DEFAULT_LIGHT_LOAD}, Zipf s = ${ZIPF_S}): above the light-load share the bound is ceil(c × average), and max_concurrent_builds ${MAX_CONCURRENT} caps it`,
        columns: ["amd64 builders' load: aimed (measured)", "c", "rebuilds on the key's last builder", "on a builder that built the key before", "max/avg running (amd64), mean / p99"],
        rows: byFactor.map((r) => [load(r), String(r.loadFactor), pct(r.onLast, r.rebuilds), pct(r.onAnyEarlier, r.rebuilds), loadRatio(r)]),
      },
      {
        title: `chooseBuilder against popularity skew (c = ${DEFAULT_LOAD_FACTOR}, lightLoad ${DEFAULT_LIGHT_LOAD}, 50 % load)`,
        columns: ["Zipf s", "the hottest key's share of builds", "rebuilds on the key's last builder", "on a builder that built the key before", "max/avg running (amd64), mean / p99"],
        rows: bySkew.map(({ zipf, hottest, run: r }) => [String(zipf), `${(100 * hottest).toFixed(1)} %`, pct(r.onLast, r.rebuilds), pct(r.onAnyEarlier, r.rebuilds), loadRatio(r)]),
      },
      {
        title: `Keys that change builder when the pool changes (the ${moved.removed.total} amd64-only keys, idle builders)`,
        columns: ["change", "keys moved", "ideal (that builder's share)", "moved keys that were not the removed builder's"],
        rows: [
          [
            `remove 1 of ${moved.removed.servers} amd64 builders`,
            `${moved.removed.moved} (${pct(moved.removed.moved, moved.removed.total)})`,
            pct(1, moved.removed.servers),
            String(moved.removed.moved - moved.removed.own),
          ],
          [`add a ${moved.added.servers}st amd64 builder`, `${moved.added.moved} (${pct(moved.added.moved, moved.added.total)})`, pct(1, moved.added.servers), "–"],
        ],
      },
    ];
    tables.push({
      title: `The fair share's Redis work per build (src/queue FairShare, the stack's Redis, one client, calls one after another): ${SLOTS} slots (or every cap) kept full, ${SLOTS} builds waiting at the start, cap ${INSTALLATION_CAP} per installation, ${redisBuilds} builds`,
      columns: ["installations", "Redis round trips per build", "enqueue p50 / p99", "take p50 / p99", "acquire p50 / p99", "release p50 / p99", "takes that found nothing"],
      rows: fairRuns.map((r) => [
        String(r.installations),
        r.roundTripsPerBuild.toFixed(2),
        ...(["enqueue", "take", "acquire", "release"] as const).map((c) => `${us(percentile(r.calls[c], 50))} / ${us(percentile(r.calls[c], 99))}`),
        String(r.emptyTakes),
      ]),
    });
    const affinity = runs.filter((r) => r.strategy === "affinity");
    const worstP99 = Math.max(...affinity.map((r) => percentile(r.overheadUs, 99)));
    const goals: GoalResult[] = [
      {
        goal: `scheduling ≤ ${GOAL_P99_MS} ms per build (p99, 50 builders)`,
        measured: `p99 ${us(worstP99)} at worst over the loads`,
        met: worstP99 <= GOAL_P99_MS * 1000,
      },
      {
        goal: "O(1) Redis round trips per build: no more with 1,000 installations than with 10 (within 1 %)",
        measured: fairRuns.map((r) => `${r.roundTripsPerBuild.toFixed(2)} with ${r.installations}`).join(", "),
        met: fairRuns.every((r) => r.roundTripsPerBuild <= (fairRuns[0]?.roundTripsPerBuild ?? 0) * 1.01),
      },
      {
        goal: "removing a builder moves only that builder's keys",
        measured: `${moved.removed.moved} keys moved, ${moved.removed.moved - moved.removed.own} of them from another builder`,
        met: moved.removed.moved === moved.removed.own,
      },
    ];
    return {
      tables,
      goals,
      notes: [
        `Workload: ${INSTALLATIONS} installations with 1–13 repositories each (most have few) and 1–2 images per repository: ${work.keys.length} keys (installation/repository/image). Builds pick a key with Zipf popularity (s = ${ZIPF_S}) and arrive as a Poisson stream; build times are log-normal, mean ${MEAN_BUILD_SECONDS} s, σ = 0.8. 88 % of keys build linux/amd64, 7 % linux/arm64, 5 % both.`,
        `Builders: ${AMD_BUILDERS} serve linux/amd64, ${ARM_BUILDERS} linux/arm64, each with max_concurrent_builds ${MAX_CONCURRENT}; a build needing both is split per platform (chooseBuilder's split). The load column is the amd64 builders' busy share the arrival rate aims at, and in brackets the share measured over the counted builds; the arm64 builders run at about half of it. The first row had ${runs[0]?.splits ?? 0} split builds.`,
        "Scheduler time per build: real time (process.hrtime) of building the candidate list, the choice and its bookkeeping (running counts, the key's last builder), summed over every try of that build (a build that found its builders full is tried again when one of the builders it could use frees a slot). It is in-process: the Redis reads of running builds and drains that the pool does before each choice are not in it.",
        "Rebuilds on the key's last builder: a build of a key built before that landed on the builder of the key's previous build (a split build: on the same builder for each platform as last time). On a builder that built it before: on a builder that built that key at some earlier time, whose cache it may still hold (an upper bound: BuildKit's cache GC is not simulated).",
        `max/avg running: over the amd64 builders at each placement. chooseBuilder keeps the builder it places a build on at or under ceil(c × average); finished builds can leave one above it until the next placements. Both choices take any builder with room when the preferred ones are full, so on the same stream they wait alike: the waits come from capacity, not from the choice.`,
        `The light-load share (chooseBuilder's lightLoad, default ${DEFAULT_LIGHT_LOAD}): with at most ${MAX_CONCURRENT} builds per builder the bound ceil(c × average) alone is small (at 20 % load the average is 1.6 builds, so the bound is 3), and a key's builder passes it whenever a few of its keys build at once; the build then went to the next builder on the ring, and only about half of the rebuilds landed on their last builder (the "0" rows). While the pool runs at most that share of its slots, a key's builder takes its builds up to its own max_concurrent_builds, so max/avg grows at low load (one builder may run ${MAX_CONCURRENT} while the average is 1.6) but no builder runs more than its operator allows. At 80 % load the key's builder is often full (a hot key's own builds fill it): no choice can keep those on it.`,
        `Redis round trips per build: the calls FairShare itself makes (its roundTrips counter) from enqueue to release, divided by the builds that started: enqueue, take, acquire, release, one Lua script each. Not in it: BullMQ's own calls for the parked build job and its turn (add, promote, fetch, complete; each its own script), the builder pool's read of running builds and drains (one pipelined round trip per choice) and its hold and release of a builder slot, and lease renewals (one call per worker process every TTL/3 for all its builds). Builds pick installations at random (uniform), so with 10 installations every one has work and each sits at its cap, and take rotates past those inside its one script; with 1,000, the ring holds every installation with work. A take that finds every installation with work at its cap costs one more round trip: the last column.`,
      ],
    };
  },
};
