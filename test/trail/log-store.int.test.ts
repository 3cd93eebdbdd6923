import { test } from "node:test";
import assert from "node:assert/strict";
import { Redactor } from "../../src/buildkit/index.js";
import { LogStore } from "../../src/trail/log-store.js";
import { LogWriter } from "../../src/trail/log-writer.js";
import type { LogRecord } from "../../src/trail/log-records.js";
import { redisForTest } from "../github/redis-test-keys.js";

const lines = (entries: Awaited<ReturnType<LogStore["read"]>>): string[] =>
  (entries?.entries ?? []).flatMap((e) => ("records" in e ? e.records.filter((r) => r.t === "line").map((r) => (r as { text: string }).text) : []));

test("open gives an unguessable URL-safe token, idempotently, that resolves to the build", async () => {
  const { redis, prefix, cleanup } = await redisForTest("logs");
  try {
    const store = new LogStore(redis, { prefix });
    const token = await store.open("build-1");
    assert.match(token, /^[A-Za-z0-9_-]{32}$/, "192 bits, base64url");
    assert.equal(await store.open("build-1"), token);
    assert.notEqual(await store.open("build-2"), token);
    assert.equal(await store.resolve(token), "build-1");
    assert.equal(await store.resolve("A".repeat(32)), null);
    assert.equal(await store.read("never-opened"), null);
    assert.equal(await store.append("never-opened", [{ t: "line", text: "x" }]), false);
  } finally {
    await cleanup();
  }
});

test("appended records read back in order; secrets are redacted before they reach Redis", async () => {
  const { redis, prefix, cleanup } = await redisForTest("logs");
  try {
    const store = new LogStore(redis, { prefix, secrets: ["app-wide-secret"] });
    await store.open("b");
    const records: LogRecord[] = [
      { t: "step", step: "s1", name: "[1/2] RUN echo", status: "running" },
      { t: "line", step: "s1", text: "token ghs_build_token and app-wide-secret here" },
      { t: "step", step: "s1", name: "[1/2] RUN echo", status: "done" },
    ];
    assert.equal(await store.append("b", records, { redactor: new Redactor(["ghs_build_token"]) }), true);
    await store.finish("b", "success");
    const snap = await store.read("b");
    assert.ok(snap);
    assert.equal(snap.done, true);
    assert.deepEqual(lines(snap), ["token *** and *** here"]);
    const all = snap.entries.flatMap((e) => ("records" in e ? e.records : []));
    assert.deepEqual(all.at(-1), { t: "end", outcome: "success" });
    for (const key of await redis.keys(`${prefix}:*`)) {
      const type = await redis.type(key);
      const dump = type === "stream" ? JSON.stringify(await redis.xrange(key, "-", "+")) : type === "hash" ? JSON.stringify(await redis.hgetall(key)) : String(await redis.get(key));
      assert.ok(!dump.includes("ghs_build_token") && !dump.includes("app-wide-secret"), `${key} holds no secret`);
    }
  } finally {
    await cleanup();
  }
});

test("the size cap keeps the head and a rolling tail, and marks the gap", async () => {
  const { redis, prefix, cleanup } = await redisForTest("logs");
  try {
    const store = new LogStore(redis, { prefix, maxBytes: 20_000, headBytes: 4_000 });
    await store.open("big");
    let cursorInTail: string | undefined;
    for (let i = 0; i < 300; i++) {
      await store.append("big", [{ t: "line", text: `line ${String(i).padStart(4, "0")} ${"x".repeat(150)}` }]);
      if (i === 150) cursorInTail = (await store.read("big", undefined, 100_000))?.lastId ?? undefined;
    }
    const snap = await store.read("big");
    assert.ok(snap);
    const stored = snap.entries.reduce((n, e) => n + ("records" in e ? Buffer.byteLength(JSON.stringify(e.records[0])) : 0), 0);
    assert.ok(stored <= 20_000, `${stored} bytes kept`);
    const text = lines(snap);
    assert.ok(text[0]?.startsWith("line 0000"), "the head is kept");
    assert.ok(text.at(-1)?.startsWith("line 0299"), "the latest lines are kept");
    const gapAt = snap.entries.findIndex((e) => "gapBytes" in e);
    assert.ok(gapAt > 0, "a gap entry after the head");
    const gap = snap.entries[gapAt] as { gapBytes: number };
    assert.ok(gap.gapBytes > 20_000, `${gap.gapBytes} bytes dropped`);
    assert.equal(snap.droppedBytes, gap.gapBytes);
    assert.equal(snap.entries.filter((e) => "gapBytes" in e).length, 1);
    // A live reader whose cursor was dropped learns about the gap, then gets what is left.
    const late = await store.read("big", cursorInTail);
    assert.ok(late && "gapBytes" in (late.entries[0] ?? {}));
    assert.ok(lines(late).at(-1)?.startsWith("line 0299"));
    // A reader that is up to date sees nothing new.
    assert.deepEqual((await store.read("big", snap.lastId ?? undefined))?.entries, []);
  } finally {
    await cleanup();
  }
});

