import { test } from "node:test";
import assert from "node:assert/strict";
import { TokenCache } from "../../../src/buildkit/registry/token-cache.js";

test("a token is served until shortly before expires_in, then dropped", () => {
  let now = 1_000_000;
  const cache = new TokenCache(() => now);
  cache.set("scope-a", "t1", 300);
  assert.equal(cache.get("scope-a"), "t1");
  assert.equal(cache.get("scope-b"), undefined);
  now += 269_000;
  assert.equal(cache.get("scope-a"), "t1");
  now += 2_000;
  assert.equal(cache.get("scope-a"), undefined);
});

test("a missing expires_in means 60 s; delete forgets a token", () => {
  let now = 0;
  const cache = new TokenCache(() => now);
  cache.set("k", "t", undefined);
  now = 44_000;
  assert.equal(cache.get("k"), "t");
  now = 46_000;
  assert.equal(cache.get("k"), undefined);
  cache.set("k", "t2", 60);
  cache.delete("k");
  assert.equal(cache.get("k"), undefined);
});
