import assert from "node:assert/strict";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import { testDaemons } from "../support/daemons.js";
import { startE2E } from "./support/e2e-harness.js";
import type { E2E } from "./support/e2e-harness.js";
import { prepareBattery } from "./support/hostile-battery.js";
import { PingLoop } from "./support/ping-loop.js";

/**
 * Issue 14 item 7: the whole hostile-input battery as real deliveries to one app (role `all`, child process, real
 * Redis, the fake GitHub and the git server), all lanes at once, while a signed `ping` goes out every 50 ms.
 * Asserted: every hostile delivery ends in its own outcome (413, 400, 408, 503 with Retry-After, a config check
 * failure annotated on its line, a neutral skipped check run), every ping gets a 2xx, and the app still serves a
 * normal push afterwards. Timings are printed, never asserted (bench/hostile.ts measures them). No case reaches a
 * BuildKit daemon; the app is given the first one this machine runs, as every e2e world is.
 */

const daemon = testDaemons().find((d) => d.skip === false);

describe("e2e: hostile-input battery with a concurrent ping", { skip: daemon ? false : "no BuildKit daemon available for the e2e world", timeout: 900_000 }, () => {
  let e2e: E2E;

  before(async () => {
    e2e = await startE2E({ name: "hostile-battery", ...(daemon ? { daemon } : {}), logLevel: "warn" });
  });

  after(async () => {
    await e2e?.close();
  });

  it("every hostile delivery ends in its outcome, every ping gets a 2xx, and the app serves on", { timeout: 600_000 }, async (t) => {
    const hookUrl = `${e2e.web.url!}/api/github/webhooks`;
    const battery = await prepareBattery({ hookUrl, secret: e2e.webhookSecret, github: e2e.github, installationId: e2e.installationId, owner: e2e.owner });
    const pings = new PingLoop(hookUrl, e2e.webhookSecret, 50);
    // This process's own loop (it runs the fake GitHub and sends the bodies), printed for context only.
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    pings.start();
    let outcomes;
    try {
      outcomes = await battery.run({ outcomeTimeoutMs: 240_000 });
    } finally {
      lag.disable();
    }
    const samples = await pings.stop();

    for (const o of outcomes) t.diagnostic(`${o.ok ? "ok    " : "FAILED"} ${o.name}: ${o.got}`);
    const failed = outcomes.filter((o) => !o.ok);
    assert.deepEqual(
      failed.map((o) => `${o.name}: expected ${o.expected}; got ${o.got}`),
      [],
      "every hostile delivery ends in its expected outcome",
    );
    assert.deepEqual(
      [...new Set(outcomes.map((o) => o.name))].sort(),
      [...battery.names].sort(),
      "every case of the battery has an outcome",
    );

    assert.ok(samples.length >= 20, `pings were sent throughout the battery (${samples.length})`);
    const bad = samples.filter((s) => s.status < 200 || s.status > 299);
    assert.deepEqual(bad.map((s) => `${s.status}${s.error ? ` ${s.error}` : ""}`), [], `every one of ${samples.length} pings got a 2xx`);
    const sorted = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
    t.diagnostic(
      `${samples.length} pings: p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; ` +
        `test process event loop max ${(lag.max / 1e6).toFixed(0)} ms (resolution 10 ms included)`,
    );

    // Still serving: a normal push of a repository with a plain config is planned (skipped by its paths, no build).
    const repo = await e2e.createRepo("after-battery", { "README.md": "after\n" });
    await e2e.commit(repo, { "README.md": "after 0\n" });
    const { sha } = await e2e.push(repo, { ".github/buildkit-bot.yml": 'images:\n  - name: app\n    paths: ["never/**"]\n', Dockerfile: "FROM scratch\n" });
    const run = await e2e.completedCheckRun(repo, sha, "buildkit-bot / app", 120_000);
    assert.equal(run.conclusion, "neutral", run.output.summary ?? "");
    assert.equal(e2e.web.exit, undefined, "the app process is still running");
  });
});
