import type { StatusResponse__Output } from "../generated/moby/buildkit/v1/StatusResponse.js";
import type { Vertex__Output } from "../generated/moby/buildkit/v1/Vertex.js";
import type { VertexLog__Output } from "../generated/moby/buildkit/v1/VertexLog.js";
import type { VertexStatus__Output } from "../generated/moby/buildkit/v1/VertexStatus.js";
import type { VertexWarning__Output } from "../generated/moby/buildkit/v1/VertexWarning.js";
import type { Timestamp__Output } from "../generated/google/protobuf/Timestamp.js";
import type { SourceLocation } from "../errors.js";
import { Redactor } from "../redact.js";
import type { ProgressEvent, ProgressHandler } from "./events.js";
import { DEFAULT_LOG_TAIL_BYTES, LogTail } from "./log-tail.js";
import { parseStepName } from "./step-name.js";

export type StepStatus = "pending" | "running" | "cached" | "completed" | "failed";

/** A snapshot of one vertex of the build. */
export interface StepState {
  id: string;
  name: string;
  stage?: string;
  index?: number;
  total?: number;
  platform?: string;
  internal: boolean;
  inputs: readonly string[];
  status: StepStatus;
  startedAt?: Date;
  completedAt?: Date;
  error?: string;
  /** Log bytes received for this step (all of it, not only the retained tail). */
  logBytes: number;
}

export interface ProgressCounters {
  total: number;
  completed: number;
  cached: number;
  running: number;
  failed: number;
}

export interface FailedStep {
  digest: string;
  name: string;
  error: string;
  /** Last lines of the step's output (stdout and stderr interleaved as received), redacted. */
  logTail: string[];
}

export interface ProgressTrackerOptions {
  onEvent?: ProgressHandler;
  redactor?: Redactor;
  /** Bytes of log kept per step for `failedStep().logTail`. Default 64 KiB. */
  logTailBytes?: number;
  /** Rewrites step names and sub-status names for display, after redaction (e.g. staging names to final names). */
  relabel?: (text: string) => string;
}

type Stream = "stdout" | "stderr";

/** A line longer than this without a newline is passed on anyway, so one step cannot grow memory unbounded. */
const MAX_PARTIAL_LINE_BYTES = 16 * 1024;

interface StepRecord {
  state: StepState;
  /** The name as the daemon sent it, before redaction. */
  rawName: string;
  /** Vertexes of one progress group (v0.10+) count as one step, as buildx shows them. */
  group: string | undefined;
  /** Created from a Vertex message (not only from a log/status that arrived first). */
  seen: boolean;
  announced: boolean;
  tail: LogTail | undefined;
  /** Bytes after the last newline per stream, with the time of the chunk they came in. */
  partial: Partial<Record<Stream, { bytes: Buffer; at: Date }>>;
  substatus: Map<string, { current: number; total: number; done: boolean; action: string }>;
}

/**
 * Turns the incremental Status stream of one solve into transitions (`ProgressEvent`s), counters and, when the
 * build fails, the failed step with the tail of its log. Vertexes re-appear with updated fields and are merged by
 * digest; missing timestamps are tolerated. Memory per step is bounded by `logTailBytes` plus one partial line
 * per stream, however much the step logs.
 */
export class ProgressTracker {
  private readonly onEvent: ProgressHandler | undefined;
  private readonly redactor: Redactor;
  private readonly logTailBytes: number;
  private readonly relabel: (text: string) => string;
  private readonly records = new Map<string, StepRecord>();
  private readonly failures: string[] = [];
  private lastCounters: ProgressCounters = { total: 0, completed: 0, cached: 0, running: 0, failed: 0 };
  /**
   * A vertex message arrived or a step started since the counters were last computed. Only those can change
   * them, so log chunks and sub-statuses (and the empty messages Engine 20.10 streams, ~10^5 a second, while a
   * step floods its log) cost O(their size), not O(steps).
   */
  private countersStale = false;
  private finished = false;
  /** The first exception a handler threw; handlers must not be able to break the build. */
  handlerError: unknown;

  constructor(options: ProgressTrackerOptions = {}) {
    this.onEvent = options.onEvent;
    this.redactor = options.redactor ?? new Redactor();
    this.logTailBytes = options.logTailBytes ?? DEFAULT_LOG_TAIL_BYTES;
    this.relabel = options.relabel ?? ((text) => text);
  }

  get counters(): Readonly<ProgressCounters> {
    return this.lastCounters;
  }

