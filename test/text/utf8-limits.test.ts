import { test } from "node:test";
import assert from "node:assert/strict";
import { headUtf8, tailUtf8 } from "../../src/text/index.js";

test("tailUtf8/headUtf8 never split a character, whatever the cut", () => {
  const text = "a€😀é".repeat(50);
  for (let max = 0; max <= 60; max++) {
    const tail = tailUtf8(text, max);
    const head = headUtf8(text, max);
    for (const part of [tail, head]) {
      assert.ok(Buffer.byteLength(part) <= max);
      assert.ok(!part.includes("\uFFFD"));
      assert.ok(Buffer.byteLength(part) >= max - 3, "drops at most one partial character");
    }
    assert.ok(text.endsWith(tail));
    assert.ok(text.startsWith(head));
  }
});
