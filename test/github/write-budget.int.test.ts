import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DEFAULT_TRANSIT_MARGIN_MS, WriteBudget, type Permit } from "../../src/github/write-budget.js";
import { testStack } from "../support/stack/env.js";
import { redisForTest } from "./redis-test-keys.js";

const run = promisify(execFile);

function maxInAnyWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[i] as number) - (sorted[j] as number) >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

const granted = (p: Permit): number => {
  assert.equal(p.granted, true);
  return (p as { at: number }).at;
};

test("two instances and a child process together never exceed the window", { timeout: 120_000 }, async () => {
  const { redis, prefix, connect, cleanup } = await redisForTest("budget");
  try {
    const windows = [{ windowMs: 1000, max: 4 }];
    const transitMarginMs = 200;
    const a = new WriteBudget(redis, { prefix, windows, transitMarginMs, pollMs: 50 });
    const b = new WriteBudget(connect(), { prefix, windows, transitMarginMs, pollMs: 50 });
    const child = run(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./write-budget-child.ts", import.meta.url)), testStack().redisUrl, prefix, "8", "1000", "4", String(transitMarginMs)]);
    const here = await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => a.acquire("final", `a-${i}`)),
      ...Array.from({ length: 8 }, (_, i) => b.acquire(i % 2 ? "final" : "intermediate", `b-${i}`)),
    ]);
    const fromChild = JSON.parse((await child).stdout) as number[];
    const all = [...here.map(granted), ...fromChild];
    assert.equal(all.length, 24);
    assert.ok(fromChild.every((t) => t > 0), "every final in the child was granted");
    assert.equal(maxInAnyWindow(all, 1000 + transitMarginMs), 4);
  } finally {
    await cleanup();
  }
});

test("grants leave room for transit: writes that reach GitHub up to transitMarginMs late still fit every window", { timeout: 60_000 }, async () => {
  const { redis, prefix, cleanup } = await redisForTest("budget");
  try {
    const windows = [{ windowMs: 600, max: 3 }];
    const budget = new WriteBudget(redis, { prefix, windows, transitMarginMs: 400, pollMs: 20 });
    const times = (await Promise.all(Array.from({ length: 9 }, (_, i) => budget.acquire("final", `f${i}`)))).map(granted);
    // The worst case for GitHub's clock: an early write delayed by the whole margin, a later one not at all.
    assert.equal(maxInAnyWindow(times, 600 + 400), 3, `grants at ${times.map((t) => t - (times[0] as number))}`);
    assert.equal((await budget.usage())[0]?.max, 3);
  } finally {
    await cleanup();
  }
});

test("by default every grant holds its slot for the window plus a couple of seconds", async () => {
  const { redis, prefix, cleanup } = await redisForTest("budget");
  try {
    const budget = new WriteBudget(redis, { prefix, windows: [{ windowMs: 1000, max: 1 }], pollMs: 20 });
    assert.equal(budget.transitMarginMs, DEFAULT_TRANSIT_MARGIN_MS);
    assert.ok(DEFAULT_TRANSIT_MARGIN_MS >= 1000 && DEFAULT_TRANSIT_MARGIN_MS <= 5000);
    const first = granted(await budget.acquire("final", "a"));
    const second = granted(await budget.acquire("final", "b"));
    assert.ok(second - first >= 1000 + DEFAULT_TRANSIT_MARGIN_MS, `second grant ${second - first} ms after the first`);
  } finally {
    await cleanup();
  }
});

test("defaults stay under GitHub's secondary limits with headroom", async () => {
  const { redis, prefix, cleanup } = await redisForTest("budget");
  try {
    const budget = new WriteBudget(redis, { prefix });
    assert.deepEqual(budget.windows, [
      { windowMs: 60_000, max: 60 },
      { windowMs: 3_600_000, max: 400 },
    ]);
    assert.throws(() => new WriteBudget(redis, { prefix, windows: [{ windowMs: 1000, max: 0 }] }), RangeError);
  } finally {
    await cleanup();
  }
});