  ingest(response: StatusResponse__Output): void {
    if (this.finished) return;
    const vertexes = response.vertexes ?? [];
    const statuses = response.statuses ?? [];
    const logs = response.logs ?? [];
    const warnings = response.warnings ?? [];
    if (vertexes.length + statuses.length + logs.length + warnings.length === 0) return;
    const now = new Date();
    // A step with logs or sub-statuses in this message ends after them; the others end right away, so a
    // handler sees start-end pairs instead of a burst of starts followed by a burst of ends.
    const busy = new Set<string>();
    if (vertexes.length > 0) {
      this.countersStale = true;
      for (const { vertex } of logs) busy.add(vertex);
      for (const { vertex } of statuses) busy.add(vertex);
    }
    // BuildKit runs some vertexes twice (`load build definition`, `load build context`) and may list one vertex
    // twice in a message, its first run completed and its next one started: only its last entry settles it.
    const lastEntry = new Map<string, Vertex__Output>();
    for (const vertex of vertexes) lastEntry.set(vertex.digest, vertex);
    for (const vertex of vertexes) {
      this.updateVertex(vertex, now);
      if (!busy.has(vertex.digest) && lastEntry.get(vertex.digest) === vertex) this.settleVertex(vertex, now);
    }
    for (const status of statuses) this.updateStatus(status, now);
    for (const log of logs) this.appendLog(log, now);
    for (const warning of warnings) this.emitWarning(warning, now);
    for (const vertex of vertexes) {
      if (busy.has(vertex.digest) && lastEntry.get(vertex.digest) === vertex) this.settleVertex(vertex, now);
    }
    this.emitCountersIfChanged(now);
  }

  /** A warning of the client's own about the build (not from the daemon). */
  warn(message: string): void {
    if (this.finished) return;
    this.emit({ type: "warning", at: new Date(), message });
  }

  /** Passes on what is left of partial lines. Call once when the Status stream ended. Idempotent. */
  finish(): void {
    if (this.finished) return;
    const now = new Date();
    for (const record of this.records.values()) this.flushPartials(record);
    this.emitCountersIfChanged(now);
    this.finished = true;
  }

  /** The step that made the build fail (the first failure that is not a consequence of cancellation). */
  failedStep(): FailedStep | undefined {
    const failed = this.failures.map((id) => this.records.get(id)).filter((r): r is StepRecord => r !== undefined);
    // A cache import cut short by a cancellation is failed too (see cacheImportMiss): never the cause when a step failed.
    const cause =
      failed.find((r) => !/context canceled/.test(r.state.error ?? "") && !CACHE_IMPORT_NAME.test(r.rawName)) ?? failed[0];
    if (!cause) return undefined;
    return {
      digest: cause.state.id,
      name: cause.state.name,
      error: cause.state.error ?? "",
      logTail: this.tailLines(cause),
    };
  }

  /** Snapshots of every step, in order of first appearance. */
  steps(): readonly StepState[] {
    return [...this.records.values()].filter((r) => r.seen).map((r) => ({ ...r.state }));
  }

  private record(id: string): StepRecord {
    let record = this.records.get(id);
    if (!record) {
      record = {
        state: { id, name: "", internal: false, inputs: [], status: "pending", logBytes: 0 },
        rawName: "",
        group: undefined,
        seen: false,
        announced: false,
        tail: undefined,
        partial: {},
        substatus: new Map(),
      };
      this.records.set(id, record);
    }
    return record;
  }

  private updateVertex(vertex: Vertex__Output, now: Date): void {
    if (!vertex.digest) return;
    const record = this.record(vertex.digest);
    record.seen = true;
    const state = record.state;
    if (vertex.name && vertex.name !== record.rawName) {
      record.rawName = vertex.name;
      state.name = this.relabel(this.redactor.redact(vertex.name));
      const { stage, index, total, platform, internal } = parseStepName(state.name);
      Object.assign(state, { stage, index, total, platform, internal });
      for (const key of ["stage", "index", "total", "platform"] as const) {
        if (state[key] === undefined) delete state[key];
      }
    }
    if (vertex.inputs?.length) state.inputs = [...vertex.inputs];
    if (vertex.progressGroup?.id) record.group = vertex.progressGroup.id;
    const started = toDate(vertex.started);
    if (started && (state.startedAt === undefined || state.status === "pending")) state.startedAt = started;
    if (started || vertex.cached || toDate(vertex.completed) || vertex.error) {
      this.announce(record, started ?? toDate(vertex.completed) ?? now);
    }
  }

