import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { cleanClientEnv } from "./timed-process.js";

const run = promisify(execFile);

/**
 * Where one build's time went on its buildkitd, from the daemon's own build history (`buildctl debug histories`,
 * then `buildctl debug logs --progress rawjson`: the vertexes' started/completed timestamps). Seconds.
 */
export interface DaemonBuildTimes {
  /** The daemon received the Solve → it recorded the build complete. */
  total: number;
  /** The git context: the daemon's fetch from the git server and checkout (first start → last completion of its vertex). */
  context: number;
  /** The RUN step beyond its own sleep: the container's start-up and teardown. */
  runOverhead: number;
  /** The RUN step's end → the last vertex's end (layer and cache export, push). */
  export: number;
}

interface Vertex {
  name?: string;
  started?: string;
  completed?: string;
}

interface HistoryRecord {
  record?: { Ref?: string; CreatedAt?: Stamp; CompletedAt?: Stamp };
}

interface Stamp {
  seconds?: number | string;
  nanos?: number;
}

const stampSeconds = (s: Stamp | undefined): number | undefined => (s?.seconds === undefined ? undefined : Number(s.seconds) + (s.nanos ?? 0) / 1e9);
/** RFC 3339 with nanoseconds, as Go writes it, to milliseconds (enough here). */
const iso = (t: string | undefined): number | undefined => (t ? Date.parse(t.replace(/(\.\d{3})\d+/, "$1")) / 1000 : undefined);

/**
 * The builds `address` recorded since `sinceMs` (epoch ms) whose RUN step sleeps `sleepSeconds`, each broken down
 * by its vertexes. A build whose history lacks a vertex is left out.
 */
export async function daemonBuildTimes(buildctl: string, address: string, sinceMs: number, sleepSeconds: number): Promise<DaemonBuildTimes[]> {
  const opts = { env: cleanClientEnv(), maxBuffer: 64 * 1024 * 1024 };
  const { stdout } = await run(buildctl, ["--addr", address, "debug", "histories", "--format", "{{json .}}"], opts);
  const out: DaemonBuildTimes[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.trim()) continue;
    const record = (JSON.parse(line) as HistoryRecord).record;
    const created = stampSeconds(record?.CreatedAt);
    const completed = stampSeconds(record?.CompletedAt);
    if (!record?.Ref || created === undefined || completed === undefined || created * 1000 < sinceMs) continue;
    const logs = (await run(buildctl, ["--addr", address, "debug", "logs", "--progress", "rawjson", record.Ref], opts)).stdout;
    // A vertex another build ran first (the FROM) is reported with its own, earlier times: only this build's count.
    const vertexes: Vertex[] = [];
    for (const event of logs.split("\n")) {
      if (!event.trim()) continue;
      for (const v of (JSON.parse(event) as { vertexes?: Vertex[] }).vertexes ?? []) if ((iso(v.started) ?? 0) >= created - 0.01) vertexes.push(v);
    }
    const span = (match: (name: string) => boolean): { start: number; end: number } | undefined => {
      const own = vertexes.filter((v) => v.name && match(v.name) && v.started && v.completed);
      if (own.length === 0) return undefined;
      return { start: Math.min(...own.map((v) => iso(v.started) as number)), end: Math.max(...own.map((v) => iso(v.completed) as number)) };
    };
    const context = span((n) => n.includes("load git source"));
    const step = span((n) => / RUN .*sleep /.test(n) && n.endsWith(`sleep ${sleepSeconds}`));
    if (!context || !step) continue;
    const last = Math.max(...vertexes.map((v) => iso(v.completed) ?? 0));
    out.push({ total: completed - created, context: context.end - context.start, runOverhead: step.end - step.start - sleepSeconds, export: last - step.end });
  }
  return out;
}
