import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StepFailedError } from "../../src/buildkit/errors.js";
import { TransientError } from "../../src/errors/index.js";
import { transientBackoff } from "../../src/queue/retry-policy.js";

function httpError(status: number, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`HTTP ${status}`), { name: "HttpError", status, response: { headers } });
}

describe("transientBackoff", () => {
  const policy = { attempts: 5, baseDelayMs: 1_000, maxDelayMs: 10_000 };

  it("grows exponentially with jitter within [d/2, d] and caps", () => {
    const low = transientBackoff(policy, () => 0);
    const high = transientBackoff(policy, () => 1);
    const err = new TransientError("x");
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => low(n, "t", err)), [500, 1000, 2000, 4000, 5000, 5000]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => high(n, "t", err)), [1000, 2000, 4000, 8000, 10000, 10000]);
  });

  it("does not retry a permanent failure (-1)", () => {
    assert.equal(transientBackoff(policy)(1, "t", new StepFailedError("exit 2", "RUN make", 2, [])), -1);
  });

  it("waits at least what the far side asked for", () => {
    const b = transientBackoff(policy, () => 0);
    assert.equal(b(1, "t", new TransientError("rate limited", { retryAfterMs: 7_000 })), 7_000);
    assert.equal(b(1, "t", httpError(429, { "retry-after": "3" })), 3_000);
  });
});
