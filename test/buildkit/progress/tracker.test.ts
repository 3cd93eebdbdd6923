import { describe, it } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { ProgressTracker } from "../../../src/buildkit/progress/tracker.js";
import type { ProgressEvent } from "../../../src/buildkit/progress/events.js";
import { Redactor } from "../../../src/buildkit/redact.js";
import { loadStatusFixture, log, response, status, ts, vertex } from "./status-messages.js";

function record(options: ConstructorParameters<typeof ProgressTracker>[0] = {}) {
  const events: ProgressEvent[] = [];
  const tracker = new ProgressTracker({ ...options, onEvent: (e) => events.push(e) });
  return { tracker, events };
}

function ofType<T extends ProgressEvent["type"]>(events: ProgressEvent[], type: T) {
  return events.filter((e): e is Extract<ProgressEvent, { type: T }> => e.type === type);
}

function logText(events: ProgressEvent[], id: string, stream: "stdout" | "stderr"): string {
  return ofType(events, "log")
    .filter((e) => e.id === id && e.stream === stream)
    .map((e) => e.data)
    .join("");
}

function stepId(events: ProgressEvent[], namePrefix: string): string {
  const started = ofType(events, "step-started").find((e) => e.name.startsWith(namePrefix));
  assert.ok(started, `no step-started for ${namePrefix}`);
  return started.id;
}

describe("ProgressTracker on a real Engine 20.10.24 status stream", () => {
  it("emits one start and one end per step of a multi-stage build, with logs in between", () => {
    const { messages } = loadStatusFixture("engine-20.10-multistage");
    const { tracker, events } = record();
    for (const m of messages) tracker.ingest(m);
    tracker.finish();

    const started = ofType(events, "step-started");
    assert.deepEqual(
      started.map((e) => e.name).sort(),
      [
        "[build 1/4] FROM 127.0.0.1:5055/busybox:latest",
        "[build 2/4] WORKDIR /w",
        '[build 3/4] RUN echo "hello from build" &&     for i in 1 2 3; do echo "line $i"; echo "err $i" >&2; done',
        "[build 4/4] RUN printf 'no newline at end'",
        "[final 1/1] RUN echo done > /w/done",
        "[internal] load metadata for 127.0.0.1:5055/busybox:latest",
        "[internal] load remote build context",
        "exporting to image",
      ],
    );
    assert.equal(new Set(started.map((e) => e.id)).size, started.length, "each step starts once");

    for (const step of started) {
      const about = events.filter((e) => "id" in e && e.id === step.id);
      assert.equal(about[0]?.type, "step-started", `${step.name}: start comes first`);
      const terminal = about.filter((e) => ["step-cached", "step-completed", "step-failed"].includes(e.type));
      assert.equal(terminal.length, 1, `${step.name}: exactly one terminal event`);
      assert.equal(about.at(-1), terminal[0], `${step.name}: nothing after the terminal event`);
    }

    const run = started.find((e) => e.name.startsWith("[build 3/4]"));
    assert.deepEqual({ stage: run?.stage, index: run?.index, total: run?.total, internal: run?.internal }, {
      stage: "build",
      index: 3,
      total: 4,
      internal: false,
    });
    assert.equal(started.find((e) => e.name === "[internal] load remote build context")?.internal, true);

    const runId = stepId(events, "[build 3/4]");
    assert.equal(logText(events, runId, "stdout"), "hello from build\nline 1\nline 2\nline 3\n");
    assert.equal(logText(events, runId, "stderr"), "err 1\nerr 2\nerr 3\n");
    const completed = ofType(events, "step-completed").find((e) => e.id === runId);
    assert.equal(completed?.durationMs, 269, "completed - started from the daemon's timestamps");

    // The last line had no newline: it is passed on when the step completes, before its completion.
    const printfId = stepId(events, "[build 4/4]");
    assert.equal(logText(events, printfId, "stdout"), "no newline at end");
    const printfEvents = events.filter((e) => "id" in e && e.id === printfId).map((e) => e.type);
    assert.deepEqual(printfEvents, ["step-started", "log", "step-completed"]);

    assert.equal(ofType(events, "step-cached").length, 1, "WORKDIR was reported cached");
    const exporting = ofType(events, "progress").filter((e) => e.done);
    assert.deepEqual(
      exporting.map((e) => e.status.replace(/sha256:\w+/, "sha256:…")),
      ["exporting layers", "writing image sha256:…"],
    );

    assert.deepEqual({ ...tracker.counters }, { total: 8, completed: 8, cached: 1, running: 0, failed: 0 });
    const counters = ofType(events, "counters");
    assert.deepEqual(
      { ...counters.at(-1), at: undefined },
      { type: "counters", total: 8, completed: 8, cached: 1, running: 0, failed: 0, at: undefined },
    );
    assert.equal(tracker.failedStep(), undefined);
    assert.equal(tracker.steps().length, 8);
    assert.ok(tracker.steps().every((s) => s.status === "completed" || s.status === "cached"));
  });

  it("reports the failed step with its error and the tail of both streams", () => {
    const { messages, error } = loadStatusFixture("engine-20.10-failed-run");
    const { tracker, events } = record();
    for (const m of messages) tracker.ingest(m);
    tracker.finish();

    const failed = tracker.failedStep();
    assert.deepEqual(failed && { ...failed, digest: failed.digest.slice(0, 7) }, {
      digest: "sha256:",
      name: "[3/3] RUN echo about-to-fail &&     echo to-stderr >&2 &&     exit 3",
      error: error,
      logTail: ["about-to-fail", "to-stderr"],
    });
    const failure = ofType(events, "step-failed");
    assert.equal(failure.length, 1);
    assert.equal(failure[0]?.error, error);
    assert.equal(failure[0]?.durationMs, 266);
    assert.equal(tracker.counters.failed, 1);
    assert.equal(tracker.counters.running, 0);
    assert.equal(tracker.steps().find((s) => s.status === "failed")?.index, 3);
  });

  it("counts cached steps of a rebuild as completed and cached", () => {
    const { messages } = loadStatusFixture("engine-20.10-multistage-cached");
    const { tracker, events } = record();
    for (const m of messages) tracker.ingest(m);
    tracker.finish();
    assert.deepEqual({ ...tracker.counters }, { total: 8, completed: 8, cached: 4, running: 0, failed: 0 });
    assert.deepEqual(
      ofType(events, "step-cached").map((e) => e.name.split("]")[0]),
      ["[build 2/4", "[build 3/4", "[build 4/4", "[final 1/1"],
    );
    assert.equal(ofType(events, "log").length, 0);
  });
});

