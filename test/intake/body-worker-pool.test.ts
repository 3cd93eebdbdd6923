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
    second.push(body);
    assert.equal(pool.liveThreads, 0, "a thread started before the body was to be parsed");
    const again = await second.parse("push");
    assert.deepEqual(again, parsed);
  });

  it("starts no thread for a body that is refused: its chunks never leave the session", async () => {
    assert.ok(await waitFor(() => pool.liveThreads === 0, 5_000));
    const refused = pool.open();
    const chunk = owned(pushBody());
    const length = chunk.byteLength;
    refused.push(chunk);
    await sleep(200);
    assert.equal(pool.liveThreads, 0, "a thread was started for a body not yet verified");
    refused.drop();
    assert.equal(chunk.byteLength, length, "a dropped body's chunk was moved somewhere");
    await assert.rejects(refused.parse("push"), /already ended/);
    assert.equal(pool.liveThreads, 0);
  });

  it("parses one body after another on its one thread", async () => {
    const body = pushBody();
    const sessions = [pool.open(), pool.open(), pool.open()];
    for (const s of sessions) s.push(Buffer.from(body));
    const results = Promise.all(sessions.map((s) => s.parse("push")));
    assert.equal(pool.liveThreads, 1);
    assert.equal((await results).length, 3);
    for (const r of await results) assert.deepEqual(r, (await results)[0]);
  });
});

describe("body worker pool: chunks", () => {
  const pool = new BodyWorkerPool(1, 100);
  after(() => pool.close());

  it("moves a chunk that owns its buffer to the thread once parsed (no copy), and copies a view of a larger buffer", async () => {
    const body = pushBody();
    const whole = new Uint8Array(body.length + 10);
    whole.set(body, 5);
    const view = Buffer.from(whole.buffer, 5, 100);
    const rest = owned(body.subarray(100));
    assert.equal(rest.byteLength, rest.buffer.byteLength, "the test's second chunk owns its buffer");
    const session = pool.open();
    session.push(view);
    session.push(rest);
    assert.equal(rest.byteLength, body.length - 100, "a chunk left its session before the body was verified");
    const parsed = session.parse("push");
    assert.equal(rest.byteLength, 0, "an owned chunk's buffer was moved, not copied");
    assert.equal(view.byteLength, 100, "a view's larger buffer stays with its owner");
    assert.deepEqual(Buffer.from(whole.subarray(5, 5 + body.length)), body);
    assert.deepEqual(await parsed, await parseOnce(pool, pushBody()));
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
