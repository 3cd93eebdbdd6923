import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_OUTPUT_BYTES, renderFailed, renderLogTail, renderSucceeded, statusDescription, formatDuration } from "../../src/github/check-run-output.js";
import { stripAnsi } from "../../src/text/index.js";

test("renderLogTail keeps short logs whole and cuts long ones to the byte budget, marked at the top", () => {
  assert.equal(renderLogTail(["one", "two"]), "```text\none\ntwo\n```");
  assert.equal(renderLogTail(""), "");
  for (const max of [1000, 1001, 1002, 1003]) {
    const out = renderLogTail(Array.from({ length: 400 }, (_, i) => `${i} 😀€`), max);
    assert.ok(Buffer.byteLength(out) <= max);
    assert.ok(!out.includes("\uFFFD"));
    assert.match(out, /^\*\*Log truncated/);
    assert.match(out, /\n399 😀€\n```$/);
    assert.match(out, /```text\n\d+ 😀€\n/, "starts on a whole line");
  }
});

test("a log containing fences gets a longer fence", () => {
  const out = renderLogTail("```\ncode\n````");
  assert.match(out, /^`{5}text\n/);
  assert.match(out, /\n`{5}$/);
});

test("the full 65,535-byte budget holds for a huge log", () => {
  const out = renderLogTail("x€".repeat(200_000));
  assert.ok(Buffer.byteLength(out) <= MAX_OUTPUT_BYTES);
  assert.ok(Buffer.byteLength(out) > MAX_OUTPUT_BYTES - 200);
});

test("ANSI escapes are stripped from check-run text", () => {
  assert.equal(stripAnsi("\u001b[1;31merror\u001b[0m \u001b]8;;http://x\u0007link\u001b]8;;\u0007"), "error link");
  const f = renderFailed("api", { message: "\u001b[31mboom\u001b[0m", log: ["\u001b[32mok\u001b[0m"] });
  assert.ok(!f.summary.includes("\u001b") && !(f.text ?? "").includes("\u001b"));
});

test("summary of a success names refs, digest, duration, cached and done steps", () => {
  const out = renderSucceeded("api", { tags: ["r.test/a/api:main"], pushed: true, digest: "sha256:abc", durationMs: 3_725_000, stepsDone: 7, stepsTotal: 9, cachedSteps: 3, platforms: ["linux/amd64"] });
  assert.equal(out.title, "Built in 1h 2m");
  for (const part of ["`r.test/a/api:main`", "`sha256:abc`", "7/9 steps done, 3 cached", "`linux/amd64`", "```sh\ndocker pull r.test/a/api@sha256:abc\n```"]) assert.ok(out.summary.includes(part), part);
  assert.equal(formatDuration(59_400), "59s");
});

test("status descriptions fit in 140 characters", () => {
  const d = statusDescription(`Failed at ${"x".repeat(300)}`);
  assert.equal([...d].length, 140);
  assert.ok(d.endsWith("…"));
});
