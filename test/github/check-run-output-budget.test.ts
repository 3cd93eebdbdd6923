import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  MAX_OUTPUT_BYTES,
  renderCancelled,
  renderFailed,
  renderNeutral,
  renderProgress,
  renderQueued,
  renderRetrying,
  renderSucceeded,
} from "../../src/github/check-run-output.js";
import type { CheckRunOutput, DockerfileFinding } from "../../src/github/check-run-output.js";
import type { CacheReport } from "../../src/github/cache-report-output.js";
import type { SizeDiff } from "../../src/github/size-diff-output.js";

/**
 * Issue 19 point 7: whatever a build reports — however many tags, findings or log lines, however long each, in any
 * script — every check-run output fits GitHub's 65,535-character fields (we hold it to 65,535 bytes), keeps its
 * headline first, and is never cut inside a character.
 */

/** Short to very long text: a few characters (ASCII, accents, CJK, emoji, Markdown and table syntax) repeated. */
const text = (maxRepeat = 20_000) =>
  fc
    .tuple(
      fc.string({ unit: fc.constantFrom("a", "Z", " ", "é", "漢", "😀", "|", "`", "*", "\n", "-", "<", "\u001b[31m"), minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: maxRepeat }),
    )
    .map(([s, n]) => s.repeat(n));

const finding: fc.Arbitrary<DockerfileFinding> = fc.record(
  {
    rule: text(200),
    message: text(),
    description: text(200),
    url: fc.oneof(fc.constant("https://docs.docker.com/go/dockerfile/rule/x/"), text(200)),
    location: fc.record({ file: text(500), startLine: fc.nat(), endLine: fc.nat() }),
  },
  { requiredKeys: ["rule", "message"] },
);

const size = fc.nat({ max: 2 ** 40 });
const sizeDiff: fc.Arbitrary<SizeDiff> = fc.record(
  {
    base: text(300),
    platforms: fc.array(
      fc.record(
        {
          platform: text(300),
          size,
          baseSize: size,
          layers: fc.array(fc.record({ change: fc.constantFrom("added", "removed", "unchanged"), size, instruction: text(2_000) }, { requiredKeys: ["change", "size"] }), { maxLength: 300, size: "max" }),
        },
        { requiredKeys: ["platform", "size", "layers"] },
      ),
      { maxLength: 30 },
    ),
    removedPlatforms: fc.array(text(300), { maxLength: 100 }),
    note: text(),
    size,
  },
  { requiredKeys: ["base"] },
);

const ms = fc.nat({ max: 10 ** 9 });
const cacheReport: fc.Arbitrary<CacheReport> = fc.record(
  {
    steps: fc.array(fc.record({ name: text(2_000), status: fc.constantFrom("cached" as const, "ran" as const, "failed" as const, "stopped" as const), durationMs: ms, savedMs: ms }, { requiredKeys: ["name", "status"] }), { maxLength: 500, size: "max" }),
    firstRerun: fc.record({
      step: text(),
      base: fc.record({ ref: text(500), sha: fc.stringMatching(/^[0-9a-f]{40}$/) }),
      cause: fc.oneof(
        fc.record({ kind: fc.constant("files" as const), files: fc.array(text(2_000), { maxLength: 500 }), more: fc.nat(), partial: fc.boolean() }),
        fc.record({ kind: fc.constant("dockerfile" as const), path: text(500), line: fc.nat(), now: text(), before: text() }, { requiredKeys: ["kind", "path", "line", "now"] }),
        fc.record({ kind: fc.constant("build-args" as const), names: fc.array(text(500), { maxLength: 500 }) }),
        fc.record({ kind: fc.constant("base-image" as const), image: text(), before: text(), now: text() }),
        fc.constant({ kind: "cache-not-found" as const }),
      ),
    }),
    note: text(),
  },
  { requiredKeys: ["steps"] },
);

/** Summaries that reached the budget and were cut: the inputs must be big enough for some to be. */
let cut = 0;

const fits = (out: CheckRunOutput, headline: RegExp) => {
  if (out.summary.endsWith("(cut to fit GitHub's limit)")) cut++;
  for (const field of [out.summary, out.text ?? ""]) {
    assert.ok(Buffer.byteLength(field) <= MAX_OUTPUT_BYTES, `${Buffer.byteLength(field)} bytes`);
    assert.ok(!field.includes("\uFFFD"), "cut inside a character");
  }
  assert.match(out.summary, headline);
};

/** A failure names its seed and path (to replay with BKB_PROPERTY_SEED), not the megabytes of its counterexample. */
const RUNS: fc.Parameters<unknown[]> = {
  numRuns: 40,
  // Shrinking megabyte-sized counterexamples takes minutes: the seed and path replay the failure instead.
  endOnFailure: true,
  seed: Number(process.env.BKB_PROPERTY_SEED ?? Date.now() % 2 ** 31),
  reporter: (run) => {
    if (run.failed) throw new Error(`property failed with seed ${run.seed}, path ${run.counterexamplePath}: ${String(run.errorInstance)}`);
  },
};

