import { test } from "node:test";
import assert from "node:assert/strict";
import { protos } from "../src/buildkit/proto.js";

test("every trimmed proto loads and exposes its service", () => {
  const p = protos();
  assert.equal(typeof p.control.moby.buildkit.v1.Control, "function");
  assert.equal(typeof p.secrets.moby.buildkit.secrets.v1.Secrets, "function");
  assert.equal(typeof p.auth.moby.filesync.v1.Auth, "function");
  assert.equal(typeof p.filesync.moby.filesync.v1.FileSync, "function");
  assert.equal(typeof p.health.grpc.health.v1.Health, "function");
  assert.ok(p.status.google.rpc.Status);
});

test("an empty Cache is still encoded on the wire (docs/buildkit-wire.md#proto-rules)", () => {
  const solve = protos().control.moby.buildkit.v1.SolveRequest as unknown as { serialize(v: object): Buffer };
  const bytes = solve.serialize({ Ref: "r", Cache: {} });
  // field 8, wire type 2 = 0x42, then length 0
  assert.ok(bytes.includes(Buffer.from([0x42, 0x00])));
});
