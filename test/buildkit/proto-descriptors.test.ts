import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import * as protoLoader from "@grpc/proto-loader";
import { LOADER_OPTIONS, PROTO_DIR, protos } from "../../src/buildkit/proto.js";

interface MethodLike {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  originalName?: string;
  requestType: { type: unknown };
  responseType: { type: unknown };
  options: unknown;
}

/** The grpc object at a dotted name (`moby.buildkit.v1.Control`). */
function at(root: unknown, name: string): Record<string, unknown> {
  let node = root as Record<string, unknown> | undefined;
  for (const part of name.split(".")) node = node?.[part] as Record<string, unknown> | undefined;
  assert.ok(node, `${name} is missing from the precompiled descriptors`);
  return node;
}

describe("precompiled proto descriptors (generated/descriptors.ts)", () => {
  // The same answers as parsing each .proto at run time: every message, enum and method of every file, with the
  // descriptor proto-loader derives for it (field numbers, types, labels, oneofs, options).
  for (const file of readdirSync(PROTO_DIR).filter((f) => f.endsWith(".proto"))) {
    test(`${file}: every type and method equals the one parsed from the .proto`, () => {
      const parsed = protoLoader.loadSync(join(PROTO_DIR, file), LOADER_OPTIONS);
      const loaded = protos().control as unknown;
      let compared = 0;
      for (const [name, def] of Object.entries(parsed)) {
        const ours = at(loaded, name);
        if ("format" in def) {
          assert.deepEqual(ours.type, def.type, name);
          assert.equal(ours.format, def.format, name);
        } else {
          const service = ours.service as Record<string, MethodLike>;
          for (const [method, m] of Object.entries(def as Record<string, MethodLike>)) {
            const o = service[method];
            assert.ok(o, `${name}.${method}`);
            assert.deepEqual(
              [o.path, o.requestStream, o.responseStream, o.originalName, o.requestType.type, o.responseType.type, o.options],
              [m.path, m.requestStream, m.responseStream, m.originalName, m.requestType.type, m.responseType.type, m.options],
              `${name}.${method}`,
            );
          }
        }
        compared++;
      }
      assert.ok(compared > 0, `${file} defines nothing`);
    });
  }
});