  private settleVertex(vertex: Vertex__Output, now: Date): void {
    if (!vertex.digest) return;
    const record = this.record(vertex.digest);
    const state = record.state;
    const completed = toDate(vertex.completed);
    const missedCache = vertex.error ? cacheImportMiss(record.rawName, vertex.error) : undefined;
    if (missedCache) {
      // BuildKit fails the import vertex (no cache yet on a branch's first build, or an unreachable ref) and
      // builds on without it: a warning, not a failed step.
      if (state.status !== "pending" && state.status !== "running") return;
      this.flushPartials(record);
      state.status = "completed";
      state.completedAt = completed ?? now;
      const ref = this.redactor.redact(missedCache.ref);
      const reason = this.redactor.redact(missedCache.reason);
      this.emit({ type: "warning", id: state.id, at: state.completedAt, message: `cache import from ${ref} failed: ${reason} — building without it` });
      const durationMs = duration(state.startedAt ?? state.completedAt, state.completedAt);
      this.emit({ type: "step-completed", id: state.id, name: state.name, at: state.completedAt, durationMs });
      return;
    }
    if (vertex.error) {
      if (state.status === "failed") return;
      this.flushPartials(record);
      state.status = "failed";
      state.error = this.redactor.redact(vertex.error);
      state.completedAt = completed ?? now;
      this.failures.push(state.id);
      this.emit({
        type: "step-failed",
        id: state.id,
        name: state.name,
        at: state.completedAt,
        error: state.error,
        ...(state.startedAt && { durationMs: duration(state.startedAt, state.completedAt) }),
      });
      return;
    }
    if (state.status !== "pending" && state.status !== "running") return;
    if (vertex.cached) {
      this.flushPartials(record);
      state.status = "cached";
      state.completedAt = completed ?? state.startedAt ?? now;
      this.emit({ type: "step-cached", id: state.id, name: state.name, at: state.completedAt });
    } else if (completed) {
      this.flushPartials(record);
      state.status = "completed";
      state.completedAt = completed;
      const durationMs = duration(state.startedAt ?? completed, completed);
      this.emit({ type: "step-completed", id: state.id, name: state.name, at: completed, durationMs });
    }
  }

  private announce(record: StepRecord, at: Date): void {
    if (record.announced) return;
    record.announced = true;
    this.countersStale = true;
    const state = record.state;
    if (state.status === "pending") state.status = "running";
    state.startedAt ??= at;
    this.emit({
      type: "step-started",
      id: state.id,
      name: state.name,
      at: state.startedAt,
      internal: state.internal,
      ...(state.stage !== undefined && { stage: state.stage }),
      ...(state.index !== undefined && { index: state.index }),
      ...(state.total !== undefined && { total: state.total }),
      ...(state.platform !== undefined && { platform: state.platform }),
    });
  }

  private updateStatus(status: VertexStatus__Output, now: Date): void {
    if (!status.vertex) return;
    const record = this.record(status.vertex);
    const key = status.ID || status.name;
    const next = {
      current: Number(status.current) || 0,
      total: Number(status.total) || 0,
      done: toDate(status.completed) !== undefined,
      action: status.ID ? status.name : "",
    };
    const previous = record.substatus.get(key);
    if (
      previous &&
      previous.current === next.current &&
      previous.total === next.total &&
      previous.done === next.done &&
      previous.action === next.action
    ) {
      return;
    }
    record.substatus.set(key, next);
    const at = toDate(status.completed) ?? toDate(status.timestamp) ?? now;
    const startedAt = toDate(status.started);
    this.announce(record, startedAt ?? at);
    this.emit({
      type: "progress",
      id: record.state.id,
      name: record.state.name,
      at,
      status: this.relabel(this.redactor.redact(key)),
      ...(next.action && { action: this.redactor.redact(next.action) }),
      ...(startedAt && { startedAt }),
      current: next.current,
      ...(next.total > 0 && { total: next.total }),
      done: next.done,
    });
  }

  private appendLog(log: VertexLog__Output, now: Date): void {
    if (!log.vertex || !log.msg || log.msg.length === 0) return;
    const record = this.record(log.vertex);
    const at = toDate(log.timestamp) ?? now;
    this.announce(record, at);
    const stream: Stream = String(log.stream) === "2" ? "stderr" : "stdout";
    record.state.logBytes += log.msg.length;
    const pending = record.partial[stream];
    const bytes = pending ? Buffer.concat([pending.bytes, log.msg]) : log.msg;
    let cut = bytes.lastIndexOf(0x0a) + 1;
    if (bytes.length - cut > MAX_PARTIAL_LINE_BYTES) cut = utf8Boundary(bytes);
    if (cut > 0) this.passLog(record, stream, bytes.subarray(0, cut).toString("utf8"), at);
    // Copy: the rest may be a view into a large gRPC receive buffer.
    record.partial[stream] = cut < bytes.length ? { bytes: Buffer.from(bytes.subarray(cut)), at } : undefined;
    // Output the daemon delivers after the step ended has nothing more to wait for.
    if (record.state.status !== "running" && record.state.status !== "pending") this.flushPartials(record);
  }

  private flushPartials(record: StepRecord): void {
    for (const stream of ["stdout", "stderr"] as const) {
      const pending = record.partial[stream];
      if (!pending) continue;
      record.partial[stream] = undefined;
      this.passLog(record, stream, pending.bytes.toString("utf8"), pending.at);
    }
  }

