import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { ConfigError } from "../../src/config/config-error.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import { selectFiles } from "../../src/config/path-filter.js";
import { HOSTILE_INPUTS } from "./hostile-inputs.js";

/**
 * The worst inputs run one after the other on the event loop of this process while a timer ticks, the way they
 * would in the app's event worker. Asserted: each ends in its config error and the timer kept firing between
 * them; the longest stall is printed as a diagnostic (bench/ measures, tests assert outcomes).
 */
test("hostile configs end in their config errors while the event loop keeps ticking", async (t) => {
  parseRepoConfig("images: [{name: warm}]\n");
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  histogram.enable();
  const ticksBetween: number[] = [];
  try {
    for (const input of HOSTILE_INPUTS) {
      const before = ticks;
      assert.throws(
        () => parseRepoConfig(input.text),
        (err: unknown) => err instanceof ConfigError && err.issues[0]!.message.startsWith(input.message) && err.line === input.line,
        input.name,
      );
      const long = "a".repeat(1000);
      assert.deepEqual(selectFiles(["*a*a*a*a*a*a*a*a*b", "**/a/**/a/**/b"], [long, `${long}b`]), [`${long}b`]);
      await sleep(20);
      ticksBetween.push(ticks - before);
    }
  } finally {
    clearInterval(timer);
    histogram.disable();
  }
  assert.ok(ticksBetween.every((n) => n >= 1), `the timer fired after every input: ${ticksBetween.join(", ")}`);
  t.diagnostic(
    `${HOSTILE_INPUTS.length} hostile inputs: event loop delay max ${(histogram.max / 1e6).toFixed(1)} ms, ` +
      `p99 ${(histogram.percentile(99) / 1e6).toFixed(1)} ms, mean ${(histogram.mean / 1e6).toFixed(1)} ms; ${ticks} ticks`,
  );
});
