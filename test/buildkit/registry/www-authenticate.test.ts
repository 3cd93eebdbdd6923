import { test } from "node:test";
import assert from "node:assert/strict";
import { parseWwwAuthenticate } from "../../../src/buildkit/registry/www-authenticate.js";

test("a Distribution bearer challenge with quoted params", () => {
  const header = 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:o/a:pull,push"';
  assert.deepEqual(parseWwwAuthenticate(header), [
    { scheme: "bearer", params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:o/a:pull,push" } },
  ]);
});

test("basic challenge, unquoted values, escapes and several challenges", () => {
  assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm"'), [{ scheme: "basic", params: { realm: "Registry Realm" } }]);
  assert.deepEqual(parseWwwAuthenticate('Basic realm=x, Bearer realm="a\\"b", error="insufficient_scope"'), [
    { scheme: "basic", params: { realm: "x" } },
    { scheme: "bearer", params: { realm: 'a"b', error: "insufficient_scope" } },
  ]);
});

test("missing or empty header: no challenge", () => {
  assert.deepEqual(parseWwwAuthenticate(null), []);
  assert.deepEqual(parseWwwAuthenticate(""), []);
});
