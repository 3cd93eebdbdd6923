import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { BuildQueue } from "../../src/queue/build-queue.js";
import type { BuildJobInput } from "../../src/queue/build-queue.js";
import { createBuildWorker } from "../../src/queue/build-worker.js";
import type { BuildWorker } from "../../src/queue/build-worker.js";
import type { BuildOutcome } from "../../src/queue/build-outcome.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { createProducerConnection, createWorkerConnection, whenReady } from "../../src/queue/redis-connections.js";
import { TURN_PRIORITY } from "../../src/queue/build-class.js";
import { TransientError } from "../../src/errors/index.js";
import { buildInput, dropPrefix, eventually, freshPrefix, RecordingListener, redisUrl } from "./queue-test-kit.js";

const FAST = { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 };
const CHILD = fileURLToPath(new URL("./fixtures/fair-worker.ts", import.meta.url));

/** A build of installation `inst`, on a branch of its own (nothing supersedes it). */
function buildOf(inst: number, over: Partial<Omit<BuildJobInput, "image">> & { image?: string } = {}): BuildJobInput {
  const b = buildInput(over);
  const repoId = 100 + inst;
  return {
    ...b,
    repository: { ...b.repository, installationId: inst, repoId, owner: `owner${inst}` },
    supersedeKey: over.supersedeKey ?? `${repoId}/branch/b-${b.sha.slice(0, 8)}`,
  };
}

/** A processor whose builds run until the test finishes them, recording the order they start in. */
class Gate {
  readonly started: string[] = [];
  private readonly open = new Map<string, () => void>();
  readonly processor = async (job: BuildJob): Promise<BuildOutcome> => {
    this.started.push(job.buildId);
    await new Promise<void>((resolve) => this.open.set(job.buildId, resolve));
    return { pushedTags: [], durationMs: 0, summary: "ok" };
  };
  async startedCount(n: number): Promise<void> {
    await eventually(async () => (this.started.length >= n ? true : undefined), `${n} builds to start (${this.started.length} did)`);
  }
  finish(buildId: string): void {
    const resolve = this.open.get(buildId);
    assert.ok(resolve, `${buildId} is not running`);
    this.open.delete(buildId);
    resolve();
  }
  get running(): string[] {
    return [...this.open.keys()];
  }
}

