import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_OUTPUT_BYTES, renderSucceeded } from "../../src/github/check-run-output.js";
import type { BuildSuccess } from "../../src/github/check-run-output.js";
import { formatBytes, instructionText, renderSizeDiff } from "../../src/github/size-diff-output.js";
import type { LayerChange, SizeDiff } from "../../src/github/size-diff-output.js";

const success = (sizeDiff: SizeDiff): BuildSuccess => ({ tags: ["r/o/app:pr-1"], pushed: true, durationMs: 1000, stepsDone: 2, stepsTotal: 2, cachedSteps: 0, sizeDiff });

test("sizes in decimal units, as registries show them", () => {
  assert.deepEqual([0, 999, 1000, 12_345, 999_949, 999_950, 12_300_000, 2_500_000_000].map(formatBytes), ["0 B", "999 B", "1.0 kB", "12.3 kB", "999.9 kB", "1.0 MB", "12.3 MB", "2.5 GB"]);
});

test("the instruction as written in the Dockerfile, from the history's created_by", () => {
  assert.equal(instructionText("COPY app /app # buildkit"), "COPY app /app");
  assert.equal(instructionText("RUN |2 A=1 B=2 /bin/sh -c make build # buildkit"), "RUN make build");
  assert.equal(instructionText("RUN /bin/sh -c make build # buildkit"), "RUN make build");
  assert.equal(instructionText("|1 A=1 /bin/sh -c make"), "RUN make");
  assert.equal(instructionText("/bin/sh -c #(nop)  CMD [\"sh\"]"), "CMD [\"sh\"]");
  assert.equal(instructionText("/bin/sh -c apt-get update"), "RUN apt-get update");
  assert.equal(instructionText(undefined), "");
});

test("headline first, then the table: added, removed, then unchanged layers", () => {
  const summary = renderSucceeded("app", success({
    base: "main",
    platforms: [{ platform: "linux/amd64", size: 12_300_000, baseSize: 11_100_000, layers: [
      { change: "unchanged", size: 11_000_000, instruction: "ADD rootfs.tar / # buildkit" },
      { change: "added", size: 1_300_000, instruction: "RUN |1 V=2 /bin/sh -c apt-get install -y curl # buildkit" },
      { change: "removed", size: 100_000, instruction: "COPY app /app # buildkit" },
    ] }],
  })).summary;
  const section = summary.slice(summary.indexOf("**Image size:**"));
  assert.equal(section, [
    "**Image size:** 12.3 MB (+1.2 MB, +10.8% vs `main`)",
    "",
    "Layers: 1 added (1.3 MB), 1 removed (100.0 kB), 1 unchanged.",
    "",
    "| Layer | Size | Made by |",
    "|---|--:|---|",
    "| added | 1.3 MB | `RUN apt-get install -y curl` |",
    "| removed | 100.0 kB | `COPY app /app` |",
    "| same | 11.0 MB | `ADD rootfs.tar /` |",
  ].join("\n"));
});

test("nothing to compare: one line", () => {
  assert.deepEqual(renderSizeDiff({ base: "main", size: 2_000, note: "no `main` image to compare with yet" }), ["", "**Image size:** 2.0 kB; no `main` image to compare with yet"]);
  assert.deepEqual(renderSizeDiff(undefined), []);
});

test("long layer lists and many platforms are cut, counted, and the summary stays within GitHub's limit", () => {
  const layers: LayerChange[] = Array.from({ length: 2000 }, (_, i) => ({ change: i % 3 === 0 ? "added" : "unchanged", size: 1000 + i, instruction: `RUN ${"x".repeat(5000)} ${i}` }));
  const platforms = Array.from({ length: 32 }, (_, i) => ({ platform: `linux/arch${i}`, size: 5_000_000, baseSize: 4_000_000, layers }));
  const summary = renderSucceeded("app", success({ base: "main", platforms, removedPlatforms: ["linux/s390x"] })).summary;
  assert.ok(Buffer.byteLength(summary) <= MAX_OUTPUT_BYTES);
  assert.ok(Buffer.byteLength(summary) < 20_000, `the section is a few kilobytes, not ${Buffer.byteLength(summary)}`);
  assert.equal(summary.match(/\| Layer \| Size \| Made by \|/g)?.length, 4, "four platforms get a table");
  assert.match(summary, /…layers of 28 more platforms not listed\./);
  assert.equal(summary.match(/…and 1985 more layers \([\d.]+ MB\) not listed\./g)?.length, 4);
  assert.match(summary, /Not built any more: `linux\/s390x`/);
  assert.match(summary, /^\*\*Image size\*\* vs `main`: `linux\/arch0` 5\.0 MB \(\+1\.0 MB, \+25\.0%\), /m);
});

test("a pipe in an instruction stays inside its table cell", () => {
  const lines = renderSizeDiff({ base: "main", platforms: [{ platform: "linux/amd64", size: 10, baseSize: 10, layers: [{ change: "unchanged", size: 10, instruction: "RUN /bin/sh -c sort a | uniq > b # buildkit" }] }] });
  assert.ok(lines.includes("| same | 10 B | `RUN sort a \\| uniq > b` |"), lines.join("\n"));
});
