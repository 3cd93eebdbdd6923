import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LogTail } from "../../../src/buildkit/progress/log-tail.js";

describe("LogTail", () => {
  it("keeps everything while under the cap", () => {
    const tail = new LogTail(1000);
    tail.append("a\nb\n");
    tail.append("c\r\n");
    assert.deepEqual(tail.lines(), ["a", "b", "c"]);
    assert.equal(tail.size, 7);
  });

  it("drops whole old pieces first and keeps the newest lines", () => {
    const tail = new LogTail(10);
    for (let i = 0; i < 10; i++) tail.append(`l${i}\n`);
    assert.deepEqual(tail.lines(), ["l7", "l8", "l9"]);
    assert.ok(tail.size <= 10);
  });

  it("cuts a piece larger than the cap to its end and drops the cut first line", () => {
    const tail = new LogTail(8);
    tail.append("first line\nsecond\nthird\n");
    assert.deepEqual(tail.lines(), ["third"]);
    assert.ok(tail.size <= 8);
  });

  it("never cuts inside a UTF-8 character and counts bytes, not characters", () => {
    const tail = new LogTail(7);
    tail.append("ééééé\n"); // 11 bytes
    const lines = tail.lines();
    assert.ok(tail.size <= 7, `size ${tail.size}`);
    assert.ok(lines.every((l) => !l.includes("\uFFFD")));
  });

  it("stays bounded over many appends", () => {
    const tail = new LogTail(4096);
    for (let i = 0; i < 200_000; i++) tail.append(`line ${i}\n`);
    assert.ok(tail.size <= 4096);
    assert.equal(tail.lines().at(-1), "line 199999");
  });
});