describe("fair share across installations (one worker process)", () => {
  let producer: Redis;
  let connection: Redis;
  let prefix: string;
  let queue: BuildQueue;
  let worker: BuildWorker;
  let gate: Gate;

  before(async () => {
    producer = await whenReady(createProducerConnection(redisUrl()));
  });
  after(async () => {
    await producer.quit();
  });

  const start = async (capOf?: (inst: number) => number | undefined, concurrency = 1): Promise<void> => {
    prefix = freshPrefix();
    gate = new Gate();
    queue = new BuildQueue({ connection: producer, prefix, supersedeListener: new RecordingListener(), retry: FAST, ...(capOf ? { capOf: (r) => capOf(r.installationId) } : {}) });
    connection = createWorkerConnection(redisUrl());
    // One slot, and leases long enough that no upkeep tick runs during the test (the round-trip count stays exact).
    worker = await createBuildWorker({ connection, prefix, concurrency, retry: FAST, leaseTtlMs: 600_000, processor: gate.processor, supersedeListener: new RecordingListener() });
  };
  const stop = async (): Promise<void> => {
    for (const id of gate.running) gate.finish(id);
    await worker.close(5_000);
    await queue.close();
    await connection.quit();
    await dropPrefix(producer, prefix);
  };

  it("lets another installation's first build through at the next free slot, however long the backlog", async () => {
    await start();
    try {
      const backlog: BuildJob[] = [];
      for (let i = 0; i < 30; i++) backlog.push(await queue.enqueueBuild(buildOf(1)));
      await gate.startedCount(1);
      assert.equal(gate.started[0], backlog[0]!.buildId);

      const before = await queue.fairShareSnapshot();
      const a = before.installations.find((s) => s.installationId === 1);
      assert.deepEqual(a?.waiting[0], backlog.slice(1).map((b) => b.buildId), "29 of A's builds wait, oldest first");
      assert.deepEqual(a?.running.map((r) => [r.buildId, r.state, r.holder]), [[backlog[0]!.buildId, "running", worker.holder]]);

      const first = await queue.enqueueBuild(buildOf(2));
      gate.finish(backlog[0]!.buildId);
      await gate.startedCount(2);
      assert.equal(gate.started[1], first.buildId, "B's build takes the slot A's first build left");

      for (let n = 2; n <= 31; n++) {
        gate.finish(gate.running[0]!);
        if (n < 31) await gate.startedCount(n + 1);
      }
      assert.deepEqual(gate.started.filter((id) => id !== first.buildId), backlog.map((b) => b.buildId), "A's builds in their order");
      for (const id of gate.started) await eventually(async () => ((await queue.queue.getJobState(id)) === "completed" ? true : undefined), `${id} to complete`);

      const end = await queue.fairShareSnapshot();
      assert.deepEqual(end.installations.filter((s) => s.running.length > 0 || Object.values(s.waiting).some((w) => w.length > 0)), []);
      // Round trips of the fair share per build: 1 to enqueue; take, start and end: 3 (BullMQ's own calls aside).
      assert.equal(queue.fair.roundTrips, 31);
      assert.equal(worker.fair.roundTrips, 3 * 31);
    } finally {
      await stop();
    }
  });

  it("runs default-branch pushes and tags before other branches, and those before pull requests; every job has a priority", async () => {
    await start();
    try {
      const blocker = await queue.enqueueBuild(buildOf(9));
      await gate.startedCount(1);
      const pr = await queue.enqueueBuild(
        buildOf(1, {
          reason: "pull_request",
          ref: undefined,
          supersedeKey: "101/pull/7",
          pullRequest: { number: 7, headRef: "f", headSha: "a".repeat(40), baseRef: "main", baseSha: "b".repeat(40), headRepoFullName: "owner1/widgets", fork: false },
        }),
      );
      const feature = await queue.enqueueBuild(buildOf(1, { ref: "refs/heads/feature" }));
      const main = await queue.enqueueBuild(buildOf(1));
      const tag = await queue.enqueueBuild(buildOf(1, { ref: "refs/tags/v1.0.0", supersedeKey: "" }));
      const expected = [blocker, main, tag, feature, pr].map((b) => b.buildId);

      const priorities = await Promise.all(expected.map(async (id) => (await queue.queue.getJob(id))?.opts.priority));
      assert.deepEqual(priorities, [1, 1, 1, 2, 3]);
      const turns = await queue.queue.getCountsPerPriority([TURN_PRIORITY]);
      assert.ok(Number(turns[String(TURN_PRIORITY)]) >= 1, "turns wait with their own priority");

      for (let n = 1; n < expected.length; n++) {
        gate.finish(gate.running[0]!);
        await gate.startedCount(n + 1);
      }
      assert.deepEqual(gate.started, expected);
    } finally {
      await stop();
    }
  });

  it("holds an installation to its cap and gives the other slots to the rest", async () => {
    prefix = freshPrefix();
    gate = new Gate();
    queue = new BuildQueue({ connection: producer, prefix, supersedeListener: new RecordingListener(), retry: FAST, capOf: (r) => (r.installationId === 1 ? 2 : undefined) });
    connection = createWorkerConnection(redisUrl());
    worker = await createBuildWorker({ connection, prefix, concurrency: 4, retry: FAST, leaseTtlMs: 60_000, processor: gate.processor, supersedeListener: new RecordingListener() });
    try {
      const a: BuildJob[] = [];
      for (let i = 0; i < 6; i++) a.push(await queue.enqueueBuild(buildOf(1)));
      const b = [await queue.enqueueBuild(buildOf(2)), await queue.enqueueBuild(buildOf(2))];
      await gate.startedCount(4);
      const aIds = new Set(a.map((x) => x.buildId));
      assert.equal(gate.running.filter((id) => aIds.has(id)).length, 2, "A runs 2, its cap");
      assert.deepEqual(gate.running.filter((id) => !aIds.has(id)).sort(), b.map((x) => x.buildId).sort(), "B's builds take the other slots");

      // B's builds end: nothing starts in their place (A is at its cap, B has nothing left).
      for (const x of b) gate.finish(x.buildId);
      // Each of A's builds that ends lets A's next one through, and never more than 2 run.
      for (let n = 5; n <= 8; n++) {
        gate.finish(gate.running.find((id) => aIds.has(id))!);
        await gate.startedCount(n);
        assert.equal(gate.running.filter((id) => aIds.has(id)).length, 2);
      }
      for (const id of gate.running) gate.finish(id);
      // A's first two were let through at the same moment (two free slots): either may start first. Then in order.
      const aStarts = gate.started.filter((id) => aIds.has(id));
      assert.deepEqual(aStarts.slice(0, 2).sort(), a.slice(0, 2).map((x) => x.buildId).sort());
      assert.deepEqual(aStarts.slice(2), a.slice(2).map((x) => x.buildId));
    } finally {
      await stop();
    }
  });

  it("a build that frees its slot once solved lets the next one of its capped installation through while it still reports", async () => {
    prefix = freshPrefix();
    gate = new Gate();
    queue = new BuildQueue({ connection: producer, prefix, supersedeListener: new RecordingListener(), retry: FAST, capOf: () => 1 });
    connection = createWorkerConnection(redisUrl());
    const solving = new Gate();
    const reporting = new Gate();
    worker = await createBuildWorker({
      connection,
      prefix,
      concurrency: 2,
      retry: FAST,
      leaseTtlMs: 600_000,
      supersedeListener: new RecordingListener(),
      processor: async (job, _signal, slot) => {
        if (solving.started.length > 0) return gate.processor(job);
        await solving.processor(job);
        // Solved: the slot goes back, and the build goes on reporting until the test lets it end.
        slot?.free();
        return reporting.processor(job);
      },
    });
    try {
      const x = await queue.enqueueBuild(buildOf(1));
      const y = await queue.enqueueBuild(buildOf(1));
      await solving.startedCount(1);
      assert.deepEqual(solving.started, [x.buildId]);
      // y's turn found the installation at its cap (1) and ended.
      await eventually(async () => ((await queue.queue.getJobs(["active", "wait", "prioritized"])).some((j) => j?.name === "~turn") ? undefined : true), "y's turn to end");
      assert.deepEqual(gate.started, []);
      solving.finish(x.buildId);
      await reporting.startedCount(1);
      // y runs because x gave its slot back, though x has not ended.
      await gate.startedCount(1);
      assert.deepEqual(gate.started, [y.buildId]);
      const share = (await queue.fairShareSnapshot()).installations.find((i) => i.installationId === 1);
      assert.deepEqual(share?.running.map((r) => r.buildId), [y.buildId], "only y holds a slot");
      reporting.finish(x.buildId);
      gate.finish(y.buildId);
      for (const id of [x.buildId, y.buildId]) await eventually(async () => ((await queue.queue.getJobState(id)) === "completed" ? true : undefined), `${id} to complete`);
      const end = await queue.fairShareSnapshot();
      assert.deepEqual(end.installations.filter((i) => i.running.length > 0 || Object.values(i.waiting).some((w) => w.length > 0)), []);
      // Take, start and end once per build, and y's first turn: x's slot was given back once, not again when it ended.
      assert.equal(worker.fair.roundTrips, 3 * 2 + 1);
    } finally {
      for (const id of solving.running) solving.finish(id);
      for (const id of reporting.running) reporting.finish(id);
      await stop();
    }
  });

  it("parks a retry that finds its installation at its cap, and lets it through when the slot frees", async () => {
    prefix = freshPrefix();
    gate = new Gate();
    const retry = { attempts: 3, baseDelayMs: 3_000, maxDelayMs: 3_000 };
    queue = new BuildQueue({ connection: producer, prefix, supersedeListener: new RecordingListener(), retry, capOf: () => 1 });
    connection = createWorkerConnection(redisUrl());
    let failed: string | undefined;
    worker = await createBuildWorker({
      connection,
      prefix,
      concurrency: 2,
      retry,
      leaseTtlMs: 60_000,
      supersedeListener: new RecordingListener(),
      processor: async (job) => {
        if (failed === undefined) {
          failed = job.buildId;
          throw new TransientError("the registry hiccuped");
        }
        return gate.processor(job);
      },
    });
    try {
      const x = await queue.enqueueBuild(buildOf(1));
      const y = await queue.enqueueBuild(buildOf(1));
      // x fails once; its slot goes to y while x waits for its retry; back, x finds the cap taken and is parked.
      await gate.startedCount(1);
      assert.equal(failed, x.buildId);
      assert.deepEqual(gate.started, [y.buildId]);
      await eventually(async () => ((await queue.queue.getJob(x.buildId))?.attemptsMade === 1 && (await queue.queue.getJobState(x.buildId)) === "delayed" ? true : undefined), "x to be parked after its failed attempt");
      const share = await eventually(async () => {
        const s = (await queue.fairShareSnapshot()).installations.find((i) => i.installationId === 1);
        return s?.waiting[0].includes(x.buildId) ? s : undefined;
      }, "x on its installation's list");
      assert.deepEqual(share.running.map((r) => r.buildId), [y.buildId]);
      assert.deepEqual(gate.running, [y.buildId], "one build of the installation runs, its cap");

      gate.finish(y.buildId);
      await gate.startedCount(2);
      assert.deepEqual(gate.started, [y.buildId, x.buildId]);
      gate.finish(x.buildId);
      for (const id of [x.buildId, y.buildId]) await eventually(async () => ((await queue.queue.getJobState(id)) === "completed" ? true : undefined), `${id} to complete`);
    } finally {
      await stop();
    }
  });

  it("charges a job whose data names another installation to its own, and fails it without touching the other's share", async () => {
    await start(() => 1, 2);
    try {
      const other = await queue.enqueueBuild(buildOf(2));
      await gate.startedCount(1);
      assert.deepEqual(gate.running, [other.buildId], "installation 2 runs one build, its cap");

      // Paused, the worker takes nothing (not even the turn): the job waits in Redis while it is edited.
      await queue.queue.pause();
      const own = await queue.enqueueBuild(buildOf(1));
      const job = await queue.queue.getJob(own.buildId);
      assert.ok(job);
      await job.updateData({ ...own, repository: { ...own.repository, installationId: 2 } });
      await queue.queue.resume();

      const failed = await eventually(async () => {
        const j = await queue.queue.getJob(own.buildId);
        return j && (await j.isFailed()) ? j : undefined;
      }, "the tampered job to fail");
      assert.match(failed.failedReason, new RegExp(`build job ${own.buildId} belongs to installation 1, but its data names installation 2`));
      assert.equal(failed.attemptsMade, 1, "failed for good, no retry");
      assert.deepEqual(gate.started, [other.buildId], "the tampered build never ran");

      const snapshot = await queue.fairShareSnapshot();
      const share = (inst: number) => snapshot.installations.find((i) => i.installationId === inst);
      assert.deepEqual(share(2)?.running.map((r) => r.buildId), [other.buildId], "installation 2 holds only its own build's slot");
      assert.deepEqual(share(2)?.waiting, { 0: [], 1: [], 2: [] }, "nothing was put on installation 2's list");
      assert.deepEqual(share(1)?.running ?? [], [], "the slot reserved for it went back to installation 1");

      // Installation 1's slot is free: its next build runs while installation 2's still holds its own.
      const next = await queue.enqueueBuild(buildOf(1));
      await gate.startedCount(2);
      assert.deepEqual(gate.running.sort(), [other.buildId, next.buildId].sort());
    } finally {
      await stop();
    }
  });
});

