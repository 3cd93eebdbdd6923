import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import { FairShare } from "../../src/queue/fair-share.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { startAppProcess } from "../support/app-process.js";
import type { AppProcess } from "../support/app-process.js";
import { NO_BUILDKITD_HINT } from "../support/stack/buildkitd-binary.js";
import { freePort } from "../support/stack/free-port.js";
import { testStack } from "../support/stack/env.js";
import { startE2E } from "./support/e2e-harness.js";
import type { E2E, E2ERepo } from "./support/e2e-harness.js";
import { eventually } from "./support/wait.js";

/**
 * Issue 17 point 6, "several worker processes against one Redis, one of them SIGKILLed mid-build": the real app as
 * a web process and two worker processes, on a pool of the stack's buildkitd and its Docker Engine, with a cap per
 * installation. One worker is SIGKILLed while it runs a build. The other one finishes every build, the killed one's
 * too (no build lost, none left in progress), and the killed worker's slots come back: its fair-share leases and its
 * holds on the builders expire, and nothing in Redis still counts it.
 */
const stack = testStack();
const BUILDS = 4;

describe("e2e: two worker processes on a builder pool, one SIGKILLed mid-build", { skip: stack.buildkitdAddr ? false : NO_BUILDKITD_HINT, timeout: 900_000 }, () => {
  let e2e: E2E;
  let second: AppProcess | undefined;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-e2e-pool-kill-"));
    const file = join(dir, "builders.yml");
    await writeFile(file, ["builders:", "  - name: buildkitd", `    address: ${stack.buildkitdAddr}`, "  - name: engine", `    address: ${stack.buildkitAddr}`, ""].join("\n"));
    e2e = await startE2E({ name: "pool-kill", roles: "split", env: { BUILDKIT_BOT_BUILDERS_FILE: file, BUILDKIT_BOT_MAX_CONCURRENT_BUILDS: "3" } });
    second = await startAppProcess({ name: "worker-2", dir: join(e2e.dir, "logs"), env: { ...e2e.worker.env, PORT: String(await freePort()) } });
  });

  after(async () => {
    await second?.stop(30_000).catch(() => undefined);
    await e2e?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("the other worker finishes every build, the killed one's included, and the killed worker's slots come back", { timeout: 840_000 }, async () => {
    const workers = [e2e.worker, second!];
    const fair = new FairShare(e2e.redisClient, e2e.queuePrefix);
    const pushed: Array<{ repo: E2ERepo; sha: string; name: string }> = [];
    for (let i = 0; i < BUILDS; i++) {
      const repo = await e2e.createRepo(`pool-kill-${i}`, { "README.md": "x\n" });
      const { sha } = await e2e.push(repo, { Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${randomBytes(6).toString("hex")} && sleep 30\nRUN echo done\n` });
      pushed.push({ repo, sha, name: `buildkit-bot / pool-kill-${i}` });
    }

    // A build running on a worker process, its check run in progress (its solve has begun): that process is killed.
    const { victim, buildId, byBuilder } = await eventually(
      async () => {
        const snapshot = await fair.snapshot();
        for (const share of snapshot.installations) {
          for (const r of share.running) {
            const victim = workers.find((w) => r.holder.split(":")[1] === String(w.pid));
            const build = pushed.find((p) => r.buildId.includes(`-${p.sha.slice(0, 12)}-`));
            const solving = build && e2e.checkRuns(build.repo, { sha: build.sha, name: build.name }).some((c) => c.status === "in_progress");
            if (r.state === "running" && victim && solving) return { victim, buildId: r.buildId, byBuilder: snapshot.byBuilder };
          }
        }
        return undefined;
      },
      "a build to run on one of the worker processes",
      { timeoutMs: 180_000 },
    );
    assert.ok(Object.values(byBuilder).reduce((n, k) => n + k, 0) >= 1, `the snapshot counts the builds on each builder: ${JSON.stringify(byBuilder)}`);
    const killedPid = victim.pid;
    await victim.kill9();
    // On a loaded machine the look above can be seconds old: the kill must have come before the build ended.
    const victimLog = await victim.output();
    assert.ok(!victimLog.split("\n").some((l) => l.includes(buildId) && l.includes("build succeeded")), `the victim finished ${buildId} before it was killed; the scenario needs a longer step`);
    assert.equal(victim.exit?.signal, "SIGKILL");
    const survivor = workers.find((w) => w !== victim)!;

    // No build lost: every check run ends in success, the killed one's after its retry on the survivor.
    for (const p of pushed) {
      const run = await e2e.completedCheckRun(p.repo, p.sha, p.name, 600_000);
      assert.equal(run.conclusion, "success", `${p.name}: ${run.output.title}\n${run.output.summary}`);
    }
    const log = await survivor.output();
    assert.ok(log.includes(buildId), `the survivor ran the killed worker's build ${buildId}; the victim's lines naming it:\n${victimLog.split("\n").filter((l) => l.includes(buildId)).slice(-5).join("\n")}`);

    // None left in progress, and nothing in Redis still counts the killed worker: its fair-share leases and its holds
    // on the builders have expired and been swept.
    const builds = new Queue(QueueName.Builds, { connection: e2e.redisClient, prefix: e2e.queuePrefix });
    try {
      const counts = await eventually(
        async () => {
          const c = await builds.getJobCounts("active", "waiting", "prioritized", "delayed", "failed");
          return c.active === 0 && c.waiting === 0 && c.delayed === 0 && c.prioritized === 0 ? c : undefined;
        },
        "no build job to be left queued or running",
        { timeoutMs: 120_000 },
      );
      assert.equal(counts.failed, 0);
    } finally {
      await builds.close();
    }
    const snapshot = await eventually(
      async () => {
        const s = await fair.snapshot();
        return s.installations.every((i) => i.running.length === 0) && Object.keys(s.byBuilder).length === 0 ? s : undefined;
      },
      "every fair-share slot and builder hold to be given back",
      { timeoutMs: 120_000, describe: async () => JSON.stringify(await fair.snapshot()) },
    );
    assert.ok(!Object.keys(snapshot.byHolder).some((h) => h.split(":")[1] === String(killedPid)), JSON.stringify(snapshot.byHolder));
    const leftovers = await e2e.redisClient.zrange(`${e2e.queuePrefix}:bkb:fair:leases`, 0, -1);
    assert.deepEqual(leftovers, [], "no lease of the killed worker is left in the fair share");
  });
});