describe("ProgressTracker on a first build with a cache import that finds no cache (Engine 20.10.24)", () => {
  const REF = "127.0.0.1:5055/acme/api:buildcache-main";

  it("ends the cache import vertex as completed with a warning, not as a failed step", () => {
    const { messages, error } = loadStatusFixture("engine-20.10-cache-import-missing");
    assert.equal(error, undefined, "the recorded build succeeded");
    const { tracker, events } = record();
    for (const m of messages) tracker.ingest(m);
    tracker.finish();

    assert.deepEqual(ofType(events, "step-failed"), []);
    const importId = stepId(events, "importing cache manifest from ");
    const about = events.filter((e) => "id" in e && e.id === importId).map((e) => e.type);
    assert.deepEqual(about, ["step-started", "warning", "step-completed"]);
    const [warning] = ofType(events, "warning");
    assert.equal(warning?.id, importId);
    assert.equal(warning?.message, `cache import from ${REF} failed: not found — building without it`);
    const step = tracker.steps().find((s) => s.id === importId);
    assert.equal(step?.status, "completed");
    assert.equal(step?.error, undefined);
    const { total, completed, running, failed } = tracker.counters;
    assert.deepEqual({ total, completed, running, failed }, { total: 6, completed: 6, running: 0, failed: 0 });
    assert.equal(tracker.failedStep(), undefined);
  });

  it("keeps reporting the step that really failed when the cache import also found nothing", () => {
    const { tracker, events } = record();
    tracker.ingest(
      response({
        vertexes: [
          vertex({ digest: "sha256:i", name: `importing cache manifest from ${REF}`, started: ts(0), completed: ts(3), error: `${REF}: not found` }),
          vertex({ digest: "sha256:r", name: "[2/2] RUN false", started: ts(4), completed: ts(9), error: "executor failed running [/bin/sh -c false]: exit code: 1" }),
        ],
      }),
    );
    assert.deepEqual(ofType(events, "step-failed").map((e) => e.id), ["sha256:r"]);
    assert.equal(tracker.failedStep()?.name, "[2/2] RUN false");
    assert.equal(tracker.counters.failed, 1);
    // Seen again (the daemon repeats vertexes): still one terminal event and one warning.
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:i", name: `importing cache manifest from ${REF}`, started: ts(0), completed: ts(3), error: `${REF}: not found` })] }));
    assert.equal(ofType(events, "warning").length, 1);
    assert.equal(ofType(events, "step-completed").filter((e) => e.id === "sha256:i").length, 1);
  });

  it("still treats a cache import cut short by cancellation as cancelled, never as the cause", () => {
    const { tracker, events } = record();
    tracker.ingest(
      response({
        vertexes: [
          vertex({ digest: "sha256:i", name: `importing cache manifest from ${REF}`, started: ts(0), completed: ts(3), error: "context canceled" }),
        ],
      }),
    );
    assert.deepEqual(ofType(events, "warning"), []);
    assert.deepEqual(ofType(events, "step-failed").map((e) => e.id), ["sha256:i"]);
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:r", name: "[2/2] RUN sleep 9", started: ts(1), completed: ts(5), error: "exit code: 137" })] }));
    assert.equal(tracker.failedStep()?.name, "[2/2] RUN sleep 9");
  });
});

