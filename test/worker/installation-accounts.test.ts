import { test } from "node:test";
import assert from "node:assert/strict";
import { InstallationAccounts } from "../../src/worker/installation-accounts.js";

const MINUTE = 60_000;

function setUp(options: { maxEntries?: number } = {}) {
  const clock = { now: 0 };
  const accounts = new InstallationAccounts({ now: () => clock.now, ttlMs: 10 * MINUTE, ...options });
  const reads: number[] = [];
  const logins = new Map<number, string>([[1, "Acme"], [2, "beta"], [3, "gamma"]]);
  const readOf = (id: number) => async () => {
    reads.push(id);
    return logins.get(id) ?? "";
  };
  return { clock, accounts, reads, logins, readOf };
}

test("a login is kept for its time and only for the owner it names (compared without case)", async () => {
  const { clock, accounts, reads, readOf } = setUp();
  assert.equal(await accounts.loginFor(1, "acme", readOf(1)), "Acme");
  assert.equal(await accounts.loginFor(1, "ACME", readOf(1)), "Acme");
  clock.now += 10 * MINUTE - 1;
  assert.equal(await accounts.loginFor(1, "acme", readOf(1)), "Acme");
  assert.deepEqual(reads, [1], "one read while fresh");
  clock.now += 1;
  await accounts.loginFor(1, "acme", readOf(1));
  assert.deepEqual(reads, [1, 1], "read again once the time is over");
});

test("a job claiming another owner makes a fresh read, so a stale login never decides: a renamed account is seen at once", async () => {
  const { accounts, reads, logins, readOf } = setUp();
  await accounts.loginFor(1, "acme", readOf(1));
  logins.set(1, "acme-renamed");
  assert.equal(await accounts.loginFor(1, "acme-renamed", readOf(1)), "acme-renamed");
  assert.equal(await accounts.loginFor(1, "evil", readOf(1)), "acme-renamed", "a false claim gets GitHub's answer, for the caller to refuse");
  assert.deepEqual(reads, [1, 1, 1]);
  assert.equal(await accounts.loginFor(1, "acme-renamed", readOf(1)), "acme-renamed");
  assert.equal(reads.length, 3);
});

test("concurrent reads of one installation share one request; a failed read is not kept", async () => {
  const { accounts } = setUp();
  let calls = 0;
  const slow = async () => {
    calls++;
    await new Promise((r) => setImmediate(r));
    return "acme";
  };
  const all = await Promise.all(Array.from({ length: 5 }, () => accounts.loginFor(1, "acme", slow)));
  assert.deepEqual(all, ["acme", "acme", "acme", "acme", "acme"]);
  assert.equal(calls, 1);
  await assert.rejects(accounts.loginFor(2, "beta", async () => Promise.reject(new Error("GitHub is away"))));
  assert.equal(await accounts.loginFor(2, "beta", async () => "beta"), "beta");
});

test("bounded: the least recently used installation is forgotten first", async () => {
  const { accounts, reads, readOf } = setUp({ maxEntries: 2 });
  await accounts.loginFor(1, "acme", readOf(1));
  await accounts.loginFor(2, "beta", readOf(2));
  await accounts.loginFor(1, "acme", readOf(1));
  await accounts.loginFor(3, "gamma", readOf(3));
  await accounts.loginFor(1, "acme", readOf(1));
  assert.deepEqual(reads, [1, 2, 3], "1 and 3 kept");
  await accounts.loginFor(2, "beta", readOf(2));
  assert.deepEqual(reads, [1, 2, 3, 2], "2 was evicted");
});
