import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { consoleProgress } from "../../../src/buildkit/progress/console.js";
import { ProgressTracker } from "../../../src/buildkit/progress/tracker.js";
import type { ProgressEvent } from "../../../src/buildkit/progress/events.js";
import { loadStatusFixture, log, response, status, ts, vertex } from "./status-messages.js";

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on("data", (c: Buffer) => chunks.push(c.toString("utf8")));
  return { out, text: () => chunks.join("") };
}

function replay(fixture: string, color = false): string {
  const { out, text } = capture();
  const printer = consoleProgress(out, { color });
  const tracker = new ProgressTracker({ onEvent: printer });
  for (const message of loadStatusFixture(fixture).messages) tracker.ingest(message);
  tracker.finish();
  printer.end();
  return text();
}

describe("consoleProgress", () => {
  it("prints a failed build like buildx --progress=plain", () => {
    // Same numbering, step lines and ERROR line as `/usr/bin/docker build --progress=plain` printed for this
    // Dockerfile on Engine 20.10.24 (the CLI also prints vertex digests, which we leave out).
    assert.equal(
      replay("engine-20.10-failed-run"),
      [
        "#1 [internal] load remote build context",
        "#1 DONE 0.0s",
        "",
        "#2 [internal] load metadata for 127.0.0.1:5055/busybox:latest",
        "#2 DONE 0.0s",
        "",
        "#3 [1/3] FROM 127.0.0.1:5055/busybox:latest",
        "#3 DONE 0.0s",
        "",
        "#4 [2/3] WORKDIR /w",
        "#4 CACHED",
        "",
        "#5 [3/3] RUN echo about-to-fail &&     echo to-stderr >&2 &&     exit 3",
        "#5 0.242 about-to-fail",
        "#5 0.243 to-stderr",
        "#5 ERROR: executor failed running [/bin/sh -c echo about-to-fail &&     echo to-stderr >&2 &&     exit 3]: exit code: 3",
        "------",
        " > [3/3] RUN echo about-to-fail &&     echo to-stderr >&2 &&     exit 3:",
        "0.242 about-to-fail",
        "0.243 to-stderr",
        "------",
        "",
      ].join("\n"),
    );
  });

  it("prints logs with the time since the step started, a line without newline, and export sub-statuses", () => {
    const text = replay("engine-20.10-multistage");
    assert.match(text, /^#5 \[build 3\/4\] RUN echo "hello from build" && .*\n#5 0\.247 hello from build\n#5 0\.248 line 1\n#5 0\.249 err 1\n/m);
    assert.match(text, /^#6 0\.555 no newline at end\n#6 DONE 0\.6s$/m);
    assert.match(text, /^#8 exporting to image\n#8 exporting layers 0\.1s done\n#8 writing image sha256:[0-9a-f]{64} done\n#8 DONE 0\.1s\n$/m);
  });

  it("closes a block with `#N ...` and prints the header again when output switches between running steps", () => {
    const { out, text } = capture();
    const printer = consoleProgress(out);
    const tracker = new ProgressTracker({ onEvent: printer });
    tracker.ingest(
      response({
        vertexes: [
          vertex({ digest: "sha256:a", name: "[a 2/2] RUN make a", started: ts(0) }),
          vertex({ digest: "sha256:b", name: "[b 2/2] RUN make b", started: ts(0) }),
        ],
      }),
    );
    tracker.ingest(response({ logs: [log("sha256:a", "a1\n", 1, 100), log("sha256:b", "b1\n", 1, 200), log("sha256:a", "a2\n", 2, 1300)] }));
    printer.end();
    assert.equal(
      text(),
      [
        "#1 [a 2/2] RUN make a",
        "#1 0.100 a1",
        "#1 ...",
        "",
        "#2 [b 2/2] RUN make b",
        "#2 0.200 b1",
        "#2 ...",
        "",
        "#1 [a 2/2] RUN make a",
        "#1 1.300 a2",
        "",
      ].join("\n"),
    );
  });

  it("shows transfer sizes when known, a running sub-status after 100 ms and then at 5 % steps, and warnings", () => {
    const { out, text } = capture();
    const handler = consoleProgress(out);
    const at = new Date(0);
    handler({ type: "step-started", id: "p", name: "pushing 127.0.0.1:5000/x:y", at, internal: false });
    handler({ type: "progress", id: "p", name: "", at, status: "sha256:abc", action: "pushing", current: 1_234_567, total: 1_234_567, done: true });
    handler({ type: "progress", id: "p", name: "", at, status: "sha256:def", current: 5, total: 20, done: false, startedAt: at });
    handler({ type: "progress", id: "p", name: "", at: new Date(300), status: "sha256:def", current: 10, total: 20, done: false, startedAt: at });
    handler({ type: "progress", id: "p", name: "", at: new Date(310), status: "sha256:def", current: 10.5, total: 20, done: false, startedAt: at });
    handler({ type: "step-completed", id: "p", name: "pushing 127.0.0.1:5000/x:y", at, durationMs: 1520 });
    handler({ type: "warning", at, message: "JSONArgsRecommended: JSON arguments recommended", url: "https://docs.docker.com/go/x/", location: { file: "Dockerfile", startLine: 7, endLine: 7 } });
    handler({ type: "counters", at, total: 1, completed: 1, cached: 0, running: 0, failed: 0 });
    assert.equal(
      text(),
      [
        "#1 pushing 127.0.0.1:5000/x:y",
        "#1 sha256:abc 1.23MB / 1.23MB done",
        "#1 sha256:def 10B / 20B 0.3s",
        "#1 DONE 1.5s",
        "",
        "WARNING: JSONArgsRecommended: JSON arguments recommended (Dockerfile:7)",
        "  More info: https://docs.docker.com/go/x/",
        "",
      ].join("\n"),
    );
  });

  it("colours errors, warnings and cached steps only when asked", () => {
    const plain = replay("engine-20.10-failed-run", false);
    const colored = replay("engine-20.10-failed-run", true);
    assert.ok(!plain.includes("\x1b["));
    const ESC = "\x1b";
    assert.ok(colored.includes(`#5 ${ESC}[31mERROR: executor failed running`));
    assert.ok(colored.includes(`#4 ${ESC}[34mCACHED${ESC}[0m`));
    assert.equal(colored.split(`${ESC}[31m`).join("").split(`${ESC}[34m`).join("").split(`${ESC}[0m`).join(""), plain);
  });

  it("shows steps stopped by cancellation as CANCELED, and fewer decimals for late log lines", () => {
    const { out, text } = capture();
    const handler = consoleProgress(out);
    const start = new Date(1_000_000);
    const later = (ms: number) => new Date(start.getTime() + ms);
    handler({ type: "step-started", id: "s", name: "[2/2] RUN ./slow-tests", at: start, internal: false });
    handler({ type: "log", id: "s", name: "", at: later(9_999), stream: "stdout", data: "a\n" });
    handler({ type: "log", id: "s", name: "", at: later(42_123), stream: "stdout", data: "b\n" });
    handler({ type: "log", id: "s", name: "", at: later(123_456), stream: "stdout", data: "c\n" });
    // Engine 20.10.24 / buildkitd v0.11.6 text for a RUN killed by a cancelled solve (docs/buildkit-wire.md#cancel).
    handler({ type: "step-failed", id: "s", name: "", at: later(130_000), error: "executor failed running [/bin/sh -c ./slow-tests]: exit code: 137: context canceled: context canceled" });
    handler.end();
    assert.equal(text(), "#1 [2/2] RUN ./slow-tests\n#1 9.999 a\n#1 42.12 b\n#1 123.5 c\n#1 CANCELED\n");
  });

  it("numbers steps in order of first print; a step starting while another's block is open waits for output", () => {
    const { out, text } = capture();
    const handler = consoleProgress(out);
    const events: ProgressEvent[] = [
      { type: "step-started", id: "w", name: "[1/3] RUN w", at: new Date(1000), internal: false },
      { type: "log", id: "x", name: "", at: new Date(1000), stream: "stdout", data: "early\n" },
      { type: "step-started", id: "y", name: "[3/3] RUN y", at: new Date(1000), internal: false },
      { type: "step-completed", id: "y", name: "[3/3] RUN y", at: new Date(1200), durationMs: 200 },
      { type: "step-completed", id: "w", name: "[1/3] RUN w", at: new Date(1300), durationMs: 300 },
    ];
    for (const e of events) handler(e);
    handler.end();
    assert.equal(
      text(),
      "#1 [1/3] RUN w\n#1 ...\n\n#2\n#2 0.000 early\n#2 ...\n\n#3 [3/3] RUN y\n#3 DONE 0.2s\n\n#1 [1/3] RUN w\n#1 DONE 0.3s\n",
    );
  });

  it("prints a step's warnings in its block, and the failed steps' last log lines at the end", () => {
    const { out, text } = capture();
    const handler = consoleProgress(out);
    const at = new Date(0);
    handler({ type: "step-started", id: "r", name: "[2/2] RUN make", at, internal: false });
    handler({ type: "warning", id: "r", at, message: "JSONArgsRecommended: JSON arguments recommended" });
    for (let i = 1; i <= 12; i++) handler({ type: "log", id: "r", name: "", at: new Date(i * 10), stream: "stdout", data: `line ${i}\n` });
    handler({ type: "step-failed", id: "r", name: "", at: new Date(200), error: "process \"/bin/sh -c make\" did not complete successfully: exit code: 2" });
    handler.end();
    const lines = text().split("\n");
    assert.equal(lines[1], "#1 WARN: JSONArgsRecommended: JSON arguments recommended");
    assert.deepEqual(lines.slice(-15), [
      "#1 ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 2",
      "------",
      " > [2/2] RUN make:",
      ...Array.from({ length: 10 }, (_, k) => `0.${String((k + 3) * 10).padStart(3, "0")} line ${k + 3}`),
      "------",
      "",
    ]);
  });
});

describe("consoleProgress through a status that has no size", () => {
  it("prints the sub-status name and done", () => {
    const { out, text } = capture();
    const printer = consoleProgress(out);
    const tracker = new ProgressTracker({ onEvent: printer });
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:c", name: "[internal] load build context", started: ts(0) })] }));
    tracker.ingest(response({ statuses: [status({ vertex: "sha256:c", ID: "transferring context:", current: "39", completed: ts(2) })] }));
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:c", name: "[internal] load build context", started: ts(0), completed: ts(3) })] }));
    printer.end();
    assert.equal(text(), "#1 [internal] load build context\n#1 transferring context: 39B done\n#1 DONE 0.0s\n");
  });
});