describe("ProgressTracker merging", () => {
  it("tolerates missing and zero timestamps", () => {
    const { tracker, events } = record();
    const before = Date.now();
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:a", name: "[1/2] FROM x" })] }));
    tracker.ingest(
      response({ vertexes: [vertex({ digest: "sha256:a", name: "[1/2] FROM x", completed: ts(50) })] }),
    );
    // A 0.8-era sender may send a zero timestamp instead of none.
    tracker.ingest(
      response({
        vertexes: [
          vertex({ digest: "sha256:b", name: "[2/2] RUN true", cached: true, started: { seconds: "0", nanos: 0 } }),
        ],
      }),
    );
    tracker.ingest(response({ logs: [log("sha256:c", "orphan line\n")] }));
    assert.deepEqual(
      events.filter((e) => e.type !== "counters").map((e) => [e.type, "id" in e ? e.id : ""]),
      [
        ["step-started", "sha256:a"],
        ["step-completed", "sha256:a"],
        ["step-started", "sha256:b"],
        ["step-cached", "sha256:b"],
        ["step-started", "sha256:c"],
        ["log", "sha256:c"],
      ],
    );
    const completed = ofType(events, "step-completed")[0];
    assert.equal(completed?.durationMs, 0, "start taken from completion when absent");
    const cached = ofType(events, "step-cached")[0];
    assert.ok(cached && cached.at.getTime() >= before, "no timestamp: time of receipt");
    assert.ok(events.every((e) => e.at instanceof Date && !Number.isNaN(e.at.getTime())));
  });

  it("fills in the name of a step whose log arrived before its vertex", () => {
    const { tracker } = record();
    tracker.ingest(response({ logs: [log("sha256:a", "early\n")] }));
    assert.equal(tracker.steps().length, 0, "not a step until the daemon reports the vertex");
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:a", name: "[build 2/3] RUN make", started: ts(1) })] }));
    assert.deepEqual(
      tracker.steps().map((s) => ({ name: s.name, stage: s.stage, index: s.index })),
      [{ name: "[build 2/3] RUN make", stage: "build", index: 2 }],
    );
  });

  it("passes log chunks through whole lines, keeping a partial line per step and stream", () => {
    const { tracker, events } = record();
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:a", name: "[1/1] RUN x", started: ts(0) })] }));
    tracker.ingest(response({ logs: [log("sha256:a", "one\ntw", 1), log("sha256:a", "E1", 2)] }));
    tracker.ingest(response({ logs: [log("sha256:a", "o\nthr", 1), log("sha256:a", "\nE2\n", 2)] }));
    tracker.ingest(response({ logs: [log("sha256:a", "ee\n", 1)] }));
    assert.deepEqual(
      ofType(events, "log").map((e) => [e.stream, e.data]),
      [
        ["stdout", "one\n"],
        ["stdout", "two\n"],
        ["stderr", "E1\nE2\n"],
        ["stdout", "three\n"],
      ],
    );
  });

  it("passes on output that arrives after its step ended at once, partial line included", () => {
    const { tracker, events } = record();
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:a", name: "[1/1] RUN x", started: ts(0), completed: ts(10) })] }));
    tracker.ingest(response({ logs: [log("sha256:a", "late line\nand no newline")] }));
    assert.deepEqual(ofType(events, "log").map((e) => e.data), ["late line\n", "and no newline"]);
  });

  it("never splits a UTF-8 character across events", () => {
    const { tracker, events } = record();
    const text = Buffer.from("grüße — ✓ done\n");
    const cut = text.indexOf(Buffer.from("✓")) + 1; // inside the 3-byte sequence
    tracker.ingest(response({ logs: [log("sha256:a", text.subarray(0, cut))] }));
    tracker.ingest(response({ logs: [log("sha256:a", text.subarray(cut))] }));
    assert.equal(logText(events, "sha256:a", "stdout"), "grüße — ✓ done\n");
  });

  it("redacts names, errors, logs (also a secret split across chunks), statuses and the log tail", () => {
    const secret = "s3cr3t-token-value";
    const { tracker, events } = record({ redactor: new Redactor([secret]) });
    tracker.ingest(
      response({ vertexes: [vertex({ digest: "sha256:a", name: `[1/1] RUN echo ${secret}`, started: ts(0) })] }),
    );
    tracker.ingest(response({ logs: [log("sha256:a", "token is s3cr3t-to")] }));
    tracker.ingest(response({ logs: [log("sha256:a", "ken-value ok\n")] }));
    tracker.ingest(response({ statuses: [status({ vertex: "sha256:a", ID: `pushing ${secret}`, completed: ts(5) })] }));
    tracker.ingest(
      response({
        vertexes: [
          vertex({
            digest: "sha256:a",
            name: `[1/1] RUN echo ${secret}`,
            started: ts(0),
            completed: ts(9),
            error: `exit code: 1 (${secret})`,
          }),
        ],
      }),
    );
    const all = JSON.stringify(events) + JSON.stringify(tracker.failedStep()) + JSON.stringify(tracker.steps());
    assert.ok(!all.includes(secret), "the secret appears nowhere");
    assert.ok(!all.includes("s3cr3t"), "no fragment of it either");
    assert.equal(logText(events, "sha256:a", "stdout"), "token is *** ok\n");
    assert.deepEqual(tracker.failedStep()?.logTail, ["token is *** ok"]);
    assert.equal(tracker.failedStep()?.name, "[1/1] RUN echo ***");
  });

  it("keeps only a bounded tail per step, ending with the newest lines", () => {
    const { tracker } = record({ logTailBytes: 100 });
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:a", name: "[1/1] RUN x", started: ts(0) })] }));
    for (let i = 0; i < 1000; i++) tracker.ingest(response({ logs: [log("sha256:a", `line ${i}\n`)] }));
    tracker.ingest(
      response({ vertexes: [vertex({ digest: "sha256:a", name: "[1/1] RUN x", completed: ts(1), error: "exit code: 1" })] }),
    );
    const tail = tracker.failedStep()?.logTail ?? [];
    assert.equal(tail.at(-1), "line 999");
    assert.ok(tail.join("\n").length <= 100, "within the byte cap");
    assert.ok(tail.length >= 5, "but as much as fits");
    assert.deepEqual(tail, tail.map((_, i) => `line ${1000 - tail.length + i}`), "consecutive, none cut");
  });

  it("passes on a huge line without newline instead of buffering it", () => {
    const { tracker, events } = record();
    const chunk = "x".repeat(10_000);
    for (let i = 0; i < 10; i++) tracker.ingest(response({ logs: [log("sha256:a", chunk)] }));
    const passed = logText(events, "sha256:a", "stdout").length;
    assert.ok(passed >= 80_000, `passed on ${passed} of 100000 bytes before any newline`);
    tracker.finish();
    assert.equal(logText(events, "sha256:a", "stdout").length, 100_000);
  });

  it("emits progress only when a sub-status changes, and counters only when they change", () => {
    const { tracker, events } = record();
    const v = vertex({ digest: "sha256:p", name: "pushing 127.0.0.1:5000/x:y", started: ts(0) });
    tracker.ingest(response({ vertexes: [v] }));
    const layer = { vertex: "sha256:p", ID: "sha256:abc", name: "pushing", total: "2000" };
    tracker.ingest(response({ statuses: [status({ ...layer, current: "500" })] }));
    tracker.ingest(response({ statuses: [status({ ...layer, current: "500" })] }));
    tracker.ingest(response({ statuses: [status({ ...layer, current: "2000", completed: ts(3) })] }));
    tracker.ingest(response({ vertexes: [v] }));
    assert.deepEqual(
      ofType(events, "progress").map((e) => [e.status, e.action, e.current, e.total, e.done]),
      [
        ["sha256:abc", "pushing", 500, 2000, false],
        ["sha256:abc", "pushing", 2000, 2000, true],
      ],
    );
    assert.equal(ofType(events, "counters").length, 1);
  });

  it("counts the vertexes of one progress group once, like buildx", () => {
    const { tracker } = record();
    const group = { id: "push-1", name: "pushing layers", weak: false };
    tracker.ingest(
      response({
        vertexes: [
          vertex({ digest: "sha256:l1", name: "pushing layer 1", progressGroup: group, started: ts(0) }),
          vertex({ digest: "sha256:l2", name: "pushing layer 2", progressGroup: group, started: ts(0), completed: ts(5) }),
          vertex({ digest: "sha256:x", name: "exporting to image", started: ts(0) }),
        ],
      }),
    );
    assert.deepEqual({ ...tracker.counters }, { total: 2, completed: 0, cached: 0, running: 2, failed: 0 });
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:l1", name: "pushing layer 1", progressGroup: group, started: ts(0), completed: ts(6) })] }));
    assert.deepEqual({ ...tracker.counters }, { total: 2, completed: 1, cached: 0, running: 1, failed: 0 });
    assert.equal(tracker.steps().length, 3, "steps() still lists every vertex");
  });

  it("turns warnings into events with location", () => {
    const { tracker, events } = record();
    tracker.ingest(
      response({
        warnings: [
          {
            vertex: "sha256:w",
            level: "1",
            short: Buffer.from("FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)"),
            detail: [Buffer.from("The 'as' keyword should match the case of the 'from' keyword")],
            url: "https://docs.docker.com/go/dockerfile/rule/from-as-casing/",
            info: { filename: "Dockerfile", data: Buffer.alloc(0), definition: null, language: "Dockerfile" },
            ranges: [{ start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }],
          },
        ],
      }),
    );
    const [warning] = ofType(events, "warning");
    assert.deepEqual({ ...warning, at: undefined }, {
      type: "warning",
      at: undefined,
      id: "sha256:w",
      message: "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
      detail: "The 'as' keyword should match the case of the 'from' keyword",
      url: "https://docs.docker.com/go/dockerfile/rule/from-as-casing/",
      location: { file: "Dockerfile", startLine: 1, endLine: 1 },
    });
  });

  it("blames the real failure, not the steps cancelled because of it", () => {
    const { tracker } = record();
    tracker.ingest(
      response({
        vertexes: [
          vertex({ digest: "sha256:a", name: "[a 2/2] RUN sleep 10", started: ts(0), completed: ts(5), error: "executor failed running [/bin/sh -c sleep 10]: exit code: 137: context canceled: context canceled" }),
          vertex({ digest: "sha256:b", name: "[b 2/2] RUN false", started: ts(0), completed: ts(5), error: "executor failed running [/bin/sh -c false]: exit code: 1" }),
        ],
      }),
    );
    assert.equal(tracker.failedStep()?.name, "[b 2/2] RUN false");
  });

  it("survives a handler that throws, and ignores messages after finish()", () => {
    const tracker = new ProgressTracker({
      onEvent: () => {
        throw new Error("handler broke");
      },
    });
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:a", name: "[1/1] RUN x", started: ts(0) })] }));
    assert.equal((tracker.handlerError as Error).message, "handler broke");
    tracker.finish();
    tracker.finish();
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:z", name: "late", started: ts(0) })] }));
    assert.equal(tracker.steps().length, 1);
  });
});

