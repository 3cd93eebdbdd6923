import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Redactor } from "../../src/buildkit/index.js";
import type { ProgressEvent } from "../../src/buildkit/progress/events.js";
import type { BuildProgress } from "../../src/github/check-run-output.js";
import type { LogRecord } from "../../src/trail/log-records.js";
import { LogStore } from "../../src/trail/log-store.js";
import { LogWriter } from "../../src/trail/log-writer.js";
import { ProgressBridge } from "../../src/trail/progress-bridge.js";
import { redisForTest } from "../github/redis-test-keys.js";

let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
let store: LogStore;
before(async () => {
  redisCtx = await redisForTest("progress-bridge");
  store = new LogStore(redisCtx.redis, { prefix: `${redisCtx.prefix}:logs` });
});
after(async () => redisCtx.cleanup());

const at = new Date();
const base = { name: "[2/3] RUN make", at };

test("steps, whole log lines and warnings reach the log store (redacted); counters go to the check run without waiting", async () => {
  await store.open("b1");
  const writer = new LogWriter(store, "b1", { redactor: new Redactor(["s3cr3t"]), flushMs: 10 });
  const sent: BuildProgress[] = [];
  let release!: () => void;
  const slow = new Promise<void>((r) => (release = r));
  const bridge = new ProgressBridge(writer, async (p) => {
    sent.push(p);
    await slow;
  });
  const events: ProgressEvent[] = [
    { type: "step-started", id: "v1", ...base, index: 2, total: 3, internal: false },
    { type: "log", id: "v1", ...base, stream: "stdout", data: "compiling a" },
    { type: "log", id: "v1", ...base, stream: "stdout", data: "nd b\r\nusing s3cr3t\n" },
    { type: "counters", total: 4, completed: 2, cached: 1, running: 1, failed: 0, at },
    { type: "log", id: "v1", ...base, stream: "stderr", data: "no newline at the end" },
    { type: "warning", id: "v1", message: "FromAsCasing", detail: "use AS", at },
    { type: "step-completed", id: "v1", ...base, durationMs: 5 },
  ];
  for (const e of events) bridge.onEvent(e);
  bridge.close();
  assert.deepEqual(sent, [{ stepsDone: 2, stepsTotal: 4, cachedSteps: 1, currentStep: "[2/3] RUN make" }], "progress sent, not awaited");
  assert.deepEqual(bridge.progress, { stepsDone: 2, stepsTotal: 4, cachedSteps: 1, currentStep: "[2/3] RUN make" });
  await writer.finish("success");
  release();

  const snapshot = await store.read("b1");
  const records = (snapshot?.entries ?? []).flatMap((e) => ("records" in e ? e.records : []));
  const expected: LogRecord[] = [
    { t: "step", step: "v1", name: "[2/3] RUN make", status: "running" },
    { t: "line", step: "v1", text: "compiling and b" },
    { t: "line", step: "v1", text: "using ***" },
    { t: "line", step: "v1", text: "WARNING: FromAsCasing\nuse AS" },
    { t: "line", step: "v1", text: "no newline at the end" },
    { t: "step", step: "v1", name: "[2/3] RUN make", status: "done" },
    { t: "end", outcome: "success" },
  ];
  assert.deepEqual(records, expected);
});

test("a failed step is marked as such with its error and exit code; a sink failure is handed to the error callback", async () => {
  await store.open("b2");
  const writer = new LogWriter(store, "b2", { flushMs: 10 });
  const errors: unknown[] = [];
  const bridge = new ProgressBridge(writer, async () => Promise.reject(new Error("GitHub 502")), (e) => errors.push(e));
  bridge.onEvent({ type: "step-started", id: "v9", ...base, internal: false });
  bridge.onEvent({ type: "counters", total: 1, completed: 0, cached: 0, running: 1, failed: 0, at });
  bridge.onEvent({ type: "step-failed", id: "v9", ...base, error: "exit code: 2" });
  await writer.finish("failure");
  await new Promise((r) => setImmediate(r));
  assert.equal((errors[0] as Error | undefined)?.message, "GitHub 502");
  const records = ((await store.read("b2"))?.entries ?? []).flatMap((e) => ("records" in e ? e.records : []));
  assert.deepEqual(records.slice(1, 3), [
    { t: "step", step: "v9", name: "[2/3] RUN make", status: "error", exitCode: 2 },
    { t: "line", step: "v9", text: "exit code: 2" },
  ]);
});

test("the bridge keeps the build's most recent log lines, bounded, whatever step wrote them", async () => {
  await store.open("b3");
  const writer = new LogWriter(store, "b3", { flushMs: 10 });
  const bridge = new ProgressBridge(writer, undefined);
  bridge.onEvent({ type: "step-started", id: "v1", ...base, internal: false });
  const line = `${"x".repeat(99)}\n`;
  for (let i = 0; i < 2000; i++) bridge.onEvent({ type: "log", id: "v1", name: base.name, stream: "stdout", data: line, at });
  bridge.onEvent({ type: "log", id: "v2", name: "[3/3] RUN other", stream: "stderr", data: "the very last line\n", at });
  const recent = bridge.recentLines();
  assert.equal(recent.at(-1), "the very last line");
  assert.ok(Buffer.byteLength(recent.join("\n")) <= 64 * 1024, "bounded to 64 KiB");
  assert.ok(recent.length > 100, "many lines kept");
  await writer.finish("failure");
});

test("Dockerfile check warnings become findings: once each, on the repository's Dockerfile path; other warnings do not", async () => {
  await store.open("b-findings");
  const writer = new LogWriter(store, "b-findings", { redactor: new Redactor(), flushMs: 10 });
  const bridge = new ProgressBridge(writer, undefined, undefined, { inContext: "Dockerfile", path: "services/api/Dockerfile" });
  const url = "https://docs.docker.com/go/dockerfile/rule/from-as-casing/";
  const casing: ProgressEvent = {
    type: "warning",
    id: "v0",
    message: "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
    detail: "The 'as' keyword should match the case of the 'from' keyword",
    url,
    location: { file: "Dockerfile", startLine: 1, endLine: 1 },
    at,
  };
  // A two-platform build reports each finding once per platform.
  bridge.onEvent(casing);
  bridge.onEvent({ ...casing, id: "v1" });
  bridge.onEvent({ type: "warning", message: "cache import from r:c failed: not found — building without it", at });
  bridge.onEvent({ type: "warning", id: "v2", message: "JSONArgsRecommended: JSON arguments recommended for CMD (line 9)", location: { file: "other/Dockerfile", startLine: 9, endLine: 9 }, at });
  assert.deepEqual(bridge.findings(), [
    {
      rule: "FromAsCasing",
      message: "'as' and 'FROM' keywords' casing do not match (line 1)",
      description: "The 'as' keyword should match the case of the 'from' keyword",
      url,
      location: { file: "services/api/Dockerfile", startLine: 1, endLine: 1 },
    },
    { rule: "JSONArgsRecommended", message: "JSON arguments recommended for CMD (line 9)", location: { file: "other/Dockerfile", startLine: 9, endLine: 9 } },
  ]);
  await writer.finish("success");
});
