import type { Status__Output } from "../generated/google/rpc/Status.js";
import { protos } from "../proto.js";

export interface ErrorSource {
  /** Dockerfile path as the frontend was given it. */
  filename: string;
  /** 1-based, inclusive; several single-line ranges of one instruction are merged (min start / max end). */
  startLine: number;
  endLine: number;
  /** Those lines of the file, when the daemon sent its content. */
  text?: string;
}

export interface ErrorDetails {
  sources: ErrorSource[];
  /** LLB digest of the failed vertex (equals its digest in the Status stream). */
  vertexDigest?: string;
  /** Exit code of the failed process (BuildKit v0.10+). */
  exitCode?: number;
  /** Frontend capability the daemon lacks. */
  frontendCap?: string;
}

const DETAILS_KEY = "grpc-status-details-bin";
const TYPE_PREFIX = "github.com/moby/buildkit/";

/**
 * Reads BuildKit's typed error details from a gRPC error's `grpc-status-details-bin` trailer: a
 * `google.rpc.Status` whose `Any` values hold JSON, not protobuf (docs/buildkit-wire.md#error-details). Key case differs between
 * versions (`Line` vs `line`), so keys are matched case-insensitively. Docker Engine 20.10 sends no trailer:
 * the result is then empty, as it is for anything undecodable.
 */
export function decodeErrorDetails(err: unknown): ErrorDetails {
  const details: ErrorDetails = { sources: [] };
  const status = readStatus(err);
  for (const any of status?.details ?? []) {
    const type = any.type_url.startsWith(TYPE_PREFIX) ? any.type_url.slice(TYPE_PREFIX.length) : any.type_url;
    const value = parseJson(any.value);
    if (value === undefined) continue;
    switch (type) {
      case "errdefs.Source+json": {
        const source = toSource(value);
        if (source && !details.sources.some((s) => sameSource(s, source))) details.sources.push(source);
        break;
      }
      case "errdefs.Vertex+json": {
        const digest = field(value, "digest");
        if (typeof digest === "string" && digest) details.vertexDigest ??= digest;
        break;
      }
      case "gatewayapi.ExitMessage+json": {
        const code = field(value, "code");
        if (typeof code === "number" && Number.isInteger(code)) details.exitCode ??= code;
        break;
      }
      case "errdefs.FrontendCap+json": {
        const name = field(value, "name");
        if (typeof name === "string" && name) details.frontendCap ??= name;
        break;
      }
    }
  }
  return details;
}

function readStatus(err: unknown): Status__Output | undefined {
  const metadata = (err as { metadata?: { get?: (key: string) => unknown[] } } | null)?.metadata;
  if (typeof metadata?.get !== "function") return undefined;
  const raw = metadata.get(DETAILS_KEY)[0];
  if (raw === undefined) return undefined;
  const bytes = Buffer.isBuffer(raw) ? raw : typeof raw === "string" ? Buffer.from(raw, "base64") : undefined;
  if (!bytes || bytes.length === 0) return undefined;
  try {
    return protos().status.google.rpc.Status.deserialize(bytes);
  } catch {
    return undefined;
  }
}

function parseJson(value: Buffer | undefined): unknown {
  if (!value || value.length === 0) return undefined;
  try {
    return JSON.parse(value.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

/** A property of a JSON object, matching the key case-insensitively. */
function field(value: unknown, key: string): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  if (key in record) return record[key];
  const lower = key.toLowerCase();
  const found = Object.keys(record).find((k) => k.toLowerCase() === lower);
  return found === undefined ? undefined : record[found];
}

function toSource(value: unknown): ErrorSource | undefined {
  const info = field(value, "info");
  const filename = field(info, "filename");
  const ranges = field(value, "ranges");
  if (!Array.isArray(ranges)) return undefined;
  const lines: number[] = [];
  for (const range of ranges) {
    for (const end of ["start", "end"]) {
      const line = field(field(range, end), "line");
      if (typeof line === "number" && line > 0) lines.push(line);
    }
  }
  if (lines.length === 0) return undefined;
  const startLine = Math.min(...lines);
  const endLine = Math.max(...lines);
  const source: ErrorSource = { filename: typeof filename === "string" ? filename : "", startLine, endLine };
  const data = field(info, "data");
  if (typeof data === "string" && data) {
    const fileLines = Buffer.from(data, "base64").toString("utf8").split(/\r?\n/);
    const text = fileLines.slice(startLine - 1, endLine).join("\n");
    if (text) source.text = text;
  }
  return source;
}

function sameSource(a: ErrorSource, b: ErrorSource): boolean {
  return a.filename === b.filename && a.startLine === b.startLine && a.endLine === b.endLine;
}