describe("ProgressTracker work per message", () => {
  it("looks at the other steps only for vertex messages, not for log chunks or empty messages", () => {
    const { tracker, events } = record();
    const ids = ["sha256:a", "sha256:b", "sha256:c"];
    tracker.ingest(response({ vertexes: ids.map((digest, i) => vertex({ digest, name: `[${i + 1}/3] RUN yes`, started: ts(0) })) }));
    // Count every walk over the steps (the counters were recomputed from all of them on every message).
    const records = (tracker as unknown as { records: Map<string, unknown> }).records;
    let walks = 0;
    const values = records.values.bind(records);
    records.values = () => {
      walks++;
      return values();
    };
    const chunk = Buffer.from("0123456789abcdef\n".repeat(2048));
    for (let i = 0; i < 3000; i++) {
      tracker.ingest(response({ logs: [log(ids[i % 3] ?? "", chunk)] }));
      tracker.ingest(response({})); // Engine 20.10 streams these by the hundred thousand
    }
    assert.equal(walks, 0);
    assert.equal(ofType(events, "log").length, 3000);

    // A state change still updates the counters.
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:a", name: "[1/3] RUN yes", started: ts(0), completed: ts(5) })] }));
    assert.equal(walks, 1);
    assert.deepEqual({ ...tracker.counters }, { total: 3, completed: 1, cached: 0, running: 2, failed: 0 });
  });
});

