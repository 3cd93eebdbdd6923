import { Gauge } from "prom-client";
import type { BuilderSnapshot } from "../builders/index.js";
import type { FairShareSnapshot } from "../queue/index.js";
import { metricsRegistry } from "./registry.js";

/**
 * Where the gauges read at scrape time: snapshots the app's parts already keep (the queues' job counts, the fair
 * share, the builder pool, the write budget, the log store). Each is optional: a role reads what it has.
 */
export interface ScrapeSources {
  /** Job counts by BullMQ state, per queue. */
  queues?(): Promise<Array<{ queue: string; counts: Record<string, number> }>>;
  fairShare?(): Promise<FairShareSnapshot>;
  builders?(): Promise<BuilderSnapshot[]>;
  writeBudget?(): Promise<{ windows: Array<{ windowMs: number; max: number; used: number }>; pausedForMs: number }>;
  logStore?(): Promise<{ logs: number; bytes: number }>;
}

type SourceName = keyof ScrapeSources;

/** A source that has not answered by then counts as down for this scrape; the scrape goes on without it. */
const SOURCE_TIMEOUT_MS = 2_000;
/** One read of a source serves every gauge of the same scrape. */
const SOURCE_MEMO_MS = 1_000;

const watched = new Set<ScrapeSources>();
const memo = new Map<SourceName, { at: number; value: Promise<unknown> }>();

/** Adds a role's sources to what scrapes read; returns the call that removes them (at shutdown). */
export function watchSources(sources: ScrapeSources): () => void {
  watched.add(sources);
  memo.clear();
  return () => {
    watched.delete(sources);
    memo.clear();
  };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const sourceUp = new Gauge({
  name: "buildkit_bot_scrape_source_up",
  help: "Whether a snapshot the metrics read at scrape time answered in time (1) or not (0; its gauges are left out).",
  labelNames: ["source"] as const,
  registers: [metricsRegistry],
});

/** The first watched set that has `name`, read at most once per scrape; undefined when none has it or it failed. */
async function read<N extends SourceName>(name: N): Promise<Awaited<ReturnType<NonNullable<ScrapeSources[N]>>> | undefined> {
  const source = [...watched].find((s) => s[name] !== undefined);
  if (!source) return undefined;
  let entry = memo.get(name);
  if (!entry || Date.now() - entry.at > SOURCE_MEMO_MS) {
    const fn = source[name] as () => Promise<unknown>;
    entry = { at: Date.now(), value: withTimeout(fn.call(source), SOURCE_TIMEOUT_MS) };
    memo.set(name, entry);
  }
  try {
    const value = (await entry.value) as Awaited<ReturnType<NonNullable<ScrapeSources[N]>>>;
    sourceUp.labels(name).set(1);
    return value;
  } catch {
    sourceUp.labels(name).set(0);
    return undefined;
  }
}

function gauge<L extends string>(name: string, help: string, labelNames: readonly L[], collect: (g: Gauge<L>) => Promise<void>): Gauge<L> {
  return new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [metricsRegistry],
    async collect() {
      this.reset();
      await collect(this);
    },
  });
}

gauge("buildkit_bot_queue_jobs", "Jobs in each queue (events: webhooks to plan; builds), by BullMQ state.", ["queue", "state"], async (g) => {
  for (const { queue, counts } of (await read("queues")) ?? []) {
    for (const [state, n] of Object.entries(counts)) g.labels(queue, state).set(n);
  }
});

gauge(
  "buildkit_bot_installation_builds",
  "Builds per installation in the fair share: waiting for a turn, waiting for a builder (let through, but every builder it may use was full), or running (a slot held across every worker process).",
  ["installation", "state"],
  async (g) => {
    for (const share of (await read("fairShare"))?.installations ?? []) {
      const waiting = Object.values(share.waiting).reduce((n, ids) => n + ids.length, 0);
      g.labels(String(share.installationId), "waiting").set(waiting);
      g.labels(String(share.installationId), "waiting_for_builder").set(share.waitingForBuilder.length);
      g.labels(String(share.installationId), "running").set(share.running.length);
    }
  },
);

const builders = (): Promise<BuilderSnapshot[] | undefined> => read("builders");
gauge("buildkit_bot_builder_up", "Whether a builder answers this worker process's health probes (1) or is unavailable (0).", ["builder"], async (g) => {
  for (const b of (await builders()) ?? []) g.labels(b.name).set(b.available ? 1 : 0);
});
gauge("buildkit_bot_builder_draining", "Whether an operator drains a builder (1): it takes no new builds.", ["builder"], async (g) => {
  for (const b of (await builders()) ?? []) g.labels(b.name).set(b.draining ? 1 : 0);
});
gauge("buildkit_bot_builder_running_builds", "Builds running on a builder, across every worker process.", ["builder"], async (g) => {
  const pool = await builders();
  if (pool) for (const b of pool) g.labels(b.name).set(b.running);
  // A role without a pool (web) reads them from the fair share's snapshot: the pool's leases in Redis.
  else for (const [name, n] of Object.entries((await read("fairShare"))?.byBuilder ?? {})) g.labels(name).set(n);
});
gauge("buildkit_bot_builder_max_concurrent_builds", "A builder's max_concurrent_builds from the builders file (absent: no limit).", ["builder"], async (g) => {
  for (const b of (await builders()) ?? []) if (b.maxConcurrent !== undefined) g.labels(b.name).set(b.maxConcurrent);
});

const windowLabel = (ms: number): string => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);
const budget = (): ReturnType<typeof read<"writeBudget">> => read("writeBudget");
gauge("buildkit_bot_github_write_budget_remaining", "Writes to GitHub the app-wide budget still grants in each window.", ["window"], async (g) => {
  for (const w of (await budget())?.windows ?? []) g.labels(windowLabel(w.windowMs)).set(Math.max(0, w.max - w.used));
});
gauge("buildkit_bot_github_write_budget_limit", "Writes to GitHub the app-wide budget grants per window.", ["window"], async (g) => {
  for (const w of (await budget())?.windows ?? []) g.labels(windowLabel(w.windowMs)).set(w.max);
});
gauge("buildkit_bot_github_write_pause_seconds", "How long every write of the app still waits for GitHub's Retry-After (0: none).", [], async (g) => {
  const b = await budget();
  if (b) g.set(b.pausedForMs / 1000);
});

const logs = (): ReturnType<typeof read<"logStore">> => read("logStore");
gauge("buildkit_bot_log_store_bytes", "Bytes of build logs kept in Redis (every log not yet expired).", [], async (g) => {
  const l = await logs();
  if (l) g.set(l.bytes);
});
gauge("buildkit_bot_log_store_logs", "Build logs kept in Redis.", [], async (g) => {
  const l = await logs();
  if (l) g.set(l.logs);
});
