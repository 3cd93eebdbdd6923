import { readFileSync } from "node:fs";
import type { StatusResponse__Output } from "../../../src/buildkit/generated/moby/buildkit/v1/StatusResponse.js";
import type { Vertex__Output } from "../../../src/buildkit/generated/moby/buildkit/v1/Vertex.js";
import type { VertexLog__Output } from "../../../src/buildkit/generated/moby/buildkit/v1/VertexLog.js";
import type { VertexStatus__Output } from "../../../src/buildkit/generated/moby/buildkit/v1/VertexStatus.js";
import type { VertexWarning__Output } from "../../../src/buildkit/generated/moby/buildkit/v1/VertexWarning.js";
import type { Timestamp__Output } from "../../../src/buildkit/generated/google/protobuf/Timestamp.js";
import { protos } from "../../../src/buildkit/proto.js";

/** A recorded Status stream (see fixtures/record-engine-status.ts), decoded with the real message type. */
export function loadStatusFixture(name: string): { error?: string; messages: StatusResponse__Output[] } {
  const url = new URL(`./fixtures/${name}.json`, import.meta.url);
  const raw = JSON.parse(readFileSync(url, "utf8")) as { error?: string; messages: string[] };
  const type = protos().control.moby.buildkit.v1.StatusResponse;
  return {
    ...(raw.error !== undefined && { error: raw.error }),
    messages: raw.messages.map((m) => type.deserialize(Buffer.from(m, "base64"))),
  };
}

/** A timestamp `ms` milliseconds after a fixed instant. */
export function ts(ms: number): Timestamp__Output {
  const base = Date.UTC(2026, 10, 23, 8, 0, 0);
  const total = base + ms;
  return { seconds: String(Math.floor(total / 1000)), nanos: (total % 1000) * 1e6 };
}

export function vertex(v: Partial<Vertex__Output> & { digest: string }): Vertex__Output {
  return { inputs: [], name: "", cached: false, started: null, completed: null, error: "", progressGroup: null, ...v };
}

export function log(vertexDigest: string, msg: string | Buffer, stream: 1 | 2 = 1, at?: number): VertexLog__Output {
  return {
    vertex: vertexDigest,
    stream: String(stream),
    msg: Buffer.isBuffer(msg) ? msg : Buffer.from(msg),
    timestamp: at === undefined ? null : ts(at),
  };
}

export function status(s: Partial<VertexStatus__Output> & { vertex: string; ID: string }): VertexStatus__Output {
  return { name: "", current: "0", total: "0", timestamp: null, started: null, completed: null, ...s };
}

export function response(parts: {
  vertexes?: Vertex__Output[];
  statuses?: VertexStatus__Output[];
  logs?: VertexLog__Output[];
  warnings?: VertexWarning__Output[];
}): StatusResponse__Output {
  return { vertexes: [], statuses: [], logs: [], warnings: [], ...parts };
}
