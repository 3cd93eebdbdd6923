import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import { BodyWorkerPool } from "../../src/intake/body-worker-pool.js";
import { adaptPayload, examplePayload } from "../support/webhooks.js";

function pushBody(): Buffer {
  return Buffer.from(JSON.stringify(adaptPayload(examplePayload("push"))));
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(10);
  }
  return check();
}

describe("body worker pool: idle threads give their memory back", () => {
  const pool = new BodyWorkerPool(1, 100);
  after(() => pool.close());

  it("stops its thread once idle, and starts a fresh one for the next body", async () => {
    const body = pushBody();
    const first = pool.open();
    first.push(body.subarray(0, 100));
    first.push(body.subarray(100));
    const parsed = await first.parse("push");
    assert.equal(typeof parsed, "object");
    assert.equal(pool.liveThreads, 1);
    assert.ok(await waitFor(() => pool.liveThreads === 0, 5_000), "the idle thread was not stopped");

    const second = pool.open();
    assert.equal(pool.liveThreads, 1);
    second.push(body);
    const again = await second.parse("push");
    assert.deepEqual(again, parsed);
  });

  it("keeps a thread that still holds a body, and retires it after the body is dropped", async () => {
    const held = pool.open();
    held.push(Buffer.from("{"));
    await sleep(300);
    assert.equal(pool.liveThreads, 1, "a thread holding a body was stopped");
    held.drop();
    assert.ok(await waitFor(() => pool.liveThreads === 0, 5_000), "the thread was not stopped after the drop");
  });

  it("parses one body after another on its one thread", async () => {
    const body = pushBody();
    const sessions = [pool.open(), pool.open(), pool.open()];
    assert.equal(pool.liveThreads, 1);
    for (const s of sessions) s.push(Buffer.from(body));
    const results = await Promise.all(sessions.map((s) => s.parse("push")));
    assert.equal(results.length, 3);
    for (const r of results) assert.deepEqual(r, results[0]);
  });
});

describe("body worker pool: chunks", () => {
  const pool = new BodyWorkerPool(1, 100);
  after(() => pool.close());

  it("moves a chunk that owns its buffer to the thread (no copy), and copies a view of a larger buffer", async () => {
    const body = pushBody();
    const whole = new Uint8Array(body.length + 10);
    whole.set(body, 5);
    const view = Buffer.from(whole.buffer, 5, 100);
    const rest = owned(body.subarray(100));
    assert.equal(rest.byteLength, rest.buffer.byteLength, "the test's second chunk owns its buffer");
    const session = pool.open();
    session.push(view);
    session.push(rest);
    assert.equal(rest.byteLength, 0, "an owned chunk's buffer was moved, not copied");
    assert.equal(view.byteLength, 100, "a view's larger buffer stays with its owner");
    assert.deepEqual(Buffer.from(whole.subarray(5, 5 + body.length)), body);
    assert.deepEqual(await session.parse("push"), await parseOnce(pool, pushBody()));
  });

  it("decodes a character split between two chunks", async () => {
    const body = Buffer.from(JSON.stringify({ ...adaptPayload(examplePayload("push")), ref: "refs/heads/caf\u00e9-\u{1f680}" }));
    const at = body.indexOf(Buffer.from("\u{1f680}")) + 2;
    const session = pool.open();
    session.push(Buffer.from(body.subarray(0, at)));
    session.push(Buffer.from(body.subarray(at)));
    const parsed = await session.parse("push");
    assert.equal(parsed.ref, "refs/heads/caf\u00e9-\u{1f680}");
  });

  it("refuses a body that is not UTF-8, wherever the bad byte is", async () => {
    for (const bad of [Buffer.from([0xff]), Buffer.from([0xe2, 0x82])]) {
      const body = pushBody();
      const session = pool.open();
      session.push(Buffer.from(body.subarray(0, 50)));
      session.push(Buffer.from(bad));
      if (bad.length === 1) session.push(Buffer.from(body.subarray(50)));
      await assert.rejects(session.parse("push"), { name: "MalformedDeliveryError", message: "body is not UTF-8 JSON" });
    }
  });
});

/** A copy of `bytes` in a buffer of its own (Buffer.from may slice a shared pool), as Node's HTTP parser gives chunks. */
function owned(bytes: Buffer): Buffer {
  const copy = Buffer.alloc(bytes.length);
  bytes.copy(copy);
  return copy;
}

async function parseOnce(pool: BodyWorkerPool, body: Buffer): Promise<unknown> {
  const session = pool.open();
  session.push(body);
  return session.parse("push");
}
