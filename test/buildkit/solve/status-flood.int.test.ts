import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BuildKitClient } from "../../../src/buildkit/client.js";
import { LOG_LOST_WARNING } from "../../../src/buildkit/solve/run-solve.js";
import { EMPTY_MESSAGE_PAUSE_MS } from "../../../src/buildkit/solve/status-stream.js";
import { testStack } from "../../support/stack/env.js";
import { statusMessageCounter } from "../../support/status-message-counter.js";

const stack = testStack();

const { interceptor, counts: wire } = statusMessageCounter();

let client: BuildKitClient;
let dir: string;
before(async () => {
  client = await BuildKitClient.connect(stack.buildkitAddr, { interceptors: [interceptor] });
  dir = await mkdtemp(join(tmpdir(), "bkb-status-flood-"));
});
after(async () => {
  await client?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the status stream when a step's log outruns Engine 20.10", () => {
  test("the Engine's empty messages are read at most one per pause, not as fast as it can send them; the user is warned", { timeout: 180_000 }, async (t) => {
    // A burst of 16 MB at once (the stack's Engine has the step-log limits raised): Engine 20.10 stops delivering
    // the step's log and streams empty messages until the build ends. The step then stays alive for 3 s.
    const line = "a".repeat(64);
    await writeFile(
      join(dir, "Dockerfile"),
      `FROM ${stack.baseImage}\nRUN echo flood-${randomBytes(4).toString("hex")} && yes ${line} | head -c 16000000 && sleep 3\n`,
    );
    const started = Date.now();
    // The build succeeds; the Engine may lose the step's completion along with the rest of its log.
    const warnings: string[] = [];
    await client.solve({ context: { type: "local", dir } }, { onProgress: (e) => e.type === "warning" && warnings.push(e.message) });
    const wallMs = Date.now() - started;

    assert.ok(wire.empty > 0, "the Engine did not fall into its empty-message loop; this scenario needs a burst it cannot keep up with");
    // The Engine sends them as fast as it can (some 200,000 a second); we take one per pause (plus grpc-js's
    // read-ahead of 16 messages).
    t.diagnostic(`${wire.empty} of ${wire.messages} status messages empty, in ${wallMs} ms`);
    const bound = wallMs / EMPTY_MESSAGE_PAUSE_MS + 16;
    assert.deepEqual(warnings, [LOG_LOST_WARNING], "the user is told why the log ends early");
    assert.ok(wire.empty <= bound, `${wire.empty} empty messages read in ${wallMs} ms (at most ${Math.round(bound)} expected)`);
  });
});
