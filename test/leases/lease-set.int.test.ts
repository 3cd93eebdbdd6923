import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { LEASE_LUA, LeaseSet } from "../../src/leases/index.js";
import { redisForTest } from "../github/redis-test-keys.js";
import { eventually } from "../queue/queue-test-kit.js";
import { testStack } from "../support/stack/env.js";

const HOLDER = fileURLToPath(new URL("./fixtures/lease-holder.ts", import.meta.url));
const TTL = 600;

describe("lease sets on real Redis", () => {
  let ctx: Awaited<ReturnType<typeof redisForTest>>;
  let n = 0;
  const fresh = (ttlMs = 60_000): LeaseSet => new LeaseSet(ctx.redis, `${ctx.prefix}:set-${++n}`, ttlMs);

  before(async () => {
    ctx = await redisForTest("leases");
  });
  after(async () => {
    await ctx.cleanup();
  });

  it("acquire: up to max holders; a holder acquiring again renews its own lease; release frees the slot", async () => {
    const set = fresh();
    assert.equal(await set.acquire("a", 2), true);
    assert.equal(await set.acquire("b", 2), true);
    assert.equal(await set.acquire("c", 2), false, "the set is full");
    assert.equal(await set.acquire("a", 2), true, "a holder already in is renewed, not refused");
    assert.equal(await set.count(), 2);
    assert.deepEqual((await set.holders()).map((h) => h.id).sort(), ["a", "b"]);
    await set.release("a");
    assert.equal(await set.count(), 1);
    assert.equal(await set.acquire("c", 2), true, "a released slot is free");
    assert.equal(await fresh().acquire("x", 0), true, "max 0: no limit");
  });

  it("renew: extends a held lease, and says so when the lease is no longer held", async () => {
    const set = fresh(TTL);
    assert.equal(await set.acquire("a"), true);
    const [first] = await set.holders();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await set.renew("a"), true);
    const [renewed] = await set.holders();
    assert.ok(renewed!.expiresAt > first!.expiresAt, "the expiry moved on");
    await set.release("a");
    assert.equal(await set.renew("a"), false, "released: nothing to renew");
    assert.equal(await set.count(), 0, "a failed renewal takes no slot");
  });

  it("expiry: a lease nobody renews stops counting after its TTL, and acquire reclaims it for another holder", async () => {
    const set = fresh(TTL);
    assert.equal(await set.acquire("gone", 1), true);
    assert.equal(await set.acquire("next", 1), false);
    await eventually(async () => ((await set.count()) === 0 ? true : undefined), "the unrenewed lease to expire");
    assert.equal(await set.renew("gone"), false, "an expired lease is not renewed");
    assert.equal(await set.acquire("next", 1), true, "its slot is taken by the next holder");
    assert.deepEqual(await ctx.redis.zrange(set.key, 0, -1), ["next"], "the expired lease was removed");
  });

  it("hold: renewed while held (a lease taken from under it is taken again), released once", async () => {
    const set = fresh(TTL);
    const release = await set.hold("h", 1);
    assert.ok(release);
    assert.equal(await set.hold("other", 1), undefined, "full while held");
    await new Promise((r) => setTimeout(r, TTL * 2));
    assert.deepEqual((await set.holders()).map((h) => h.id), ["h"], "still held two TTLs later: it was renewed");
    await set.release("h"); // as if the lease had been reclaimed while this process stalled
    await eventually(async () => ((await set.count()) === 1 ? true : undefined), "the holder to take its lease again");
    await release();
    await release();
    assert.equal(await set.count(), 0);
    assert.ok(await set.hold("other", 1), "free after the release");
  });

  it("a holder process SIGKILLed: its lease is reclaimed after the TTL, and the slot goes to another holder", async () => {
    const set = fresh(TTL);
    const child = spawn(process.execPath, ["--import", "tsx", HOLDER], {
      env: { ...process.env, LEASE_REDIS_URL: testStack().redisUrl, LEASE_KEY: set.key, LEASE_ID: "child", LEASE_TTL_MS: String(TTL), LEASE_MAX: "1" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    try {
      await eventually(async () => (out.includes("held") ? true : undefined), "the child to hold its lease", 60_000);
      await new Promise((r) => setTimeout(r, TTL * 2));
      assert.equal(await set.acquire("parent", 1), false, "the live child keeps renewing its lease");
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
      await eventually(async () => ((await set.acquire("parent", 1)) ? true : undefined), "the dead child's lease to be reclaimed");
      assert.deepEqual((await set.holders()).map((h) => h.id), ["parent"]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  it("LEASE_LUA: the same operations inside a script of one's own", async () => {
    const key = `${ctx.prefix}:lua`;
    const script = `${LEASE_LUA}
local now = tonumber(ARGV[1])
local took = lease_take(KEYS[1], 'a', now, now + 1000, 1)
local refused = lease_take(KEYS[1], 'b', now, now + 1000, 1)
return {took, refused, lease_live(KEYS[1], now), lease_held(KEYS[1], 'a', now) and 1 or 0, lease_renew(KEYS[1], 'b', now, now + 1000)}`;
    assert.deepEqual(await ctx.redis.eval(script, 1, key, Date.now()), [1, 0, 1, 1, 0]);
  });
});