  private passLog(record: StepRecord, stream: Stream, text: string, at: Date): void {
    const data = this.redactor.redact(text);
    record.tail ??= new LogTail(this.logTailBytes);
    record.tail.append(data);
    this.emit({ type: "log", id: record.state.id, name: record.state.name, at, stream, data });
  }

  private tailLines(record: StepRecord): string[] {
    const lines = record.tail?.lines() ?? [];
    for (const stream of ["stdout", "stderr"] as const) {
      const pending = record.partial[stream];
      if (pending) lines.push(this.redactor.redact(pending.bytes.toString("utf8")));
    }
    return lines;
  }

  private emitWarning(warning: VertexWarning__Output, now: Date): void {
    const message = this.redactor.redact(Buffer.from(warning.short ?? []).toString("utf8"));
    const detail = (warning.detail ?? []).map((d) => Buffer.from(d).toString("utf8")).join("\n");
    const location = warningLocation(warning);
    this.emit({
      type: "warning",
      at: now,
      message,
      ...(warning.vertex && { id: warning.vertex }),
      ...(detail && { detail: this.redactor.redact(detail) }),
      ...(warning.url && { url: warning.url }),
      ...(location && { location }),
    });
  }

  private emitCountersIfChanged(at: Date): void {
    if (!this.countersStale) return;
    this.countersStale = false;
    // One entry per counted unit: a vertex, or a progress group merging several.
    const units = new Map<string, StepStatus[]>();
    for (const { seen, state, group } of this.records.values()) {
      if (!seen) continue;
      const key = group === undefined ? `vertex:${state.id}` : `group:${group}`;
      const statuses = units.get(key);
      if (statuses) statuses.push(state.status);
      else units.set(key, [state.status]);
    }
    const counters: ProgressCounters = { total: units.size, completed: 0, cached: 0, running: 0, failed: 0 };
    for (const statuses of units.values()) {
      if (statuses.includes("failed")) counters.failed++;
      else if (statuses.some((s) => s === "running" || s === "pending")) {
        if (statuses.includes("running")) counters.running++;
      } else {
        counters.completed++;
        if (statuses.every((s) => s === "cached")) counters.cached++;
      }
    }
    const last = this.lastCounters;
    if (
      counters.total === last.total &&
      counters.completed === last.completed &&
      counters.cached === last.cached &&
      counters.running === last.running &&
      counters.failed === last.failed
    ) {
      return;
    }
    this.lastCounters = counters;
    this.emit({ type: "counters", ...counters, at });
  }

  private emit(event: ProgressEvent): void {
    if (!this.onEvent) return;
    try {
      this.onEvent(event);
    } catch (err) {
      this.handlerError ??= err;
    }
  }
}

/** Go senders of the 0.8 era may send zero timestamps; treat anything at or before the epoch as absent. */
function toDate(ts: Timestamp__Output | null | undefined): Date | undefined {
  if (!ts) return undefined;
  const seconds = Number(ts.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}

function duration(from: Date, to: Date): number {
  return Math.max(0, to.getTime() - from.getTime());
}

/** The length of `bytes` without an incomplete UTF-8 sequence at its end. */
function utf8Boundary(bytes: Buffer): number {
  let i = bytes.length - 1;
  let continuation = 0;
  while (i >= 0 && ((bytes[i] ?? 0) & 0xc0) === 0x80 && continuation < 3) {
    i--;
    continuation++;
  }
  const lead = bytes[i] ?? 0;
  const needed = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
  return needed > continuation ? i : bytes.length;
}

const CACHE_IMPORT_NAME = /^importing cache manifest from (.+)$/;

/**
 * The ref and reason when `error` is a cache import that failed on its own (BuildKit carries on without the
 * cache); undefined for other vertexes and for an import cut short by the build's cancellation.
 */
function cacheImportMiss(name: string, error: string): { ref: string; reason: string } | undefined {
  const ref = CACHE_IMPORT_NAME.exec(name)?.[1];
  if (ref === undefined || /context canceled/.test(error)) return undefined;
  // The daemon's error usually repeats the ref: "<ref>: not found".
  const reason = error.startsWith(`${ref}: `) ? error.slice(ref.length + 2) : error;
  return { ref, reason };
}

function warningLocation(warning: VertexWarning__Output): SourceLocation | undefined {
  const file = warning.info?.filename;
  const lines = (warning.ranges ?? [])
    .flatMap((r) => [r.start?.line, r.end?.line])
    .filter((l): l is number => typeof l === "number" && l > 0);
  if (!file || lines.length === 0) return undefined;
  return { file, startLine: Math.min(...lines), endLine: Math.max(...lines) };
}
