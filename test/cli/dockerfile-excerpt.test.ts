import { test } from "node:test";
import assert from "node:assert/strict";
import { dockerfileExcerpt } from "../../src/cli/dockerfile-excerpt.js";

const TEXT = ["FROM busybox", "WORKDIR /w", "COPY . .", "RUN make", "RUN make test", "CMD [\"/w/app\"]", ""].join("\n");

test("one failing line: two lines either side, >>> on it", () => {
  assert.deepEqual(dockerfileExcerpt(TEXT, { file: "Dockerfile", startLine: 4, endLine: 4 }), [
    "Dockerfile:4",
    "--------------------",
    "   2 |     WORKDIR /w",
    "   3 |     COPY . .",
    "   4 | >>> RUN make",
    "   5 |     RUN make test",
    "   6 |     CMD [\"/w/app\"]",
    "--------------------",
  ]);
});

test("a range: one line either side, >>> on each line of it", () => {
  assert.deepEqual(dockerfileExcerpt(TEXT, { file: "docker/app.Dockerfile", startLine: 4, endLine: 5 }), [
    "docker/app.Dockerfile:4",
    "--------------------",
    "   3 |     COPY . .",
    "   4 | >>> RUN make",
    "   5 | >>> RUN make test",
    "   6 |     CMD [\"/w/app\"]",
    "--------------------",
  ]);
});

test("at the edges of the file the context is cut short; the empty line after the last newline counts", () => {
  assert.deepEqual(dockerfileExcerpt("FROM scratch\nRUN x\n", { file: "Dockerfile", startLine: 1, endLine: 1 }), [
    "Dockerfile:1",
    "--------------------",
    "   1 | >>> FROM scratch",
    "   2 |     RUN x",
    "   3 |     ",
    "--------------------",
  ]);
});

test("a range outside the text quotes nothing", () => {
  assert.deepEqual(dockerfileExcerpt("FROM scratch\n", { file: "Dockerfile", startLine: 9, endLine: 9 }), []);
  assert.deepEqual(dockerfileExcerpt("FROM scratch\n", { file: "Dockerfile", startLine: 0, endLine: 0 }), []);
});