test("a succeeded build's summary fits the budget and starts with its headline, for any tags, findings, notes, size diff and cache report", () => {
  cut = 0;
  fc.assert(
    fc.property(
      text(200),
      fc.array(text(500), { maxLength: 3_000, size: "max" }),
      fc.option(text(3_000), { nil: undefined }),
      fc.array(text(200), { maxLength: 200 }),
      fc.array(finding, { maxLength: 200, size: "max" }),
      fc.option(text(), { nil: undefined }),
      fc.option(fc.record({ tags: fc.array(text(500), { maxLength: 500 }), reason: text() }), { nil: undefined }),
      fc.option(sizeDiff, { nil: undefined }),
      fc.option(cacheReport, { nil: undefined }),
      (image, tags, digest, platforms, findings, checksNote, leftOut, diff, cache) => {
        const out = renderSucceeded(image, {
          tags,
          pushed: true,
          durationMs: 12_000,
          stepsDone: 3,
          stepsTotal: 4,
          cachedSteps: 1,
          platforms,
          builtOn: platforms.map((platform) => ({ platform, builder: image })),
          findings,
          ...(digest !== undefined ? { digest } : {}),
          ...(checksNote !== undefined ? { checksNote } : {}),
          ...(leftOut !== undefined ? { leftOut } : {}),
          ...(diff !== undefined ? { sizeDiff: diff } : {}),
          ...(cache !== undefined ? { cacheReport: cache } : {}),
        });
        fits(out, /^Built and pushed `/);
      },
    ),
    RUNS,
  );
  assert.ok(cut > 0, "no sample reached the budget");
});

test("a failed build's summary and log text fit the budget, headline first, for any message, step, log, findings and cache report", () => {
  cut = 0;
  fc.assert(
    fc.property(
      text(200),
      text(),
      fc.option(text(), { nil: undefined }),
      fc.oneof(text(), fc.array(text(500), { maxLength: 2_000, size: "max" })),
      fc.array(finding, { maxLength: 200, size: "max" }),
      fc.option(text(2_000), { nil: undefined }),
      fc.option(cacheReport, { nil: undefined }),
      (image, message, step, log, findings, file, cache) => {
        const out = renderFailed(image, {
          message,
          log,
          findings,
          exitCode: 1,
          durationMs: 5_000,
          stepsDone: 1,
          stepsTotal: 2,
          attempts: { count: 3, earlier: [message, message] },
          ...(step !== undefined ? { step } : {}),
          ...(file !== undefined ? { location: { file, startLine: 1, endLine: 1 } } : {}),
          ...(cache !== undefined ? { cacheReport: cache } : {}),
        });
        fits(out, /^Building `/);
      },
    ),
    RUNS,
  );
  assert.ok(cut > 0, "no sample reached the budget");
});

test("queued, progress, retrying, cancelled and neutral outputs fit the budget for any image name and reason", () => {
  fc.assert(
    fc.property(text(), text(), (image, reason) => {
      fits(renderQueued(image), /^Waiting for a builder for `/);
      fits(renderProgress(image, { stepsDone: 1, stepsTotal: 2, cachedSteps: 0, currentStep: reason }), /^Building `/);
      fits(renderRetrying(image, reason), /^Building `/);
      fits(renderCancelled(reason), /^The build was cancelled: /);
      fits(renderNeutral(reason), /^[\s\S]/);
    }),
    RUNS,
  );
});

test("a log with 200,000 backtick runs gets its log tail (the fence is found without spreading every run as an argument)", () => {
  const out = renderFailed("api", { message: "boom", log: "a`b ``c\n".repeat(200_000) });
  assert.ok(Buffer.byteLength(out.text ?? "") <= MAX_OUTPUT_BYTES);
  assert.match(out.text ?? "", /\n```text\n(a`b ``c\n)+a`b ``c\n```$/);
});

test("a reused merge group image's summary fits the budget and starts with its headline, for any tags and digest", () => {
  fc.assert(
    fc.property(text(200), fc.array(text(500), { maxLength: 3_000, size: "max" }), text(3_000), fc.array(text(200), { maxLength: 200 }), (image, tags, digest, platforms) => {
      const out = renderSucceeded(image, { tags, pushed: true, digest, platforms, durationMs: 900, stepsDone: 0, stepsTotal: 0, cachedSteps: 0, reusedFrom: { sha: "0".repeat(40), pr: 11 } });
      fits(out, /^Reused `/);
    }),
    RUNS,
  );
});
