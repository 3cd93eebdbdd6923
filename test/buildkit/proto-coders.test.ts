import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import * as protoLoader from "@grpc/proto-loader";
import type * as Protobuf from "protobufjs";
import { LOADER_OPTIONS, PROTO_DIR, protos } from "../../src/buildkit/proto.js";

/**
 * The library's coders are compiled ahead (scripts/proto-coders.mjs → generated/coders.ts). Differential test against
 * proto-loader parsing the .proto files and protobufjs generating its coders at run time: for every message type,
 * seeded random objects (every field kind: scalars at their edges, 64-bit as strings, bytes, enums by name and
 * number, nested messages, repeated fields, maps, oneofs) serialize to the same bytes, and those bytes, plus each
 * field on its own, deserialize to the same objects.
 */

type Codec = { serialize(value: object): Buffer; deserialize(bytes: Buffer): object };

const protobuf = createRequire(createRequire(import.meta.url).resolve("@grpc/proto-loader"))("protobufjs") as typeof Protobuf;
const files = readdirSync(PROTO_DIR).filter((f) => f.endsWith(".proto"));
const reference = protoLoader.loadSync(
  files.map((f) => join(PROTO_DIR, f)),
  LOADER_OPTIONS,
);
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith("/") ? target : join(PROTO_DIR, target));
root.loadSync(
  files.map((f) => join(PROTO_DIR, f)),
  { keepCase: true },
);
root.resolveAll();

function ours(name: string): Codec {
  let node = protos().control as unknown as Record<string, unknown> | undefined;
  for (const part of name.split(".")) node = node?.[part] as Record<string, unknown> | undefined;
  assert.ok(node && typeof node.serialize === "function", `${name} has no coders in the library`);
  return node as unknown as Codec;
}

/** mulberry32: a small seeded generator, so a failure repeats. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALARS: Record<string, unknown[]> = {
  double: [0, 1.5, -2.25e300, Number.MAX_VALUE],
  float: [0, 1.5, -3.25],
  int32: [0, 1, -1, 2147483647, -2147483648],
  sint32: [0, -7, 2147483647, -2147483648],
  sfixed32: [0, -9, 2147483647],
  uint32: [0, 1, 4294967295],
  fixed32: [0, 4294967295],
  int64: ["0", "-1", "9223372036854775807", "-9223372036854775808", "1234567890123"],
  sint64: ["0", "-1", "-9223372036854775808"],
  sfixed64: ["0", "-5", "9223372036854775807"],
  uint64: ["0", "18446744073709551615", "42"],
  fixed64: ["0", "18446744073709551615"],
  bool: [true, false],
  string: ["", "a", "héllo ✓ \u0000 end", "x".repeat(300)],
  bytes: [Buffer.alloc(0), Buffer.from([0, 1, 2, 255]), Buffer.alloc(200, 7)],
};

function sampleValue(field: Protobuf.Field, rnd: () => number, depth: number): unknown {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rnd() * values.length)] as T;
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) {
    const names = Object.keys(resolved.values);
    return rnd() < 0.8 ? pick(names) : resolved.values[pick(names)];
  }
  if (resolved instanceof protobuf.Type) return sampleObject(resolved, rnd, depth + 1);
  const values = SCALARS[field.type];
  assert.ok(values, `no sample values for ${field.type}`);
  return pick(values);
}

function sampleObject(type: Protobuf.Type, rnd: () => number, depth: number): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  if (depth > 3) return object;
  const oneofTaken = new Set<string>();
  for (const field of type.fieldsArray) {
    field.resolve();
    if (rnd() < 0.35) continue;
    if (field.partOf) {
      if (oneofTaken.has(field.partOf.name)) continue;
      oneofTaken.add(field.partOf.name);
    }
    if (field instanceof protobuf.MapField) {
      const map: Record<string, unknown> = {};
      const keys = field.keyType === "string" ? ["a", "b-key", ""] : field.keyType === "bool" ? ["true", "false"] : ["1", "7", "300"];
      for (const key of keys.slice(0, 1 + Math.floor(rnd() * keys.length))) map[key] = sampleValue(field, rnd, depth);
      object[field.name] = map;
    } else if (field.repeated) {
      object[field.name] = Array.from({ length: Math.floor(rnd() * 4) }, () => sampleValue(field, rnd, depth));
    } else {
      object[field.name] = sampleValue(field, rnd, depth);
    }
  }
  return object;
}

const messageNames = Object.entries(reference)
  .filter(([, def]) => "format" in def && def.format === "Protocol Buffer 3 DescriptorProto")
  .map(([name]) => name);

describe("compiled protobuf coders (generated/coders.ts) against protobufjs's run-time coders", () => {
  test("every message type proto-loader lists is covered", () => {
    assert.ok(messageNames.length > 40, `only ${messageNames.length} message types`);
    for (const name of messageNames) ours(name);
  });

  for (const name of messageNames) {
    test(`${name}: same bytes and same objects`, () => {
      const theirs = reference[name] as unknown as Codec;
      const mine = ours(name);
      const type = root.lookupType(name);
      const rnd = random(name.length * 7919 + name.charCodeAt(name.length - 1));
      const samples: object[] = [{}];
      for (let i = 0; i < 40; i++) samples.push(sampleObject(type, rnd, 0));
      // Each field on its own as well, so no field hides behind another in the random ones.
      for (const field of type.fieldsArray) samples.push({ [field.name]: sampleObject(type, () => 0, 0)[field.name] });
      for (const sample of samples) {
        const bytes = theirs.serialize(sample);
        assert.deepEqual(mine.serialize(sample), bytes, `${name} serialize ${JSON.stringify(sample)}`);
        assert.deepEqual(mine.deserialize(bytes), theirs.deserialize(bytes), `${name} deserialize`);
      }
    });
  }

  test("refusals are worded as protobufjs words them", () => {
    const cases: Array<[string, unknown]> = [
      ["moby.buildkit.v1.SolveRequest", { Exporters: "not an array" }],
      ["moby.buildkit.v1.SolveRequest", []],
      ["moby.buildkit.v1.StatusResponse", { vertexes: [42] }],
      ["fsutil.types.Packet", { type: "NO_SUCH_PACKET" }],
    ];
    for (const [name, value] of cases) {
      const theirs = reference[name] as unknown as Codec;
      let expected: unknown;
      try {
        expected = theirs.serialize(value as object);
      } catch (error) {
        expected = error;
      }
      let actual: unknown;
      try {
        actual = ours(name).serialize(value as object);
      } catch (error) {
        actual = error;
      }
      if (expected instanceof Error) {
        assert.ok(actual instanceof Error, `${name}: ours accepted ${JSON.stringify(value)}`);
        assert.equal(actual.message, expected.message);
      } else assert.deepEqual(actual, expected);
    }
    const truncated = Buffer.from([0x0a, 0x05, 0x61]);
    assert.throws(() => ours("moby.buildkit.v1.StatusResponse").deserialize(truncated), /index out of range/);
  });

  test("google.protobuf.Any naming its type (@type) goes through protobufjs's wrapper, as at run time", () => {
    const name = "google.rpc.Status";
    const sample = { code: 3, message: "m", details: [{ "@type": "type.googleapis.com/google.protobuf.Timestamp", seconds: "5", nanos: 1 }] };
    const bytes = (reference[name] as unknown as Codec).serialize(sample);
    assert.deepEqual(ours(name).serialize(sample), bytes);
    assert.deepEqual(ours(name).deserialize(bytes), (reference[name] as unknown as Codec).deserialize(bytes));
  });
});
