import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { testStack } from "../../support/stack/env.js";
import { classifySolveError } from "../../../src/buildkit/failure/classify.js";
import { DockerfileParseError, StepFailedError } from "../../../src/buildkit/errors.js";
import { ProgressTracker } from "../../../src/buildkit/progress/tracker.js";
import { consoleProgress } from "../../../src/buildkit/progress/console.js";
import { jsonLinesProgress } from "../../../src/buildkit/progress/json-lines.js";
import { combineHandlers } from "../../../src/buildkit/progress/combine.js";
import { Redactor } from "../../../src/buildkit/redact.js";
import { protos } from "../../../src/buildkit/proto.js";
import { engineBuildStatus, removeEngineImage } from "../progress/engine-build-status.js";
import { PassThrough } from "node:stream";

const stack = testStack();
const StatusResponse = protos().control.moby.buildkit.v1.StatusResponse;

function collect(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  return { out, text: () => Buffer.concat(chunks).toString("utf8") };
}

describe("failure classification on a live Docker Engine", { timeout: 180_000 }, () => {
  const tags: string[] = [];
  after(async () => {
    for (const tag of tags) await removeEngineImage(stack.dockerSocket, tag);
  });

  it("types a failing multi-line RUN with exit code, log tail and lines, and leaks no build-arg secret", async () => {
    const secret = `tok_${randomBytes(12).toString("hex")}`;
    const dockerfile = [
      `FROM ${stack.baseImage} AS build`,
      "ARG TOKEN",
      "WORKDIR /w",
      "# the next step prints and fails",
      'RUN echo "using $TOKEN" && \\',
      "    echo to-stderr >&2 && \\",
      "    exit 7",
      "",
      "FROM build AS final",
      "RUN true",
      "",
    ].join("\n");
    const build = await engineBuildStatus({ socketPath: stack.dockerSocket, dockerfile, noCache: true, buildArgs: { TOKEN: secret } });
    assert.ok(build.error, "the build failed");

    const redactor = new Redactor([secret]);
    const consoleOut = collect();
    const jsonOut = collect();
    const tracker = new ProgressTracker({
      redactor,
      onEvent: combineHandlers(consoleProgress(consoleOut.out), jsonLinesProgress(jsonOut.out)),
    });
    for (const message of build.messages) tracker.ingest(StatusResponse.deserialize(Buffer.from(message, "base64")));
    tracker.finish();

    const typed = classifySolveError(new Error(build.error), {
      tracker,
      redactor,
      dockerfile: { path: "Dockerfile", text: dockerfile },
    });
    assert.ok(typed instanceof StepFailedError, `${typed.name}: ${typed.message}`);
    assert.equal(typed.exitCode, 7);
    assert.equal(typed.step, '[build 3/3] RUN echo "using ***" &&     echo to-stderr >&2 &&     exit 7');
    assert.deepEqual([...typed.logTail].sort(), ["to-stderr", "using ***"]);
    assert.deepEqual(typed.location, { file: "Dockerfile", startLine: 5, endLine: 7 });
    for (const text of [typed.message, typed.step, ...typed.logTail, consoleOut.text(), jsonOut.text()]) {
      assert.ok(!text.includes(secret), "the secret never appears");
    }
    assert.match(consoleOut.text(), /^#\d+ ERROR: executor failed running \[\/bin\/sh -c echo "using \$TOKEN" && .*\]: exit code: 7$/m);
  });

  it("types an unknown instruction as a Dockerfile error with its line", async () => {
    const dockerfile = `FROM ${stack.baseImage}\nRUN true\nFROOM nothing\n`;
    const build = await engineBuildStatus({ socketPath: stack.dockerSocket, dockerfile });
    assert.ok(build.error);
    const tracker = new ProgressTracker();
    for (const message of build.messages) tracker.ingest(StatusResponse.deserialize(Buffer.from(message, "base64")));
    tracker.finish();
    const typed = classifySolveError(new Error(build.error), { tracker, redactor: new Redactor(), dockerfile: { path: "Dockerfile", text: dockerfile } });
    assert.ok(typed instanceof DockerfileParseError, `${typed.name}: ${typed.message}`);
    assert.equal(typed.message, "dockerfile parse error line 3: unknown instruction: FROOM");
    assert.deepEqual(typed.location, { file: "Dockerfile", startLine: 3, endLine: 3 });
  });

  it("counts a cached rebuild the way the steps ran", async () => {
    const tag = `bkb-progress-int:${randomBytes(4).toString("hex")}`;
    tags.push(tag);
    const dockerfile = `FROM ${stack.baseImage} AS build\nRUN echo ${randomBytes(6).toString("hex")} > /marker\nFROM build\nRUN cat /marker\n`;
    const counters = [];
    for (let run = 0; run < 2; run++) {
      const build = await engineBuildStatus({ socketPath: stack.dockerSocket, dockerfile, tag });
      assert.equal(build.error, undefined);
      const tracker = new ProgressTracker();
      for (const message of build.messages) tracker.ingest(StatusResponse.deserialize(Buffer.from(message, "base64")));
      tracker.finish();
      assert.equal(tracker.failedStep(), undefined);
      counters.push({ ...tracker.counters });
    }
    const [first, second] = counters;
    assert.equal(first?.completed, first?.total, "everything finished");
    assert.equal(first?.running, 0);
    assert.equal(second?.completed, second?.total);
    assert.ok((second?.cached ?? 0) >= 2, `both RUN steps cached on the rebuild: ${JSON.stringify(second)}`);
    assert.ok((second?.cached ?? 0) > (first?.cached ?? 0));
  });
});
