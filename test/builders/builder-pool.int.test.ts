import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BuildConfig, ConnectionError } from "../../src/buildkit/index.js";
import { BuilderPool, BuilderUnservableError, NoBuilderAvailableError, parseBuildersFile, runningPerBuilder } from "../../src/builders/index.js";
import type { BuilderCandidate, BuilderChoice, BuilderLease, BuildersConfig } from "../../src/builders/index.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { startBuildkitd } from "../support/stack/buildkitd.js";
import type { BuildkitdInstance } from "../support/stack/buildkitd.js";
import { NO_BUILDKITD_HINT } from "../support/stack/buildkitd-binary.js";
import { freePort } from "../support/stack/free-port.js";
import { testStack } from "../support/stack/env.js";
import { tcpPipe } from "../support/tcp-pipe.js";

const stack = testStack();
const skip = stack.buildkitdBinary ? false : NO_BUILDKITD_HINT;

/** A choice that takes the available, undrained builders in the order given and ignores the key: the first choice is known. */
const inOrder = (order: string[]) => (_key: string, _required: readonly string[], candidates: readonly BuilderCandidate[]): BuilderChoice => {
  const usable = order.map((n) => candidates.find((c) => c.name === n)).filter((c): c is BuilderCandidate => !!c && c.available && !c.draining);
  const free = usable.find((c) => c.maxConcurrent === undefined || c.running < c.maxConcurrent);
  return free ? { kind: "chosen", name: free.name } : usable.length > 0 ? { kind: "busy" } : { kind: "unservable", platforms: [] };
};

function poolFile(builders: Array<{ name: string; address: string; extra?: string }>): BuildersConfig {
  const text = ["health: { interval_seconds: 3600, failures_before_unavailable: 2 }", "builders:", ...builders.flatMap((b) => [`  - name: ${b.name}`, `    address: ${b.address}`, ...(b.extra ? [`    ${b.extra}`] : [])])].join("\n");
  return parseBuildersFile(text, "/test/builders.yml");
}

async function contextDir(dockerfile: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-pool-ctx-"));
  await writeFile(join(dir, "Dockerfile"), dockerfile);
  await writeFile(join(dir, "hello.txt"), `hello ${Date.now()}\n`);
  return dir;
}