test("over budget, intermediate updates for one key coalesce to the latest", { timeout: 60_000 }, async () => {
  const { redis, prefix, connect, cleanup } = await redisForTest("budget");
  try {
    const windows = [{ windowMs: 800, max: 1 }];
    const a = new WriteBudget(redis, { prefix, windows, transitMarginMs: 50, pollMs: 20 });
    const b = new WriteBudget(connect(), { prefix, windows, transitMarginMs: 50, pollMs: 20 });
    granted(await a.acquire("final", "fill"));
    const waiting: Array<Promise<Permit>> = [];
    for (let i = 0; i < 4; i++) {
      waiting.push(a.acquire("intermediate", "checkrun:1"));
      await new Promise((r) => setTimeout(r, 30));
    }
    // The newest update comes from another process: it still wins.
    waiting.push(b.acquire("intermediate", "checkrun:1"));
    const results = await Promise.all(waiting);
    assert.deepEqual(
      results.map((r) => r.granted),
      [false, false, false, false, true],
    );
    assert.ok(results.slice(0, 4).every((r) => !r.granted && r.reason === "superseded"));
  } finally {
    await cleanup();
  }
});

test("finals are never dropped, go before waiting intermediates, and supersede those of their key", { timeout: 60_000 }, async () => {
  const { redis, prefix, cleanup } = await redisForTest("budget");
  try {
    const budget = new WriteBudget(redis, { prefix, windows: [{ windowMs: 500, max: 1 }], transitMarginMs: 50, pollMs: 20 });
    granted(await budget.acquire("final", "fill"));
    const otherIntermediate = budget.acquire("intermediate", "checkrun:other");
    const sameKeyIntermediate = budget.acquire("intermediate", "checkrun:7");
    await new Promise((r) => setTimeout(r, 50));
    const finals = [budget.acquire("final", "checkrun:7"), budget.acquire("final", "checkrun:7"), budget.acquire("final", "status:7")];
    const finalTimes = (await Promise.all(finals)).map(granted);
    const other = granted(await otherIntermediate);
    assert.deepEqual(await sameKeyIntermediate, { granted: false, reason: "superseded" });
    assert.ok(finalTimes.every((t) => t < other), `finals ${finalTimes} before the intermediate ${other}`);
  } finally {
    await cleanup();
  }
});

test("an aborted final stops waiting and no longer holds intermediates back", { timeout: 30_000 }, async () => {
  const { redis, prefix, cleanup } = await redisForTest("budget");
  try {
    const budget = new WriteBudget(redis, { prefix, windows: [{ windowMs: 300, max: 1 }], transitMarginMs: 50, pollMs: 20 });
    granted(await budget.acquire("final", "fill"));
    const ac = new AbortController();
    const final = budget.acquire("final", "x", { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 40));
    ac.abort(new Error("build cancelled"));
    await assert.rejects(final, /build cancelled/);
    assert.equal(await redis.zcard(`${prefix}:finals`), 0);
    granted(await budget.acquire("intermediate", "y"));
  } finally {
    await cleanup();
  }
});

test("every key the budget writes has a TTL, and usage() reports the window", async () => {
  const { redis, prefix, cleanup } = await redisForTest("budget");
  try {
    const budget = new WriteBudget(redis, { prefix, windows: [{ windowMs: 5000, max: 10 }] });
    for (let i = 0; i < 3; i++) granted(await budget.acquire(i ? "intermediate" : "final", `k${i}`));
    const keys = await redis.keys(`${prefix}:*`);
    assert.ok(keys.length >= 4);
    for (const key of keys) assert.ok((await redis.pttl(key)) > 0, `${key} has a TTL`);
    assert.deepEqual(await budget.usage(), [{ windowMs: 5000, max: 10, used: 3 }]);
  } finally {
    await cleanup();
  }
});

test("finals are granted in the order they arrived, across instances", { timeout: 30_000 }, async () => {
  const { redis, prefix, connect, cleanup } = await redisForTest("budget");
  try {
    const windows = [{ windowMs: 200, max: 1 }];
    const a = new WriteBudget(redis, { prefix, windows, transitMarginMs: 20, pollMs: 10 });
    const b = new WriteBudget(connect(), { prefix, windows, transitMarginMs: 20, pollMs: 10 });
    granted(await a.acquire("final", "fill"));
    const order: Array<Promise<Permit>> = [];
    for (let i = 0; i < 5; i++) {
      order.push((i % 2 ? b : a).acquire("final", `f${i}`));
      await new Promise((r) => setTimeout(r, 15));
    }
    const times = (await Promise.all(order)).map(granted);
    assert.deepEqual([...times].sort((x, y) => x - y), times, `granted in arrival order: ${times}`);
  } finally {
    await cleanup();
  }
});