describe("fair share with several worker processes, one of them SIGKILLed mid-build", () => {
  let producer: Redis;
  let prefix: string;
  let queue: BuildQueue;
  const children: ChildProcess[] = [];

  before(async () => {
    producer = await whenReady(createProducerConnection(redisUrl()));
    prefix = freshPrefix();
    queue = new BuildQueue({ connection: producer, prefix, supersedeListener: new RecordingListener(), retry: FAST, capOf: () => 2 });
  });
  after(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
    }
    await queue.close();
    await dropPrefix(producer, prefix);
    await producer.quit();
  });

  it("keeps each installation to its cap, reuses a dead worker's slot once its lease expires, and loses no build", async () => {
    const events = `${prefix}:test:events`;
    for (let i = 0; i < 3; i++) {
      const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
        env: { ...process.env, CHILD_REDIS_URL: redisUrl(), CHILD_PREFIX: prefix, CHILD_EVENTS: events, CHILD_BUILD_MS: "1500" },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let ready = false;
      child.stdout!.on("data", (chunk: Buffer) => (ready ||= chunk.toString().includes("ready")));
      children.push(child);
      await eventually(async () => (ready ? true : undefined), "a worker process to be ready", 60_000);
    }

    const builds: BuildJob[] = [];
    for (let i = 0; i < 12; i++) builds.push(await queue.enqueueBuild(buildOf(1)));
    for (let i = 0; i < 4; i++) builds.push(await queue.enqueueBuild(buildOf(2)));

    // A process running one of A's builds dies with it.
    const [killedBuild, pid] = await eventually(async () => {
      const log = await producer.lrange(events, 0, -1);
      const start = log.find((e) => e.startsWith("start|") && e.split("|")[2] === "1" && !log.includes(`end|${e.slice(6)}`));
      return start ? [start.split("|")[1]!, start.split("|")[3]!] : undefined;
    }, "one of A's builds to run");
    const victim = children.find((c) => String(c.pid) === pid)!;
    const exited = once(victim, "exit");
    victim.kill("SIGKILL");
    await exited;
    await producer.rpush(events, `killed|${pid}`);

    for (const b of builds) {
      await eventually(async () => {
        const state = await queue.queue.getJobState(b.buildId);
        assert.notEqual(state, "failed", `${b.buildId} failed`);
        return state === "completed" ? true : undefined;
      }, `${b.buildId} to complete`, 90_000);
    }

    // Replay: what ran at once, per installation (a killed process's builds end with it).
    const log = await producer.lrange(events, 0, -1);
    const running = new Map<string, Map<string, string>>(); // installation → build → pid
    const max = new Map<string, number>();
    let afterKillMaxA = 0;
    let killed = false;
    for (const line of log) {
      const [kind, id, inst, who] = line.split("|");
      if (kind === "killed") {
        killed = true;
        for (const m of running.values()) for (const [bid, p] of m) if (p === id) m.delete(bid);
        continue;
      }
      const m = running.get(inst!) ?? new Map<string, string>();
      running.set(inst!, m);
      if (kind === "start") m.set(id!, who!);
      else m.delete(id!);
      max.set(inst!, Math.max(max.get(inst!) ?? 0, m.size));
      if (killed && inst === "1") afterKillMaxA = Math.max(afterKillMaxA, m.size);
    }
    assert.equal(max.get("1"), 2, "A never ran more than its cap of 2");
    assert.equal(max.get("2"), 2, "B never ran more than its cap of 2");
    assert.equal(afterKillMaxA, 2, "after the kill A ran 2 at once again: the dead worker's slot came back");
    const killedRuns = log.filter((l) => l.startsWith(`start|${killedBuild}|`));
    assert.equal(log.indexOf(`end|${killedBuild}|1|${pid}`), -1, "the killed build did not end in the killed process");
    assert.equal(killedRuns.length, 2, `the killed build ran again:\n${log.join("\n")}`);
    assert.notEqual(killedRuns[1]!.split("|")[3], pid);
    assert.ok(log.includes(`end|${killedBuild}|1|${killedRuns[1]!.split("|")[3]}`));

    const counts = await queue.queue.getJobCounts("active", "waiting", "prioritized", "delayed");
    assert.deepEqual(counts, { active: 0, waiting: 0, prioritized: 0, delayed: 0 }, "nothing left running or queued");
    const snapshot = await eventually(async () => {
      const s = await queue.fairShareSnapshot();
      return s.installations.every((i) => i.running.length === 0 && Object.values(i.waiting).every((w) => w.length === 0)) ? s : undefined;
    }, "every slot to be free");
    assert.deepEqual(snapshot.byHolder, {});
  });
});