describe("ProgressTracker memory", () => {
  it("retains only a small, fixed amount however much a step logs (50 MB flood)", () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const retained = () => {
      gc();
      gc();
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };

    // 1 MiB of numbered lines, sent in chunks whose edges fall mid-line.
    const lines: string[] = [];
    for (let i = 0, length = 0; length < 1024 * 1024; i++) {
      const line = `build output line ${i} ${"=".repeat(i % 60)}\n`;
      lines.push(line);
      length += line.length;
    }
    const block = Buffer.from(lines.join(""));
    const chunkSize = 65_521;
    const floodBytes = 50 * 1024 * 1024;

    let passed = 0;
    const tracker = new ProgressTracker({
      onEvent: (e) => {
        if (e.type === "log") passed += Buffer.byteLength(e.data);
      },
      redactor: new Redactor(["not-in-the-log-secret"]),
    });
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:flood", name: "[1/1] RUN yes", started: ts(0) })] }));
    const baseline = retained();
    let sent = 0;
    let offset = 0;
    while (sent < floodBytes) {
      const end = Math.min(offset + chunkSize, block.length);
      const msg = Buffer.from(block.subarray(offset, end)); // a fresh buffer per message, as the wire gives
      tracker.ingest(response({ logs: [log("sha256:flood", msg, sent % 3 === 0 ? 2 : 1)] }));
      sent += msg.length;
      offset = end === block.length ? 0 : end;
    }
    const after = retained();
    tracker.finish();

    assert.equal(tracker.steps()[0]?.logBytes, sent);
    assert.equal(passed, sent, "every byte was passed on to the handler");
    const grown = after - baseline;
    assert.ok(grown < 2 * 1024 * 1024, `tracker state grew by ${grown} bytes for a ${sent}-byte log`);
  });
});
