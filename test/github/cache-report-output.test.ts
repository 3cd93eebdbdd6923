import { test } from "node:test";
import assert from "node:assert/strict";
import { renderCacheReport } from "../../src/github/cache-report-output.js";
import type { CacheStepRow } from "../../src/github/cache-report-output.js";
import { MAX_OUTPUT_BYTES, renderSucceeded } from "../../src/github/check-run-output.js";

const success = { tags: [], pushed: false, durationMs: 61_000, stepsDone: 5, stepsTotal: 5, cachedSteps: 3 };

test("the headline stays first; the cache section follows with its table", () => {
  const steps: CacheStepRow[] = [
    { name: "[1/4] FROM busybox@sha256:abc", status: "resolved" },
    { name: "[2/4] RUN make", status: "cached", savedMs: 12_400 },
    { name: "[3/4] RUN make test", status: "cached" },
    { name: "[4/4] COPY a|b /x", status: "ran", durationMs: 380 },
  ];
  const { summary } = renderSucceeded("api", { ...success, cacheReport: { steps } });
  assert.ok(summary.startsWith("Built `api` in 1m 1s."), summary);
  assert.match(summary, /\*\*Cache:\*\* 2 of 3 Dockerfile steps cached, saving about 12s \(1 of them timed before\); base image resolved \(not pulled\)\./);
  assert.match(summary, /\| cached \| `\[2\/4\] RUN make` \| saved ~12s \|/);
  assert.match(summary, /\| \*\*ran\*\* \| `\[4\/4\] COPY a\\\|b \/x` \| 0\.4s \|/, "a pipe in a step name does not break the table");
  assert.ok(summary.includes("| Cache | Step | Time |"), "the outcome comes first: a phone shows it even when a step name is wide");
});

test("a FROM's pinned digest is left out of its row (the base-image cause names digests)", () => {
  const digest = `sha256:${"ab".repeat(32)}`;
  const lines = renderCacheReport({ steps: [{ name: `[1/2] FROM 127.0.0.1:5000/busybox:latest@${digest}`, status: "resolved" }] });
  assert.ok(lines.includes("| resolved | `[1/2] FROM 127.0.0.1:5000/busybox:latest` |  |"), lines.join("\n"));
});

test("FROM rows say what the daemon did with the base image, and are not counted as steps cached or ran", () => {
  const render = (statuses: Array<"resolved" | "pulled">): string[] =>
    renderCacheReport({ steps: [...statuses.map((status, i) => ({ name: `[stage-${i} 1/2] FROM base-${i}`, status })), { name: "[2/2] RUN make", status: "cached" }] });
  const one = render(["pulled"]);
  assert.ok(one.includes("**Cache:** 1 of 1 Dockerfile steps cached; base image pulled."), one.join("\n"));
  assert.ok(one.includes("| pulled | `[stage-0 1/2] FROM base-0` |  |"), "not bold: it is not a step that ran");
  assert.ok(render(["resolved", "resolved"]).includes("**Cache:** 1 of 1 Dockerfile steps cached; base images resolved (none pulled)."));
  assert.ok(render(["resolved", "pulled"]).includes("**Cache:** 1 of 1 Dockerfile steps cached; 1 of 2 base images pulled."));
});

test("a long build shows every step that ran and the cached steps that saved most, and counts the rest", () => {
  const steps: CacheStepRow[] = Array.from({ length: 100 }, (_, i) =>
    i % 4 === 0 ? { name: `[${i}/100] RUN ran-${i}`, status: "ran", durationMs: 1000 } : { name: `[${i}/100] RUN cached-${i}`, status: "cached", savedMs: i * 100 },
  );
  const lines = renderCacheReport({ steps });
  const rows = lines.filter((l) => /^\| (cached|\*\*ran\*\*) \| `/.test(l));
  assert.equal(rows.length, 40);
  assert.equal(rows.filter((r) => r.includes("**ran**")).length, 25, "all 25 steps that ran");
  assert.ok(rows.some((r) => r.includes("cached-99")) && !rows.some((r) => r.includes("cached-1`")), "the cached steps that saved most");
  assert.ok(lines.includes("…and 60 more steps not shown (the log page lists every step)."));
});

test("a huge report and a long file list still fit GitHub's summary limit", () => {
  const steps: CacheStepRow[] = Array.from({ length: 2000 }, (_, i) => ({ name: `[${i}/2000] RUN ${"x".repeat(5000)}`, status: i % 2 === 0 ? "cached" : "ran", durationMs: 5 }));
  const files = Array.from({ length: 5000 }, (_, i) => `src/${"d/".repeat(100)}${i}.txt`);
  const { summary } = renderSucceeded("api", {
    ...success,
    cacheReport: { steps, firstRerun: { step: steps[1]?.name ?? "", base: { ref: "main", sha: "a".repeat(40) }, cause: { kind: "files", files, more: 0 } } },
  });
  assert.ok(Buffer.byteLength(summary) <= MAX_OUTPUT_BYTES, String(Buffer.byteLength(summary)));
  assert.match(summary, /- …and 4980 more\n/);
  assert.doesNotMatch(summary, /cut to fit/, "the cache section clips itself; the summary is not cut");
});

test("each cause reads as one plain sentence", () => {
  const base = { ref: "main", sha: "0123456789abcdef0123456789abcdef01234567" };
  const say = (cause: Parameters<typeof renderCacheReport>[0] extends infer R ? (R extends { firstRerun?: { cause: infer C } } ? C : never) : never): string =>
    renderCacheReport({ steps: [], firstRerun: { step: "[2/3] RUN make", base, cause } }).join("\n");
  assert.match(say({ kind: "dockerfile", path: "svc/Dockerfile", line: 4, now: "RUN make all", before: "RUN make" }), /its Dockerfile line changed, `svc\/Dockerfile:4`:\n\n```diff\n- RUN make\n\+ RUN make all\n```/);
  assert.match(say({ kind: "build-args", names: ["VERSION"] }), /build arg `VERSION` changed\./);
  assert.match(say({ kind: "base-image", image: "node:22", before: "sha256:111111111111", now: "sha256:222222222222" }), /the base image `node:22` moved from `sha256:111111111111` to `sha256:222222222222`\./);
  assert.match(say({ kind: "cache-not-found" }), /\(compared with `main` at `0123456`\), with the same inputs: the cache for the base branch was not found/);
});
