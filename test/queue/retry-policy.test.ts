import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConnectionError, DockerfileParseError, PushRefusedError, RegistryError, StepFailedError } from "../../src/buildkit/errors.js";
import { isTransientError, QueueUnavailableError, TransientError } from "../../src/queue/queue-errors.js";
import { transientBackoff } from "../../src/queue/retry-policy.js";

function httpError(status: number, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`HTTP ${status}`), { name: "HttpError", status, response: { headers } });
}

describe("isTransientError", () => {
  const cases: Array<[string, unknown, boolean]> = [
    ["TransientError", new TransientError("later"), true],
    ["QueueUnavailableError", new QueueUnavailableError(), true],
    ["daemon unreachable", new ConnectionError("unix:///x", "refused"), true],
    ["registry 503", new RegistryError("r", 503, "down"), true],
    ["registry 429", new RegistryError("r", 429, "slow down"), true],
    ["registry 404", new RegistryError("r", 404, "no"), false],
    ["push refused, transient", new PushRefusedError("r", "5xx", true), true],
    ["push refused, auth", new PushRefusedError("r", "denied", false), false],
    ["GitHub 502", httpError(502), true],
    ["GitHub 429", httpError(429), true],
    ["GitHub 403 rate limit", httpError(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1" }), true],
    ["GitHub 403 forbidden", httpError(403), false],
    ["GitHub 422", httpError(422), false],
    ["Dockerfile error", new DockerfileParseError("unknown instruction"), false],
    ["step failed", new StepFailedError("exit 1", "RUN false", 1, []), false],
    ["ECONNRESET", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), true],
    ["plain Error", new Error("boom"), false],
    ["a string", "boom", false],
  ];
  for (const [name, err, expected] of cases) {
    it(`${name} → ${expected ? "retry" : "final"}`, () => assert.equal(isTransientError(err), expected));
  }
});

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
