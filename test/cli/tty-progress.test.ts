import { test } from "node:test";
import assert from "node:assert/strict";
import type { ProgressEvent } from "../../src/buildkit/progress/events.js";
import { ttyProgress } from "../../src/cli/tty-progress.js";
import { capture } from "./cli-io.js";

test("the live view prints finished steps once and redraws the running block in place", () => {
  const out = capture();
  const tty = Object.assign(out.stream, { isTTY: true, columns: 60 }) as unknown as NodeJS.WriteStream;
  let clock = 1_000;
  const view = ttyProgress(tty, () => clock);
  const at = (ms: number) => new Date(ms);
  const events: ProgressEvent[] = [
    { type: "step-started", id: "s1", name: "[1/2] FROM busybox", at: at(1_000), internal: false },
    { type: "step-cached", id: "s1", name: "[1/2] FROM busybox", at: at(1_100) },
    { type: "step-started", id: "s2", name: "[2/2] RUN make all", at: at(1_200), internal: false },
    { type: "log", id: "s2", name: "[2/2] RUN make all", at: at(1_300), stream: "stdout", data: "compiling a very long module name that will not fit in sixty columns\n" },
    { type: "counters", total: 2, completed: 1, cached: 1, running: 1, failed: 0, at: at(1_300) },
    { type: "step-failed", id: "s2", name: "[2/2] RUN make all", at: at(3_500), error: "exit code: 2", durationMs: 2_300 },
  ];
  for (const event of events) {
    clock = event.at.getTime();
    view.handler(event);
  }
  view.stop();
  view.stop();
  const text = out.text();
  assert.match(text, / ✔ \[1\/2\] FROM busybox CACHED\n/);
  assert.match(text, / ✖ \[2\/2\] RUN make all: exit code: 2\n/);
  assert.match(text, /\[\+\] Building 2\.5s \(1\/2\)/);
  // The running block is erased (cursor up + clear) before each redraw.
  assert.ok(text.includes("\x1b[2A\x1b[J") || text.includes("\x1b[1A\x1b[J"));
  const ansi = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*[A-Za-z]", "g");
  for (const line of text.replace(ansi, "").split("\n")) assert.ok(line.length <= 60, `too wide: ${line}`);
});
