import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnectionError } from "../../src/buildkit/errors.js";
import { describeAttempts, renderFailed, renderSucceeded } from "../../src/github/check-run-output.js";
import { RepoReadError } from "../../src/github/repo-reader.js";
import { QueueUnavailableError } from "../../src/queue/queue-errors.js";
import { TransientError } from "../../src/errors/index.js";
import { attemptCause } from "../../src/trail/attempt-cause.js";

test("an attempt's cause is named from the error or what it wraps", () => {
  assert.equal(attemptCause(new ConnectionError("tcp://b:1234", "cannot connect to BuildKit at tcp://b:1234")), "the builder was lost");
  assert.equal(attemptCause(new TransientError("read failed", { cause: new RepoReadError("502 from GitHub", 502) })), "GitHub was unavailable");
  assert.equal(attemptCause(Object.assign(new Error("Bad Gateway"), { name: "HttpError", status: 502 })), "GitHub was unavailable");
  assert.equal(attemptCause(new QueueUnavailableError()), "Redis was unavailable");
  assert.equal(attemptCause(new Error("something else")), "an attempt failed");
});

test("attempts are described only when there was more than one, each cause counted", () => {
  assert.equal(describeAttempts(undefined), undefined);
  assert.equal(describeAttempts({ count: 1, earlier: [] }), undefined);
  assert.equal(describeAttempts({ count: 2, earlier: ["the builder was lost"] }), "2 attempts; the builder was lost once");
  assert.equal(
    describeAttempts({ count: 5, earlier: ["the builder was lost", "the worker was lost", "the builder was lost", "the builder was lost"] }),
    "5 attempts; the builder was lost 3 times, the worker was lost once",
  );
  assert.equal(describeAttempts({ count: 3, earlier: ["GitHub was unavailable", "GitHub was unavailable"] }), "3 attempts; GitHub was unavailable twice");
});

test("the check run's title and summary carry the whole duration and the attempts", () => {
  const attempts = { count: 2, earlier: ["the builder was lost"] };
  const ok = renderSucceeded("api", { tags: [], pushed: false, durationMs: 38_000, attempts, stepsDone: 2, stepsTotal: 2, cachedSteps: 0 });
  assert.equal(ok.title, "Built in 38s (2 attempts; the builder was lost once)");
  assert.match(ok.summary, /Built `api` in 38s \(2 attempts; the builder was lost once\)\./);
  const failed = renderFailed("api", { message: "boom", log: [], durationMs: 61_000, attempts: { count: 3, earlier: ["the worker was lost", "the builder was lost"] } });
  assert.match(failed.summary, /Ran for 1m 1s \(3 attempts; the worker was lost once, the builder was lost once\)\./);
  assert.equal(renderSucceeded("api", { tags: [], pushed: false, durationMs: 5_000, stepsDone: 1, stepsTotal: 1, cachedSteps: 0 }).title, "Built in 5s");
});
