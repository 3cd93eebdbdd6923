import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BuildKitClient } from "../../../src/buildkit/client.js";
import type { ProgressEvent } from "../../../src/buildkit/progress/events.js";
import { LOG_LOST_WARNING } from "../../../src/buildkit/solve/run-solve.js";
import { EMPTY_MESSAGE_PAUSE_MS } from "../../../src/buildkit/solve/status-stream.js";
import { buildkitdDaemon, engineDaemon } from "../../support/daemons.js";
import type { TestDaemon } from "../../support/daemons.js";
import { testStack } from "../../support/stack/env.js";
import type { StatusMessageCounts } from "../../support/status-message-counter.js";
import { statusMessageCounter } from "../../support/status-message-counter.js";

const stack = testStack();

/** A burst of 16 MB at once from one RUN step, which then stays alive for 3 s. */
async function floodBuild(daemon: TestDaemon): Promise<{ wire: StatusMessageCounts; warnings: string[]; logBytes: number; clipNotice?: string; wallMs: number }> {
  const { interceptor, counts: wire } = statusMessageCounter();
  const client = await BuildKitClient.connect(daemon.address, { interceptors: [interceptor] });
  const dir = await mkdtemp(join(tmpdir(), "bkb-status-flood-"));
  try {
    const line = "a".repeat(64);
    await writeFile(
      join(dir, "Dockerfile"),
      `FROM ${stack.baseImage}\nRUN echo flood-${randomBytes(4).toString("hex")} && yes ${line} | head -c 16000000 && sleep 3\n`,
    );
    const warnings: string[] = [];
    let logBytes = 0;
    let clipNotice: string | undefined;
    const onProgress = (e: ProgressEvent): void => {
      if (e.type === "warning") warnings.push(e.message);
      if (e.type !== "log") return;
      logBytes += e.data.length;
      clipNotice ??= /\[output clipped, log limit [^\]]* reached\]/.exec(e.data)?.[0];
    };
    const started = Date.now();
    // The build succeeds; Engine 20.10 may lose the step's completion along with the rest of its log.
    await client.solve({ context: { type: "local", dir } }, { onProgress });
    return { wire, warnings, logBytes, ...(clipNotice ? { clipNotice } : {}), wallMs: Date.now() - started };
  } finally {
    await client.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// Engine only: the empty-message loop is Engine 20.10's (its embedded BuildKit 0.8 with the stack's raised step-log
// limits); buildkitd clips a step's log at its own limit and keeps streaming real messages.
describe("the status stream when a step's log outruns Engine 20.10 (Engine only: its empty-Status-message flood)", () => {
  test("the Engine's empty messages are read at most one per pause, not as fast as it can send them; the user is warned", { timeout: 180_000 }, async (t) => {
    // Whether the Engine falls behind depends on how fast the step prints against how fast the Engine forwards, so
    // on a loaded machine one burst may not do it; each try is a fresh build (a new RUN line, no cache).
    const tries = 3;
    let flood = await floodBuild(engineDaemon());
    for (let tried = 1; flood.wire.empty === 0 && tried < tries; tried++) {
      t.diagnostic(`try ${tried}: the Engine kept up with the burst (${flood.wire.messages} messages, none empty); trying again`);
      flood = await floodBuild(engineDaemon());
    }
    const { wire, warnings, wallMs } = flood;
    assert.ok(wire.empty > 0, `the Engine did not fall into its empty-message loop in ${tries} tries; this scenario needs a burst it cannot keep up with`);
    // The Engine sends them as fast as it can (some 200,000 a second); we take one per pause (plus grpc-js's
    // read-ahead of 16 messages).
    t.diagnostic(`${wire.empty} of ${wire.messages} status messages empty, in ${wallMs} ms`);
    const bound = wallMs / EMPTY_MESSAGE_PAUSE_MS + 16;
    assert.deepEqual(warnings, [LOG_LOST_WARNING], "the user is told why the log ends early");
    assert.ok(wire.empty <= bound, `${wire.empty} empty messages read in ${wallMs} ms (at most ${Math.round(bound)} expected)`);
  });
});

const buildkitd = buildkitdDaemon();

describe("the same log burst on buildkitd", { skip: buildkitd.skip }, () => {
  test("no empty messages and no lost-log warning: the log arrives up to the daemon's own clip, which it announces", { timeout: 180_000 }, async (t) => {
    const { wire, warnings, logBytes, clipNotice } = await floodBuild(buildkitd);
    t.diagnostic(`${wire.messages} status messages, ${logBytes} log bytes, ${clipNotice ?? "no clip notice"}`);
    assert.equal(wire.empty, 0);
    assert.ok(!warnings.includes(LOG_LOST_WARNING), warnings.join("\n"));
    // buildkitd clips a step's log by size and by rate (BUILDKIT_STEP_LOG_MAX_SIZE / _MAX_SPEED) and says so in the log.
    assert.ok(clipNotice, "buildkitd's clip notice reached the client");
    assert.ok(logBytes > 64 * 1024, `${logBytes} bytes of the step's log reached the client`);
  });
});
