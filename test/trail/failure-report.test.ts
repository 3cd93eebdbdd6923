import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, DockerfileParseError, Redactor, StepFailedError } from "../../src/buildkit/index.js";
import { failureOf, scrubError } from "../../src/trail/failure-report.js";

test("a failed step: its name, exit code, log tail and location, secrets redacted once more", () => {
  const err = new StepFailedError("process did not complete: exit code 3", "[2/3] RUN make", 3, ["building", "token ghs_secret leaked", "boom"], {
    file: "services/api/Dockerfile",
    startLine: 3,
    endLine: 4,
  });
  const failure = failureOf(err, { redactor: new Redactor(["ghs_secret"]), durationMs: 1200, progress: { stepsDone: 2, stepsTotal: 3, cachedSteps: 1 } });
  assert.equal(failure.step, "[2/3] RUN make");
  assert.equal(failure.exitCode, 3);
  assert.deepEqual(failure.log, ["building", "token *** leaked", "boom"]);
  assert.deepEqual(failure.location, { file: "services/api/Dockerfile", startLine: 3, endLine: 4 });
  assert.equal(failure.stepsDone, 2);
  assert.equal(failure.stepsTotal, 3);
  assert.equal(failure.durationMs, 1200);
});

test("a location named as the frontend was given the Dockerfile (buildkitd's error details) is given its repository path", () => {
  const dockerfile = { inContext: "Dockerfile", path: "services/api/Dockerfile" };
  const fromDetails = failureOf(new StepFailedError("exit code: 3", "[2/3] RUN make", 3, [], { file: "Dockerfile", startLine: 3, endLine: 4 }), { redactor: new Redactor([]), durationMs: 5, dockerfile });
  assert.deepEqual(fromDetails.location, { file: "services/api/Dockerfile", startLine: 3, endLine: 4 });
  const parse = failureOf(new DockerfileParseError("unknown instruction: RUNN", { file: "Dockerfile", startLine: 2, endLine: 2 }), { redactor: new Redactor([]), durationMs: 5, dockerfile });
  assert.deepEqual(parse.location, { file: "services/api/Dockerfile", startLine: 2, endLine: 2 });
  // Already a repository path (the Engine's failures are located from the Dockerfile's text): kept.
  const located = failureOf(new StepFailedError("exit code: 3", "[2/3] RUN make", 3, [], { file: "services/api/Dockerfile", startLine: 3, endLine: 4 }), { redactor: new Redactor([]), durationMs: 5, dockerfile });
  assert.equal(located.location?.file, "services/api/Dockerfile");
});

test("a Dockerfile error points at its line; other errors carry their message", () => {
  const parse = failureOf(new DockerfileParseError("unknown instruction: RUNN", { file: "Dockerfile", startLine: 2, endLine: 2 }), { redactor: new Redactor([]), durationMs: 5 });
  assert.deepEqual(parse.location, { file: "Dockerfile", startLine: 2, endLine: 2 });
  assert.equal(parse.message, "unknown instruction: RUNN");
  const other = failureOf(new ConnectionError("tcp://x:1", "cannot connect to BuildKit at tcp://x:1: refused"), { redactor: new Redactor([]), durationMs: 5 });
  assert.equal(other.message, "cannot connect to BuildKit at tcp://x:1: refused");
  assert.equal(other.location, undefined);
  assert.equal(other.step, undefined);
});

test("a failure the client could not tie to a step's log still carries the end of the build's log, redacted", () => {
  const recentLog = ["step output", "token ghs_secret here", "last line"];
  const untied = failureOf(new Error("failed to solve: rpc error"), { redactor: new Redactor(["ghs_secret"]), durationMs: 5, recentLog });
  assert.deepEqual(untied.log, ["step output", "token *** here", "last line"]);
  const stepWithoutTail = failureOf(new StepFailedError("exit code: 3", "[1/1] RUN x", 3, []), { redactor: new Redactor([]), durationMs: 5, recentLog: ["tail"] });
  assert.deepEqual(stepWithoutTail.log, ["tail"]);
  const stepWithTail = failureOf(new StepFailedError("exit code: 3", "[1/1] RUN x", 3, ["own"]), { redactor: new Redactor([]), durationMs: 5, recentLog: ["other"] });
  assert.deepEqual(stepWithTail.log, ["own"]);
});

test("scrubError removes secrets from an error's message in place", () => {
  const err = new Error("clone of https://x-access-token:ghs_abc@host failed");
  scrubError(err, new Redactor(["ghs_abc"]));
  assert.equal(err.message, "clone of https://x-access-token:***@host failed");
});
