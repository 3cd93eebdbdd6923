import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { countedInstructions, parseDockerfile } from "../../../src/buildkit/failure/dockerfile-instructions.js";
import { BACKTICK_ESCAPE, MULTI_STAGE, UNNAMED_STAGES } from "./dockerfiles.js";

describe("parseDockerfile", () => {
  it("joins continuation lines as the frontend does and records the physical range", () => {
    const { instructions } = parseDockerfile(MULTI_STAGE);
    const run = instructions.find((i) => i.startLine === 9);
    assert.deepEqual(run, {
      keyword: "RUN",
      args: "echo building $VERSION &&     cat hello.txt > out.txt",
      startLine: 9,
      endLine: 12,
      heredocs: [],
    });
    assert.deepEqual(
      instructions.map((i) => `${i.keyword}@${i.startLine}`),
      ["ARG@2", "FROM@3", "ARG@4", "ENV@5", "WORKDIR@6", "COPY@8", "RUN@9", "RUN@13", "FROM@15", "COPY@16", "LABEL@17", "FROM@19", "RUN@20"],
    );
  });

  it("splits stages with names, platforms and bases", () => {
    const { stages } = parseDockerfile(MULTI_STAGE);
    assert.deepEqual(
      stages.map((s) => ({ index: s.index, name: s.name, base: s.base, platform: s.platform, commands: s.commands.length })),
      [
        { index: 0, name: "build", base: "${BASE}", platform: "linux/amd64", commands: 6 },
        { index: 1, name: undefined, base: "scratch", platform: undefined, commands: 2 },
        { index: 2, name: "test", base: "build", platform: undefined, commands: 1 },
      ],
    );
  });

  it("counts FROM only for image bases, and RUN/COPY/ADD/WORKDIR but not metadata instructions", () => {
    const parsed = parseDockerfile(MULTI_STAGE);
    const counted = parsed.stages.map((s) => countedInstructions(s, parsed.stages).map((i) => i.keyword));
    assert.deepEqual(counted, [["FROM", "WORKDIR", "COPY", "RUN", "RUN"], ["COPY"], ["RUN"]]);
    const unnamed = parseDockerfile(UNNAMED_STAGES);
    assert.deepEqual(
      unnamed.stages.map((s) => countedInstructions(s, unnamed.stages).length),
      [2, 3, 1],
    );
  });

  it("honours the escape directive", () => {
    const parsed = parseDockerfile(BACKTICK_ESCAPE);
    assert.equal(parsed.escape, "`");
    assert.deepEqual(
      parsed.instructions.map((i) => [i.keyword, i.args, i.startLine, i.endLine]),
      [
        ["FROM", "127.0.0.1:5055/busybox:latest", 3, 3],
        ["RUN", "echo one &&     echo two", 4, 5],
        ["RUN", "echo C:\\path\\x", 6, 6],
      ],
    );
  });

  it("skips heredoc bodies so they neither become instructions nor shift the ones after", () => {
    const text = [
      "# syntax=docker/dockerfile:1",
      "FROM alpine",
      "RUN <<EOF",
      "FROM not-an-instruction",
      "echo hi",
      "EOF",
      "COPY <<-'CONF' /etc/app.conf",
      "\tRUN neither",
      "\tCONF",
      "RUN echo after",
    ].join("\n");
    const { instructions, stages } = parseDockerfile(text);
    assert.deepEqual(
      instructions.map((i) => [i.keyword, i.startLine, i.endLine, i.heredocs]),
      [
        ["FROM", 2, 2, []],
        ["RUN", 3, 6, ["EOF"]],
        ["COPY", 7, 9, ["CONF"]],
        ["RUN", 10, 10, []],
      ],
    );
    assert.equal(stages.length, 1);
  });

  it("accepts CRLF line endings, lowercase keywords and a trailing continuation", () => {
    const { instructions } = parseDockerfile("from alpine\r\nrun echo a \\\r\n  b\r\nrun echo end \\");
    assert.deepEqual(
      instructions.map((i) => [i.keyword, i.args, i.startLine, i.endLine]),
      [
        ["FROM", "alpine", 1, 1],
        ["RUN", "echo a   b", 2, 3],
        ["RUN", "echo end", 4, 4],
      ],
    );
  });
});
