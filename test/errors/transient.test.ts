import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BuildCancelledError,
  ConnectionError,
  DockerfileParseError,
  EngineApiError,
  GitCloneRefusedError,
  InvalidRequestError,
  PushRefusedError,
  RegistryError,
  SolveError,
  StepFailedError,
} from "../../src/buildkit/errors.js";
import { AppError, isTransientError, retryAfterMs, TransientError } from "../../src/errors/index.js";
import { ConfigError } from "../../src/config/config-error.js";
import { RepoReadError } from "../../src/github/repo-reader.js";
import { PayloadError } from "../../src/handlers/handler-result.js";
import { BodyBudgetExhaustedError, MalformedDeliveryError } from "../../src/intake/intake-errors.js";
import { QueueUnavailableError, SecretInJobDataError } from "../../src/queue/queue-errors.js";
import { transientBackoff } from "../../src/queue/retry-policy.js";
import { TokenMintError } from "../../src/worker/installation-token.js";

/** An Octokit RequestError as Octokit builds it: name `HttpError`, the status, the response headers. */
function httpError(status: number, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`HTTP ${status}`), { name: "HttpError", status, response: { headers } });
}

describe("isTransientError: the one reading of the transient flag", () => {
  const cases: Array<[string, unknown, boolean]> = [
    // The app's own errors carry their flag.
    ["TransientError", new TransientError("later"), true],
    ["QueueUnavailableError", new QueueUnavailableError(), true],
    ["RepoReadError (GitHub read failed)", new RepoReadError("reading x failed (HTTP 502)", 502), true],
    ["BodyBudgetExhaustedError", new BodyBudgetExhaustedError(1), true],
    ["ConfigError", new ConfigError([{ path: ".github/buildkit-bot.yml", line: 1, column: 1, message: "bad" }]), false],
    ["PayloadError", new PayloadError("repository.owner.login is missing"), false],
    ["MalformedDeliveryError", new MalformedDeliveryError("payload is not a JSON object"), false],
    ["SecretInJobDataError", new SecretInJobDataError("image.buildArgs.TOKEN"), false],
    ["TokenMintError", new TokenMintError("could not get a token", 404), false],
    // The BuildKit client's errors carry theirs.
    ["daemon unreachable", new ConnectionError("unix:///x", "refused"), true],
    ["Engine 500", new EngineApiError(500, "push x: Docker Engine answered 500"), true],
    ["Engine 503", new EngineApiError(503, "push x: Docker Engine answered 503"), true],
    ["Engine 404", new EngineApiError(404, "no such image"), false],
    ["Engine 409", new EngineApiError(409, "conflict"), false],
    ["registry 503", new RegistryError("r", 503, "down"), true],
    ["registry 429", new RegistryError("r", 429, "slow down"), true],
    ["registry without an answer", new RegistryError("r", undefined, "no answer"), true],
    ["registry 404", new RegistryError("r", 404, "no"), false],
    ["push refused, transient", new PushRefusedError("r", "5xx", true), true],
    ["push refused, auth", new PushRefusedError("r", "denied", false), false],
    ["Dockerfile error", new DockerfileParseError("unknown instruction"), false],
    ["step failed", new StepFailedError("exit 1", "RUN false", 1, []), false],
    ["git clone refused", new GitCloneRefusedError("https://x", "auth"), false],
    ["invalid request", new InvalidRequestError("no tags"), false],
    ["cancelled", new BuildCancelledError(), false],
    ["other solve failure", new SolveError("boom"), false],
    // Other packages' errors, through the one adapter.
    ["GitHub 502", httpError(502), true],
    ["GitHub 429", httpError(429), true],
    ["GitHub 403 rate limit", httpError(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1" }), true],
    ["GitHub 403 secondary rate limit", httpError(403, { "retry-after": "60" }), true],
    ["GitHub 403 secondary rate limit, said only in its message", Object.assign(httpError(403), { message: "You have exceeded a secondary rate limit." }), true],
    ["GitHub 403 forbidden", httpError(403), false],
    ["GitHub 422", httpError(422), false],
    ["ioredis gave up", Object.assign(new Error("Reached the max retries per request limit"), { name: "MaxRetriesPerRequestError" }), true],
    ["ioredis connection closed", new Error("Connection is closed."), true],
    ["ECONNRESET", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), true],
    ["plain Error", new Error("boom"), false],
    ["a string", "boom", false],
    ["undefined", undefined, false],
  ];
  for (const [name, err, expected] of cases) {
    it(`${name} → ${expected ? "retry" : "final"}`, () => assert.equal(isTransientError(err), expected));
  }

  it("the queue's backoff follows it: an Engine 5xx is retried, an Engine 4xx is not", () => {
    const backoff = transientBackoff({ attempts: 3, baseDelayMs: 100, maxDelayMs: 400 }, () => 0);
    assert.equal(backoff(1, "t", new EngineApiError(500, "push: Docker Engine answered 500")), 50);
    assert.equal(backoff(1, "t", new EngineApiError(400, "push: Docker Engine answered 400")), -1);
  });
});

describe("retryAfterMs", () => {
  it("reads what the far side asked for: our TransientError's, GitHub's retry-after and rate-limit reset", () => {
    assert.equal(retryAfterMs(new TransientError("x", { retryAfterMs: 7_000 })), 7_000);
    assert.equal(retryAfterMs(httpError(429, { "retry-after": "3" })), 3_000);
    assert.equal(retryAfterMs(httpError(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "110" }), 100_000), 10_000);
    assert.equal(retryAfterMs(httpError(502)), undefined);
    assert.equal(retryAfterMs(new Error("boom")), undefined);
  });
});

describe("AppError", () => {
  it("names each error after its class and gives it a stable code", () => {
    const errors: AppError[] = [
      new TransientError("later"),
      new QueueUnavailableError(),
      new RepoReadError("x", 500),
      new PayloadError("x"),
      new MalformedDeliveryError("x"),
      new TokenMintError("x", undefined),
      new SecretInJobDataError("p"),
    ];
    for (const err of errors) {
      assert.ok(err instanceof AppError && err instanceof Error);
      assert.equal(err.name, err.constructor.name);
      assert.match(err.code, /^[A-Z][A-Z_]+$/);
    }
    assert.equal(new Set(errors.map((e) => e.code)).size, errors.length, "codes are distinct");
  });

  it("keeps the cause it was given", () => {
    const cause = new Error("underneath");
    assert.equal(new TransientError("x", { cause }).cause, cause);
    assert.equal(new RepoReadError("x", 502, { cause }).cause, cause);
  });
});
