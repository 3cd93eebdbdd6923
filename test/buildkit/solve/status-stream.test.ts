import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ControlClient } from "../../../src/buildkit/generated/moby/buildkit/v1/Control.js";
import type { StatusResponse__Output } from "../../../src/buildkit/generated/moby/buildkit/v1/StatusResponse.js";
import { EMPTY_MESSAGES_MEANING_LOG_LOST, EMPTY_MESSAGE_PAUSE_MS, followStatus } from "../../../src/buildkit/solve/status-stream.js";
import { log, response } from "../progress/status-messages.js";

/** A Control client whose Status call is an event emitter the test drives. */
function fakeStatus() {
  const call = Object.assign(new EventEmitter(), {
    cancelled: false,
    paused: false,
    pauses: 0,
    pause() {
      call.paused = true;
      call.pauses++;
    },
    resume() {
      call.paused = false;
    },
    cancel() {
      if (call.cancelled) return;
      call.cancelled = true;
      setImmediate(() => call.emit("error", Object.assign(new Error("Cancelled"), { code: 1 })));
    },
  });
  const control = { Status: () => call } as unknown as ControlClient;
  return { call, control };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const withLog = (): StatusResponse__Output => response({ logs: [log("sha256:a", "line\n")] });

describe("followStatus settle", () => {
  it("returns when the stream ends by itself, without cancelling", async () => {
    const { call, control } = fakeStatus();
    const stream = followStatus(control, "ref", () => {});
    const settled = stream.settle(10_000, 60_000);
    setTimeout(() => call.emit("end"), 20);
    await settled;
    assert.equal(call.cancelled, false);
  });

  it("cancels a stream that stays silent for the grace period", async () => {
    const { call, control } = fakeStatus();
    const stream = followStatus(control, "ref", () => {});
    await stream.settle(30, 60_000);
    assert.equal(call.cancelled, true);
  });

  it("keeps reading while messages with content keep coming, then ends after the grace of silence", async () => {
    const { call, control } = fakeStatus();
    let received = 0;
    const stream = followStatus(control, "ref", () => received++);
    let settledAt = -1;
    // Gaps of 30 ms against a grace of 300 ms: only a gap stretched tenfold by a loaded machine could end it early.
    const settled = stream.settle(300, 60_000).then(() => (settledAt = received));
    for (let i = 0; i < 20; i++) {
      await sleep(30); // 600 ms in all, well past one grace period
      call.emit("data", withLog());
    }
    await settled;
    assert.equal(settledAt, 20, "no message was cut off");
    assert.equal(call.cancelled, true);
  });

  it("does not count empty messages as progress", async () => {
    const { call, control } = fakeStatus();
    const stream = followStatus(control, "ref", () => {});
    const flood = setInterval(() => call.emit("data", response({})), 5);
    try {
      await stream.settle(50, 60_000);
    } finally {
      clearInterval(flood);
    }
    assert.equal(call.cancelled, true);
  });

  it("cancels at the cap however long messages keep coming", async () => {
    const { call, control } = fakeStatus();
    const stream = followStatus(control, "ref", () => {});
    const flood = setInterval(() => call.emit("data", withLog()), 5);
    try {
      await stream.settle(50, 150);
    } finally {
      clearInterval(flood);
    }
    assert.equal(call.cancelled, true);
  });
});

describe("followStatus back-pressure", () => {
  it("pauses the stream briefly after an empty message, never after one with content", async () => {
    const { call, control } = fakeStatus();
    let received = 0;
    followStatus(control, "ref", () => received++);
    call.emit("data", withLog());
    assert.equal(call.pauses, 0);
    call.emit("data", response({}));
    assert.equal(call.pauses, 1);
    assert.equal(call.paused, true);
    await sleep(EMPTY_MESSAGE_PAUSE_MS + 20);
    assert.equal(call.paused, false, "resumed after the pause");
    assert.equal(received, 2, "the empty message still reached the consumer");
    call.emit("end");
  });
});

describe("followStatus on a lost log", () => {
  it("reports a lost log once, after enough empty messages; messages with content never count", () => {
    const { call, control } = fakeStatus();
    let lost = 0;
    followStatus(control, "ref", () => {}, () => lost++);
    for (let i = 0; i < 1000; i++) call.emit("data", withLog());
    assert.equal(lost, 0);
    for (let i = 0; i < EMPTY_MESSAGES_MEANING_LOG_LOST - 1; i++) call.emit("data", response({}));
    assert.equal(lost, 0);
    for (let i = 0; i < 2 * EMPTY_MESSAGES_MEANING_LOG_LOST; i++) call.emit("data", response({}));
    assert.equal(lost, 1);
    call.emit("end");
  });
});
