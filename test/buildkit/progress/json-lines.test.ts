import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { jsonLinesProgress } from "../../../src/buildkit/progress/json-lines.js";
import { silentProgress } from "../../../src/buildkit/progress/silent.js";
import { combineHandlers } from "../../../src/buildkit/progress/combine.js";
import { ProgressTracker } from "../../../src/buildkit/progress/tracker.js";
import type { ProgressEvent } from "../../../src/buildkit/progress/events.js";
import { loadStatusFixture } from "./status-messages.js";

function lines(run: (out: PassThrough) => void): string[] {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on("data", (c: Buffer) => chunks.push(c.toString("utf8")));
  run(out);
  const text = chunks.join("");
  assert.ok(text.endsWith("\n"), "every object ends its line");
  return text.slice(0, -1).split("\n");
}

describe("jsonLinesProgress", () => {
  it("writes one JSON object per event, type first, ISO timestamps, log data as text", () => {
    const events: ProgressEvent[] = [];
    const output = lines((out) => {
      const tracker = new ProgressTracker({ onEvent: combineHandlers(jsonLinesProgress(out), (e) => events.push(e)) });
      for (const m of loadStatusFixture("engine-20.10-failed-run").messages) tracker.ingest(m);
      tracker.finish();
    });
    assert.equal(output.length, events.length);
    const parsed = output.map((line) => JSON.parse(line) as Record<string, unknown>);
    parsed.forEach((object, i) => {
      assert.equal(Object.keys(object)[0], "type");
      assert.equal(object.type, events[i]?.type);
      assert.equal(object.at, events[i]?.at.toISOString());
      assert.match(String(object.at), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    });
    const logs = parsed.filter((o) => o.type === "log");
    assert.deepEqual(
      logs.map((o) => [o.stream, o.data]),
      [
        ["stdout", "about-to-fail\n"],
        ["stderr", "to-stderr\n"],
      ],
    );
    const failed = parsed.find((o) => o.type === "step-failed");
    assert.deepEqual(Object.keys(failed ?? {}).sort(), ["at", "durationMs", "error", "id", "name", "type"]);
    const started = parsed.find((o) => o.type === "step-started" && o.index === 3);
    assert.deepEqual(
      { ...started, id: undefined, at: undefined },
      { type: "step-started", id: undefined, at: undefined, name: "[3/3] RUN echo about-to-fail &&     echo to-stderr >&2 &&     exit 3", internal: false, index: 3, total: 3 },
    );
    assert.deepEqual(parsed.at(-1), { ...parsed.at(-1), type: "counters", total: 5, completed: 4, cached: 1, running: 0, failed: 1 });
  });

  it("keeps a log line with newlines and quotes on one JSON line", () => {
    const output = lines((out) =>
      jsonLinesProgress(out)({ type: "log", id: "d", name: "n", at: new Date(0), stream: "stderr", data: 'a "quoted"\nb\n' }),
    );
    assert.equal(output.length, 1);
    assert.deepEqual(JSON.parse(output[0] ?? ""), {
      type: "log",
      at: "1970-01-01T00:00:00.000Z",
      id: "d",
      name: "n",
      stream: "stderr",
      data: 'a "quoted"\nb\n',
    });
  });
});

describe("silentProgress and combineHandlers", () => {
  it("silentProgress accepts events and the tracker still keeps the failure", () => {
    const tracker = new ProgressTracker({ onEvent: silentProgress });
    for (const m of loadStatusFixture("engine-20.10-failed-run").messages) tracker.ingest(m);
    assert.equal(tracker.failedStep()?.logTail.length, 2);
    assert.equal(tracker.handlerError, undefined);
  });

  it("combineHandlers calls every handler in order, even after one throws, then rethrows", () => {
    const seen: string[] = [];
    const combined = combineHandlers(
      () => {
        seen.push("first");
        throw new Error("first failed");
      },
      () => seen.push("second"),
      silentProgress,
    );
    const event: ProgressEvent = { type: "counters", at: new Date(), total: 0, completed: 0, cached: 0, running: 0, failed: 0 };
    assert.throws(() => combined(event), /first failed/);
    assert.deepEqual(seen, ["first", "second"]);
  });
});