test("log, metadata and token expire together", { timeout: 20_000 }, async () => {
  const { redis, prefix, cleanup } = await redisForTest("logs");
  try {
    const store = new LogStore(redis, { prefix, ttlMs: 1_500 });
    const token = await store.open("short");
    await store.append("short", [{ t: "line", text: "hello" }]);
    const keys = await redis.keys(`${prefix}:*`);
    assert.equal(keys.length, 3);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= 1_500, `${key}: ${ttl}`);
    }
    await new Promise((r) => setTimeout(r, 1_700));
    assert.equal(await store.resolve(token), null);
    assert.equal(await store.read("short"), null);
    assert.equal(await store.append("short", [{ t: "line", text: "late" }]), false);
    assert.deepEqual(await redis.keys(`${prefix}:*`), []);
  } finally {
    await cleanup();
  }
});

test("LogWriter batches lines into few writes and cuts overlong lines", async () => {
  const { redis, prefix, cleanup } = await redisForTest("logs");
  try {
    const store = new LogStore(redis, { prefix });
    await store.open("w");
    const writer = new LogWriter(store, "w", { flushMs: 1_000, redactor: new Redactor(["s3cr3t"]) });
    writer.step("v1", "[1/1] RUN make", "running");
    for (let i = 0; i < 1_000; i++) writer.line(`compiling ${i} with s3cr3t`, "v1");
    writer.line("y".repeat(40_000), "v1");
    writer.step("v1", "[1/1] RUN make", "error", 2);
    await writer.finish("failure", "make failed");
    assert.ok((await redis.xlen(`${prefix}:stream:w`)) <= 4, "batched");
    const snap = await store.read("w");
    const text = lines(snap);
    assert.equal(text.length, 1_001);
    assert.equal(text[999], "compiling 999 with ***");
    assert.match(text[1_000] ?? "", /^y+ … \[line cut: 40000 bytes\]$/);
    assert.ok(Buffer.byteLength(text[1_000] ?? "") < 17_000);
    assert.equal(snap?.done, true);
  } finally {
    await cleanup();
  }
});

test("LogWriter sends each full batch without waiting for the previous write, and the log keeps its order", async () => {
  const { redis, prefix, cleanup } = await redisForTest("logs");
  /** The real store, counting the appends whose reply has not come back yet. */
  class CountingStore extends LogStore {
    inFlight = 0;
    maxInFlight = 0;
    override async append(...args: Parameters<LogStore["append"]>): Promise<boolean> {
      this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
      try {
        return await super.append(...args);
      } finally {
        this.inFlight--;
      }
    }
  }
  try {
    const store = new CountingStore(redis, { prefix });
    await store.open("fast");
    const writer = new LogWriter(store, "fast", { batchBytes: 1024, flushMs: 60_000 });
    writer.step("v1", "[1/1] RUN yes", "running");
    for (let i = 0; i < 2_000; i++) writer.line(`line ${i}`, "v1");
    await writer.finish("failure");
    assert.ok(store.maxInFlight > 1, `the writes waited for each other (at most ${store.maxInFlight} in flight)`);
    assert.ok((await redis.xlen(`${prefix}:stream:fast`)) > 20, "many batches");
    const snap = await store.read("fast");
    assert.deepEqual(lines(snap), Array.from({ length: 2_000 }, (_, i) => `line ${i}`));
    assert.equal(snap?.done, true);
    const all = snap?.entries.flatMap((e) => ("records" in e ? e.records : [])) ?? [];
    assert.deepEqual(all.at(-1), { t: "end", outcome: "failure" });
  } finally {
    await cleanup();
  }
});
