import { test } from "node:test";
import assert from "node:assert/strict";
import { SESSION_METADATA, sessionMetadata } from "../../../src/buildkit/session/session.js";

test("one grpc-method entry per served method, plus uuid, shared key and name", () => {
  const methods = ["/grpc.health.v1.Health/Check", "/moby.buildkit.secrets.v1.Secrets/GetSecret", "/moby.filesync.v1.Auth/Credentials"];
  const md = sessionMetadata("sid", "key", "bkb", methods);
  assert.deepEqual(md.get(SESSION_METADATA.uuid), ["sid"]);
  assert.deepEqual(md.get(SESSION_METADATA.sharedKey), ["key"]);
  assert.deepEqual(md.get(SESSION_METADATA.name), ["bkb"]);
  assert.deepEqual(md.get(SESSION_METADATA.method), methods);
});
