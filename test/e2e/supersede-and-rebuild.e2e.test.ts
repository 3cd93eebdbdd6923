import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { RebuildAction } from "../../src/github/check-run-actions.js";
import { startE2E } from "./support/e2e-harness.js";
import { testDaemons } from "../support/daemons.js";
import type { E2E, E2ERepo } from "./support/e2e-harness.js";
import { checkRunPayload } from "./support/payloads.js";
import { cachedSteps, instructionSteps, logPage, steps } from "./support/log-page.js";
import { eventually } from "./support/wait.js";
import type { FakeCheckRun } from "../support/fake-github/index.js";

/** Issue 5 item 7 d and e: a newer push cancels the running build; re-run and "Rebuild (no cache)" rebuild. */

const TIMEOUT = 300_000;

/** Source steps BuildKit marks cached when their content is already local, whatever the cache setting. */
const SOURCE_STEP = /^\[internal\] load git source |^\[(?:\S+ )?\d+\/\d+\] FROM /;

for (const daemon of testDaemons()) {
  describe(`e2e: supersede and rebuilds on ${daemon.name}`, { skip: daemon.skip, timeout: 900_000 }, () => {
    let e2e: E2E;
    let base: string;
    const stamp = () => randomBytes(6).toString("hex");

    before(async () => {
      e2e = await startE2E({ name: `supersede-${daemon.kind}`, daemon });
      base = e2e.stack.baseImage;
    });

    after(async () => {
      await e2e?.close();
    });

    it("d) a second push on the branch cancels the running build (superseded by <sha7>, status error); the second succeeds", { timeout: TIMEOUT }, async () => {
      const repo = await e2e.createRepo("busy", { "README.md": "hi\n" });
      const first = await e2e.push(repo, { Dockerfile: `FROM ${base}\nRUN echo ${stamp()} && sleep 20\n` });
      const name = "buildkit-bot / busy";
      await eventually(
        async () => e2e.checkRuns(repo, { sha: first.sha, name }).find((c) => c.status === "in_progress"),
        "the first build to be running",
        { timeoutMs: 120_000 },
      );
      const second = await e2e.push(repo, { Dockerfile: `FROM ${base}\nRUN echo ${stamp()}\n` });

      const cancelled = await e2e.completedCheckRun(repo, first.sha, name, TIMEOUT);
      assert.equal(cancelled.conclusion, "cancelled", `${cancelled.output.title}\n${cancelled.output.summary}`);
      const reason = `superseded by ${second.sha.slice(0, 7)}`;
      assert.ok(`${cancelled.output.title} ${cancelled.output.summary}`.includes(reason), `"${reason}" in ${cancelled.output.title}`);
      const status = await e2e.finalStatus(repo, first.sha, "busy");
      assert.equal(status.state, "error");
      assert.ok(status.description?.includes(reason), String(status.description));

      const done = await e2e.completedCheckRun(repo, second.sha, name, TIMEOUT);
      assert.equal(done.conclusion, "success", `${done.output.title}\n${done.output.summary}\n${done.output.text ?? ""}`);
      assert.equal((await e2e.finalStatus(repo, second.sha, "busy")).state, "success");
    });

    it("e) re-running a check run rebuilds (cache used); \"Rebuild (no cache)\" runs every instruction again", { timeout: TIMEOUT }, async () => {
      const repo: E2ERepo = await e2e.createRepo("again", { "README.md": "hi\n" });
      const name = "buildkit-bot / again";
      const { sha } = await e2e.push(repo, {
        Dockerfile: `FROM ${base}\nRUN echo ${stamp()} > /a\nRUN cat /a > /b\nCOPY README.md /readme\n`,
      });
      const firstRun = await e2e.completedCheckRun(repo, sha, name, TIMEOUT);
      assert.equal(firstRun.conclusion, "success", `${firstRun.output.title}\n${firstRun.output.summary}\n${firstRun.output.text ?? ""}`);
      assert.ok(firstRun.external_id, "our check runs carry an external_id");

      const rerunOf = async (run: FakeCheckRun, payloadOpts: Parameters<typeof checkRunPayload>[2]): Promise<FakeCheckRun> => {
        const known = new Set(e2e.checkRuns(repo, { sha, name }).map((c) => c.id));
        await e2e.deliver("check_run", checkRunPayload(repo, run, payloadOpts));
        return eventually(
          async () => e2e.checkRuns(repo, { sha, name }).find((c) => !known.has(c.id) && c.status === "completed"),
          "the rebuild's check run to complete",
          { timeoutMs: TIMEOUT },
        );
      };

      const rerun = await rerunOf(firstRun, { appId: e2e.appId, branch: "main", action: "rerequested" });
      assert.equal(rerun.conclusion, "success", `${rerun.output.title}\n${rerun.output.summary}`);
      const rerunSteps = steps(await logPage(rerun));
      assert.deepEqual(instructionSteps(rerunSteps).map((s) => s.status), ["cached", "cached", "cached"], "a plain re-run reuses the build cache");
      assert.ok(cachedSteps(rerun) >= 3);

      const noCache = await rerunOf(rerun, { appId: e2e.appId, branch: "main", action: "requested_action", identifier: RebuildAction.RebuildNoCache.identifier });
      assert.equal(noCache.conclusion, "success", `${noCache.output.title}\n${noCache.output.summary}`);
      const noCacheSteps = steps(await logPage(noCache));
      const shown = noCacheSteps.map((s) => `${s.status} ${s.name}`).join("\n");
      assert.deepEqual(instructionSteps(noCacheSteps).map((s) => s.status), ["done", "done", "done"], `every instruction ran again:\n${shown}`);
      // BuildKit reports the sources it already holds (the commit's git checkout, the base image) as cached even
      // with no-cache; nothing that runs the Dockerfile's instructions or exports may be.
      assert.deepEqual(noCacheSteps.filter((s) => s.status === "cached" && !SOURCE_STEP.test(s.name)).map((s) => s.name), [], shown);
      assert.equal(cachedSteps(noCache), noCacheSteps.filter((s) => s.status === "cached").length, "the check run counts what the log shows");

      const builds = (await e2e.buildJobs()).filter((b) => b.repository.repoId === repo.repoId);
      assert.deepEqual(builds.map((b) => [b.reason, b.noCache]), [["push", false], ["rerequested", false], ["rebuild-no-cache", true]]);
    });
  });
}
