import { test } from "node:test";
import assert from "node:assert/strict";
import { copySources, explainFirstRerun, instructions } from "../../src/worker/cache-explain.js";
import type { BuildRecord } from "../../src/worker/cache-history.js";
import type { TimelineStep } from "../../src/worker/step-timeline.js";

test("copySources reads BuildKit's step text: flags, the JSON form, the whole context; not --from or heredocs", () => {
  assert.deepEqual(copySources("COPY a.txt /a"), ["a.txt"]);
  assert.deepEqual(copySources("COPY --chown=1:1 --chmod=644 ./src/ lib /dst/"), ["src", "lib"]);
  assert.deepEqual(copySources("COPY [src/, /src/]"), ["src"]);
  assert.deepEqual(copySources("ADD . /app"), [""]);
  assert.deepEqual(copySources("ADD https://example.com/x.tgz vendor/ /v"), ["vendor"]);
  assert.equal(copySources("COPY --from=build /out /out"), undefined);
  assert.equal(copySources("COPY <<EOF /x"), undefined);
  assert.equal(copySources("RUN make"), undefined);
});

test("instructions: continuation lines joined, comments and blank lines skipped, each with its first line", () => {
  const text = "# syntax=docker/dockerfile:1\nFROM x\n\nRUN a && \\\n  # a comment inside\n  b\ncopy  a  /a\n";
  assert.deepEqual(instructions(text), [
    { line: 2, text: "FROM x" },
    { line: 4, text: "RUN a && b" },
    { line: 7, text: "COPY a /a" },
  ]);
});

const step = (index: number, text: string, status: TimelineStep["status"], startedAt = index): TimelineStep => ({
  digest: `sha256:${index}`,
  name: `[${index}/4] ${text}`,
  key: `\u0000\u0000${text}`,
  text,
  index,
  status,
  startedAt,
});
const record = (texts: string[], args: Record<string, string> = {}): BuildRecord => ({
  v: 1,
  sha: "b".repeat(40),
  dockerfile: "svc/Dockerfile",
  context: "svc",
  args,
  steps: texts.map((t, i) => ({ d: `sha256:old${i}`, k: `\u0000\u0000${t}`, c: false, ms: 100 })),
  at: new Date(0).toISOString(),
});

test("a glob source in a context directory: only the changed files it takes in are named, with their repository paths", async () => {
  const texts = ["FROM x@sha256:" + "1".repeat(64), "COPY conf/*.yml /etc/", "RUN make"];
  const now = [step(1, texts[0] ?? "", "ran"), step(2, texts[1] ?? "", "ran"), step(3, texts[2] ?? "", "ran")];
  const explained = await explainFirstRerun({
    steps: now,
    base: record(texts),
    args: {},
    dockerfile: "svc/Dockerfile",
    context: "svc",
    reads: {
      changedFiles: async () => ({ files: ["svc/conf/a.yml", "svc/conf/b.json", "conf/c.yml", "svc/conf/deep/d.yml"], complete: true }),
      dockerfiles: async () => assert.fail("a COPY whose files changed needs no Dockerfile"),
    },
  });
  assert.equal(explained?.step.text, "COPY conf/*.yml /etc/", "the FROM reported done is passed over");
  assert.deepEqual(explained?.cause, { kind: "files", files: ["svc/conf/a.yml"], more: 0 });
});

test("a step whose instruction moved down a line is matched by its text, not its position", async () => {
  const before = "FROM x\nRUN make\nRUN make install\n";
  const after = "FROM x\n# new comment\nENV A=1\nRUN make\nRUN make install DESTDIR=/out\n";
  const texts = ["RUN make", "RUN make install"];
  const explained = await explainFirstRerun({
    steps: [step(2, "RUN make", "cached"), step(3, "RUN make install DESTDIR=/out", "ran")],
    base: record(texts),
    args: {},
    dockerfile: "svc/Dockerfile",
    context: "svc",
    reads: { changedFiles: async () => undefined, dockerfiles: async () => ({ before, now: after }) },
  });
  assert.deepEqual(explained?.cause, { kind: "dockerfile", path: "svc/Dockerfile", line: 5, now: "RUN make install DESTDIR=/out", before: "RUN make install" });
});

test("every step cached: nothing to explain", async () => {
  const explained = await explainFirstRerun({
    steps: [step(1, "RUN make", "cached")],
    base: record(["RUN make"]),
    args: {},
    dockerfile: "Dockerfile",
    context: "",
    reads: { changedFiles: async () => assert.fail("not read"), dockerfiles: async () => assert.fail("not read") },
  });
  assert.equal(explained, undefined);
});
