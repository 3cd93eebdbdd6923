import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort } from "./stack/free-port.js";
import { spawnDetached, stopProcess, waitUntilReady } from "./stack/processes.js";

/**
 * Debian's Prometheus (2.42, `apt-get install prometheus`; scripts/test.sh installs it through
 * bkb_ensure_prometheus) as a child process with a private data directory, scraping the given targets every
 * `scrapeIntervalS`, and a small client of its HTTP API.
 */

export const PROMETHEUS_BIN = process.env.BKB_PROMETHEUS_BIN ?? "/usr/bin/prometheus";

/** False, or the one line saying what to provide (a `describe`'s skip option). */
export function prometheusSkip(): false | string {
  return existsSync(PROMETHEUS_BIN) ? false : `needs Debian's prometheus at ${PROMETHEUS_BIN} (apt-get install prometheus, or bash scripts/test.sh, which installs it)`;
}

export interface ScrapeTarget {
  /** The job label, e.g. `web`, `worker`. */
  job: string;
  /** `host:port` */
  address: string;
}

/** One series of an instant query's vector. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export type QueryResult =
  | { resultType: "vector"; result: Sample[] }
  | { resultType: "matrix"; result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }
  | { resultType: "scalar" | "string"; result: [number, string] };

export interface PrometheusInstance {
  /** `http://127.0.0.1:<port>` */
  url: string;
  pid: number;
  /** An instant query through /api/v1/query; rejects with Prometheus' own error text. */
  query(promql: string): Promise<QueryResult>;
  /** A range query through /api/v1/query_range over the last `seconds`. */
  queryRange(promql: string, seconds: number, stepS?: number): Promise<QueryResult>;
  /** The targets' health as /api/v1/targets reports it. */
  targets(): Promise<Array<{ job: string; health: string; lastError: string }>>;
  stop(): Promise<void>;
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; data?: T; error?: string; errorType?: string };
  if (body.status !== "success" || body.data === undefined) throw new Error(`Prometheus ${res.status}: ${body.errorType ?? ""} ${body.error ?? JSON.stringify(body)}`);
  return body.data;
}

export async function startPrometheus(opts: { dir: string; targets: readonly ScrapeTarget[]; scrapeIntervalS?: number }): Promise<PrometheusInstance> {
  await mkdir(opts.dir, { recursive: true });
  const interval = `${opts.scrapeIntervalS ?? 1}s`;
  const config = [
    "global:",
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    "scrape_configs:",
    ...opts.targets.flatMap((t) => [`  - job_name: ${JSON.stringify(t.job)}`, "    static_configs:", `      - targets: [${JSON.stringify(t.address)}]`]),
    "",
  ].join("\n");
  const configFile = join(opts.dir, "prometheus.yml");
  await writeFile(configFile, config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await spawnDetached(
    PROMETHEUS_BIN,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(opts.dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { logFile: join(opts.dir, "prometheus.log"), cwd: opts.dir },
  );
  const stop = (): Promise<void> => stopProcess(proc.pid, { commandContains: "prometheus" });
  try {
    await waitUntilReady({
      name: "prometheus",
      proc,
      ready: async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).ok,
      timeoutMs: 60_000,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    pid: proc.pid,
    query: (promql) => api<QueryResult>(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`),
    queryRange: (promql, seconds, stepS = 1) => {
      const end = Date.now() / 1000;
      return api<QueryResult>(`${url}/api/v1/query_range?${new URLSearchParams({ query: promql, start: String(end - seconds), end: String(end), step: String(stepS) })}`);
    },
    targets: async () => {
      const data = await api<{ activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }> }>(`${url}/api/v1/targets`);
      return data.activeTargets.map((t) => ({ job: t.labels.job ?? "", health: t.health, lastError: t.lastError }));
    },
    stop,
  };
}
