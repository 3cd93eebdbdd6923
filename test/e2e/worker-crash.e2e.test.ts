import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startE2E } from "./support/e2e-harness.js";
import { testDaemons } from "../support/daemons.js";
import type { E2E } from "./support/e2e-harness.js";
import { eventually } from "./support/wait.js";

/**
 * Issue 5 item 7 i: the worker process is SIGKILLed in the middle of a build and started again; the build's check
 * run must end concluded (success after the build is resumed, or failure saying what happened), never stay
 * `in_progress`.
 */

for (const daemon of testDaemons()) {
  describe(`e2e: worker killed mid-build on ${daemon.name}`, { skip: daemon.skip, timeout: 900_000 }, () => {
    let e2e: E2E;

    before(async () => {
      e2e = await startE2E({ name: `crash-${daemon.kind}`, roles: "split", daemon });
    });

    after(async () => {
      await e2e?.close();
    });

    it("a SIGKILLed worker's build is concluded after the restart", { timeout: 600_000 }, async () => {
      const repo = await e2e.createRepo("crashy", { "README.md": "hi\n" });
      const name = "buildkit-bot / crashy";
      const { sha } = await e2e.push(repo, {
        Dockerfile: `FROM ${e2e.stack.baseImage}\nRUN echo ${randomBytes(6).toString("hex")} && sleep 15\nRUN echo after-sleep\n`,
      });
      const running = await eventually(
        async () => e2e.checkRuns(repo, { sha, name }).find((c) => c.status === "in_progress"),
        "the build to be running",
        { timeoutMs: 120_000 },
      );
      const workerPid = e2e.worker.pid;
      await e2e.worker.kill9();
      assert.equal(e2e.worker.exit?.signal, "SIGKILL");
      assert.equal(e2e.github.checkRun(running.id)?.status, "in_progress", "the killed worker could not report anything");

      await e2e.worker.restart();
      assert.notEqual(e2e.worker.pid, workerPid);

      const concluded = await eventually(
        async () => {
          const run = e2e.github.checkRun(running.id);
          return run?.status === "completed" ? run : undefined;
        },
        "the interrupted build's check run to be concluded",
        { timeoutMs: 420_000, describe: async () => JSON.stringify(e2e.github.checkRun(running.id)?.output) },
      );
      const text = `${concluded.output.title}\n${concluded.output.summary}`;
      assert.ok(concluded.conclusion === "success" || concluded.conclusion === "failure", `concluded ${concluded.conclusion}: ${text}`);
      if (concluded.conclusion === "failure") {
        assert.match(text, /worker|stall|abandon|interrupt|restart|lost|crash/i, "a failure says the worker went away");
      }
      const status = await e2e.finalStatus(repo, sha, "crashy");
      assert.equal(status.state, concluded.conclusion === "success" ? "success" : "failure");
      // Nothing else for this commit is left hanging either.
      await eventually(async () => e2e.checkRuns(repo, { sha }).every((c) => c.status === "completed"), "every check run of the commit to be completed", {
        timeoutMs: 120_000,
      });
    });
  });
}
