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
    for (const s of sessions) s.push(body);
    const results = await Promise.all(sessions.map((s) => s.parse("push")));
    assert.equal(results.length, 3);
    for (const r of results) assert.deepEqual(r, results[0]);
  });
});