describe("the builder pool on real builders (two buildkitd and the Engine)", { skip }, () => {
  let redisCtx: Awaited<ReturnType<typeof redisForTest>>;
  let second: BuildkitdInstance;
  let dirs: string[] = [];
  const logs: string[] = [];
  const log = { info: (_o: object, m?: string) => logs.push(`info ${m}`), warn: (_o: object, m?: string) => logs.push(`warn ${m}`) };

  before(async () => {
    redisCtx = await redisForTest("builders");
    const dir = await mkdtemp(join(tmpdir(), "bkb-pool-second-"));
    dirs.push(dir);
    second = await startBuildkitd({ dir, binary: stack.buildkitdBinary! });
  });
  after(async () => {
    for (const p of pools.splice(0)) await p.close();
    await second?.stop().catch(() => undefined);
    await redisCtx?.cleanup();
    for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => undefined);
    dirs = [];
  });

  const pools: BuilderPool[] = [];
  const pool = (config: BuildersConfig, choose?: ReturnType<typeof inOrder>): BuilderPool => {
    const made = new BuilderPool({ config, redis: redisCtx.redis, prefix: redisCtx.prefix, log, connectTimeoutMs: 3_000, busyPollMs: 50, ...(choose ? { choose } : {}) });
    pools.push(made);
    return made;
  };

  test("each builder's platforms come from ListWorkers, narrowed by the file; snapshot shows health, drain and running builds", { timeout: 120_000 }, async () => {
    const p = pool(
      poolFile([
        { name: "first", address: stack.buildkitdAddr! },
        { name: "second", address: second.address, extra: "platforms: [linux/amd64, linux/riscv64]" },
        { name: "engine", address: stack.buildkitAddr, extra: "max_concurrent_builds: 3" },
      ]),
    );
    await p.probe();
    const snap = await p.snapshot();
    assert.deepEqual(snap.map((b) => [b.name, b.available, b.draining, b.running]), [
      ["first", true, false, 0],
      ["second", true, false, 0],
      ["engine", true, false, 0],
    ]);
    const first = snap[0]!.platforms;
    assert.ok(first.includes("linux/amd64"), first.join());
    assert.ok(first.length > 1, `buildkitd reports the host's platform and its variants: ${first.join()}`);
    // riscv64 is not reported by the daemon (no emulation here), so narrowing leaves amd64 alone.
    assert.deepEqual(snap[1]!.platforms, ["linux/amd64"]);
    assert.equal(snap[2]!.maxConcurrent, 3);
    assert.ok(snap[2]!.platforms.includes("linux/amd64"));

    const lease = await p.acquire({ buildId: "b-snap", key: "1/2/app", platforms: ["linux/amd64"] });
    try {
      const during = await p.snapshot();
      assert.equal(during.find((b) => b.name === lease.name)!.running, 1);
      assert.equal(during.reduce((n, b) => n + b.running, 0), 1);
      // The same, read from Redis alone (a process without a pool, such as the web role's metrics).
      assert.deepEqual(await runningPerBuilder(redisCtx.redis, redisCtx.prefix), { [lease.name]: 1 });
    } finally {
      await lease.release();
    }
    assert.equal((await p.snapshot()).reduce((n, b) => n + b.running, 0), 0);
    assert.deepEqual(await runningPerBuilder(redisCtx.redis, redisCtx.prefix), {});
  });

  test("health: a builder that stops answering is marked unavailable after the failed probes, and back when it answers", { timeout: 120_000 }, async () => {
    const pipe = await tcpPipe(second.address);
    try {
      logs.length = 0;
      const p = pool(poolFile([{ name: "first", address: stack.buildkitdAddr! }, { name: "flaky", address: pipe.address }]));
      await p.probe();
      assert.equal((await p.snapshot())[1]!.available, true);
      await pipe.down();
      await p.probe();
      assert.equal((await p.snapshot())[1]!.available, true, "one failed probe is not enough (failures_before_unavailable: 2)");
      await p.probe();
      const down = (await p.snapshot())[1]!;
      assert.equal(down.available, false);
      assert.match(down.lastError ?? "", /127\.0\.0\.1/);
      // No build goes to it meanwhile.
      for (let i = 0; i < 5; i++) {
        const lease = await p.acquire({ buildId: `b-h-${i}`, key: `k${i}`, platforms: [] });
        assert.equal(lease.name, "first");
        await lease.release();
      }
      await pipe.up();
      await p.probe();
      assert.equal((await p.snapshot())[1]!.available, true);
      assert.deepEqual(
        logs.filter((l) => l.includes("flaky")),
        ["info builder flaky is available", "warn builder flaky is unavailable", "info builder flaky is available again"],
      );
    } finally {
      await pipe.close();
    }
  });

  test("a drained builder gets no new build, in every process sharing the Redis, and its running build finishes", { timeout: 120_000 }, async () => {
    const config = poolFile([
      { name: "first", address: stack.buildkitdAddr! },
      { name: "second", address: second.address },
      { name: "engine", address: stack.buildkitAddr },
    ]);
    const one = pool(config);
    const other = pool(config); // another worker process
    await Promise.all([one.probe(), other.probe()]);
    const keys = Array.from({ length: 30 }, (_, i) => `7/${i}/app`);
    const before = new Set<string>();
    for (const key of keys) {
      const lease = await one.acquire({ buildId: `b-d0-${key}`, key, platforms: [] });
      before.add(lease.name);
      await lease.release();
    }
    assert.ok(before.has("second"), `30 keys spread over the builders: ${[...before].join()}`);

    const running = await other.acquire({ buildId: "b-running", key: keys.find(() => true)!, platforms: [] });
    await one.drain("second");
    try {
      const snap = await other.snapshot();
      assert.equal(snap.find((b) => b.name === "second")!.draining, true);
      for (const p of [one, other]) {
        for (const key of keys) {
          const lease = await p.acquire({ buildId: `b-d1-${key}`, key, platforms: [] });
          assert.notEqual(lease.name, "second", key);
          await lease.release();
        }
      }
      // A build already on a drained builder goes on: its connection still works.
      const health = await running.client.health();
      assert.ok(health.workers.length > 0);
    } finally {
      await running.release();
      await one.undrain("second");
    }
    assert.equal((await other.snapshot()).find((b) => b.name === "second")!.draining, false);
    await assert.rejects(one.drain("nope"), /no builder is named "nope"/);
  });

  test("max_concurrent_builds holds across processes: a full builder makes the build wait, not fail", { timeout: 120_000 }, async () => {
    const config = poolFile([{ name: "only", address: stack.buildkitdAddr!, extra: "max_concurrent_builds: 1" }]);
    const one = pool(config);
    const other = pool(config);
    await Promise.all([one.probe(), other.probe()]);
    const held = await one.acquire({ buildId: "b-full-1", key: "a", platforms: [] });
    let second: BuilderLease | undefined;
    const waiting = other.acquire({ buildId: "b-full-2", key: "b", platforms: [] }).then((l) => (second = l));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(second, undefined, "the second build waits while the builder is full");
    assert.equal((await other.snapshot())[0]!.running, 1);
    await held.release();
    const lease = await waiting;
    assert.equal(lease.name, "only");
    await lease.release();

    const abort = new AbortController();
    const blocked = await one.acquire({ buildId: "b-full-3", key: "c", platforms: [] });
    const cancelled = other.acquire({ buildId: "b-full-4", key: "d", platforms: [] }, abort.signal);
    abort.abort(new Error("superseded"));
    await assert.rejects(cancelled, /superseded/);
    await blocked.release();
  });

  test("a build waiting for a full builder takes the slot a build of the same process gives back at once, not at its next look", { timeout: 120_000 }, async () => {
    const config = poolFile([{ name: "only", address: stack.buildkitdAddr!, extra: "max_concurrent_builds: 1" }]);
    // Its next look would be an hour away: only the release can wake it within the test's time.
    const same = new BuilderPool({ config, redis: redisCtx.redis, prefix: `${redisCtx.prefix}:wake`, log, connectTimeoutMs: 3_000, busyPollMs: 3_600_000 });
    pools.push(same);
    await same.probe();
    const held = await same.acquire({ buildId: "b-wake-1", key: "a", platforms: [] });
    let second: BuilderLease | undefined;
    const waiting = same.acquire({ buildId: "b-wake-2", key: "b", platforms: [] }).then((l) => (second = l));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(second, undefined, "the second build waits while the builder is full");
    await held.release();
    const lease = await waiting;
    assert.equal(lease.name, "only");

    // A waiting build whose build is cancelled still stops waiting at once.
    const abort = new AbortController();
    const cancelled = same.acquire({ buildId: "b-wake-3", key: "c", platforms: [] }, abort.signal);
    abort.abort(new Error("superseded"));
    await assert.rejects(cancelled, /superseded/);
    await lease.release();
    assert.equal((await same.snapshot())[0]!.running, 0);
  });

  test("the first choice refuses the connection: skipped (marked unavailable), and the build runs on the next", { timeout: 180_000 }, async () => {
    const pipe = await tcpPipe(second.address);
    const ctx = await contextDir("FROM scratch\nCOPY hello.txt /hello.txt\n");
    dirs.push(ctx);
    try {
      const p = pool(poolFile([{ name: "refusing", address: pipe.address }, { name: "engine", address: stack.buildkitAddr }]), inOrder(["refusing", "engine"]));
      await p.probe();
      assert.equal((await p.snapshot())[0]!.available, true);
      await pipe.down(); // after the probe: the pool still believes in it
      const lease = await p.acquire({ buildId: "b-refused", key: "x", platforms: [] });
      try {
        assert.equal(lease.name, "engine");
        assert.deepEqual(lease.skipped.map((s) => s.name), ["refusing"]);
        assert.equal((await p.snapshot())[0]!.available, false);
        const result = await lease.client.solve(BuildConfig.local(ctx).build());
        assert.ok(result.steps.completed >= 1);
      } finally {
        await lease.release();
      }
      // With every builder refusing, the build fails with a transient error (the queue retries it later).
      const alone = pool(poolFile([{ name: "refusing", address: pipe.address }]));
      await assert.rejects(alone.acquire({ buildId: "b-none", key: "x", platforms: [] }), (err: unknown) => err instanceof NoBuilderAvailableError && err.transient);
    } finally {
      await pipe.close();
    }
  });

  test("a platform no builder serves fails for good, naming it; one only a drained or unavailable builder serves is retried later", { timeout: 120_000 }, async () => {
    const p = pool(poolFile([{ name: "amd", address: stack.buildkitdAddr!, extra: "platforms: [linux/amd64]" }, { name: "gone", address: `tcp://127.0.0.1:${await freePort()}`, extra: "platforms: [linux/arm64]" }]));
    await p.probe();
    await assert.rejects(
      p.acquire({ buildId: "b-s390x", key: "k", platforms: ["linux/s390x"] }),
      (err: unknown) => err instanceof BuilderUnservableError && !err.transient && err.message.includes("no builder serves linux/s390x"),
    );
    // "gone" never answered, so what it serves is unknown: worth another attempt.
    await assert.rejects(p.acquire({ buildId: "b-arm", key: "k", platforms: ["linux/arm64"] }), (err: unknown) => err instanceof NoBuilderAvailableError && err.transient);
    await p.drain("amd");
    try {
      await assert.rejects(p.acquire({ buildId: "b-amd", key: "k", platforms: ["linux/amd64"] }), (err: unknown) => err instanceof NoBuilderAvailableError && /no builder for linux\/amd64 can take the build now: amd is draining$/.test(err.message));
    } finally {
      await p.undrain("amd");
    }
    const lease = await p.acquire({ buildId: "b-amd2", key: "k", platforms: ["linux/amd64"] });
    assert.equal(lease.name, "amd");
    await lease.release();
  });

  test("a builder SIGKILLed mid-build: the solve fails as a lost connection, and the retry goes to another builder, naming both", { timeout: 240_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "bkb-pool-victim-"));
    dirs.push(dir);
    const victim = await startBuildkitd({ dir, binary: stack.buildkitdBinary! });
    const ctx = await contextDir(`FROM ${stack.baseImage}\nRUN echo started && sleep 60\n`);
    dirs.push(ctx);
    try {
      const p = pool(poolFile([{ name: "victim", address: victim.address }, { name: "first", address: stack.buildkitdAddr! }]), inOrder(["victim", "first"]));
      await p.probe();
      const request = { buildId: "b-killed", key: "9/9/app", platforms: [] };
      const lease = await p.acquire(request);
      assert.equal(lease.name, "victim");
      let failure: unknown;
      try {
        let killed = false;
        await lease.client
          .solve(BuildConfig.local(ctx).build(), {
            onProgress: (event) => {
              if (!killed && JSON.stringify(event).includes("started")) {
                killed = true;
                process.kill(victim.pid, "SIGKILL");
              }
            },
          })
          .catch((err: unknown) => (failure = err));
      } finally {
        await lease.release();
      }
      assert.ok(failure instanceof ConnectionError, String(failure));
      const next = await p.lost(request, lease.name, failure.message);
      assert.equal(next, "first");
      assert.equal((await p.snapshot())[0]!.available, false);
      const retry = await p.acquire(request);
      try {
        assert.equal(retry.name, "first");
        assert.equal(retry.lostBefore, "victim");
      } finally {
        await retry.release();
      }
      // Remembered once: a later attempt is not told again.
      const third = await p.acquire(request);
      assert.equal(third.lostBefore, undefined);
      await third.release();
    } finally {
      await victim.stop().catch(() => undefined);
    }
  });

  for (const daemon of ["buildkitd", "engine"] as const) {
    test(`several builds at once on ${daemon} share the builder's one kept connection, which the probe uses too`, { timeout: 240_000 }, async () => {
      const address = daemon === "engine" ? stack.buildkitAddr : stack.buildkitdAddr!;
      const p = pool(poolFile([{ name: daemon, address }]));
      await p.probe();
      const contexts = await Promise.all([1, 2, 3, 4].map(() => contextDir("FROM scratch\nCOPY hello.txt /hello.txt\n")));
      dirs.push(...contexts);
      const leases = await Promise.all(contexts.map((_, i) => p.acquire({ buildId: `b-shared-${daemon}-${i}`, key: `k${i}`, platforms: [] })));
      try {
        for (const lease of leases) assert.equal(lease.client, leases[0]!.client, "every lease gets the same client");
        // Each solve has its own Control.Session stream on the one HTTP/2 connection.
        const results = await Promise.all(leases.map((lease, i) => lease.client.solve(BuildConfig.local(contexts[i]!).build())));
        for (const result of results) assert.ok(result.steps.completed >= 1);
      } finally {
        await Promise.all(leases.map((lease) => lease.release()));
      }
      await p.probe();
      const again = await p.acquire({ buildId: `b-shared-${daemon}-next`, key: "k", platforms: [] });
      try {
        assert.equal(again.client, leases[0]!.client, "the next build and the probe reuse it");
        assert.equal(again.client.connected, true);
      } finally {
        await again.release();
      }
    });
  }

  test("a builder restarted at the same address: the next build connects again and succeeds; close closes the kept connections", { timeout: 180_000 }, async () => {
    const pipe = await tcpPipe(second.address);
    const ctx = await contextDir("FROM scratch\nCOPY hello.txt /hello.txt\n");
    dirs.push(ctx);
    try {
      const p = new BuilderPool({ config: poolFile([{ name: "restarted", address: pipe.address }]), redis: redisCtx.redis, prefix: redisCtx.prefix, log, connectTimeoutMs: 3_000 });
      const first = await p.acquire({ buildId: "b-before-restart", key: "x", platforms: [] });
      const before = first.client;
      try {
        assert.ok((await first.client.solve(BuildConfig.local(ctx).build())).steps.completed >= 1);
      } finally {
        await first.release();
      }
      await pipe.down(); // every connection cut, nothing listening
      await pipe.up(); // back on the same port
      const next = await p.acquire({ buildId: "b-after-restart", key: "x", platforms: [] });
      try {
        assert.notEqual(next.client, before, "a new connection, not the broken one");
        assert.equal(before.connected, false);
        assert.deepEqual(next.skipped, []);
        assert.ok((await next.client.solve(BuildConfig.local(ctx).build())).steps.completed >= 1);
      } finally {
        await next.release();
      }
      const held = await p.acquire({ buildId: "b-at-close", key: "x", platforms: [] });
      await p.close();
      assert.equal(held.client.connected, false, "close closes a connection even while a build holds it");
      await assert.rejects(held.client.solve(BuildConfig.local(ctx).build()), ConnectionError);
      await held.release();
      await assert.rejects(p.acquire({ buildId: "b-after-close", key: "x", platforms: [] }), /closed/);
    } finally {
      await pipe.close();
    }
  });
});
