import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { GitCloneRefusedError } from "../../src/buildkit/errors.js";
import { isTransientError } from "../../src/errors/index.js";
import { afterGitRefusal, GitTokenRefusedError } from "../../src/worker/installation-token.js";
import { InstallationTokenCache, tokenKey } from "../../src/worker/token-cache.js";
import type { MintedToken, TokenScope } from "../../src/worker/token-cache.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const READ: TokenScope = { installationId: 7, repositoryId: 70, permissions: { contents: "read" } };

/** A fake clock and a minting function that counts its calls and hands out ghs_1, ghs_2, … valid for one hour. */
function setUp(options: { maxEntries?: number } = {}) {
  const clock = { now: 1_000_000 };
  const cache = new InstallationTokenCache({ now: () => clock.now, ...options });
  let minted = 0;
  const mint = async (): Promise<MintedToken> => ({ token: `ghs_${++minted}`, expiresAt: clock.now + HOUR });
  return { clock, cache, mint, minted: () => minted };
}

test("a token is kept until 5 minutes before GitHub's expires_at, then minted again", async () => {
  const { clock, cache, mint, minted } = setUp();
  const first = await cache.get(READ, mint);
  assert.equal(first.token, "ghs_1");
  assert.equal(first.fresh, true);

  clock.now += HOUR - 5 * MINUTE - 1;
  const warm = await cache.get(READ, mint);
  assert.equal(warm.token, "ghs_1", "still usable 5 minutes and 1 ms before it expires");
  assert.equal(warm.fresh, false);
  assert.equal(minted(), 1);

  clock.now += 1;
  const renewed = await cache.get(READ, mint);
  assert.equal(renewed.token, "ghs_2", "5 minutes before it expires a token is no longer handed out");
  assert.equal(renewed.fresh, true);
  assert.equal(minted(), 2);
});

test("a token without an expiry, or one already within the margin, is used once and never kept", async () => {
  const { clock, cache } = setUp();
  let minted = 0;
  await cache.get(READ, async () => ({ token: `ghs_${++minted}`, expiresAt: undefined }));
  await cache.get(READ, async () => ({ token: `ghs_${++minted}`, expiresAt: clock.now + 5 * MINUTE }));
  assert.equal((await cache.get(READ, async () => ({ token: `ghs_${++minted}`, expiresAt: clock.now + HOUR }))).token, "ghs_3");
  assert.equal(minted, 3);
});

test("installation, repository and permission set each make their own key; the permissions' order does not", async () => {
  const { cache, mint, minted } = setUp();
  const tokens = new Set<string>();
  for (const scope of [
    READ,
    { ...READ, repositoryId: 71 },
    { ...READ, installationId: 8 },
    { ...READ, permissions: { contents: "read", metadata: "read" } as const },
    { ...READ, permissions: { contents: "write" } as const },
  ]) {
    tokens.add((await cache.get(scope, mint)).token);
  }
  assert.equal(tokens.size, 5);
  assert.equal(minted(), 5);
  const reordered = await cache.get({ ...READ, permissions: { metadata: "read", contents: "read" } }, mint);
  assert.equal(reordered.fresh, false);
  assert.equal(minted(), 5);
  assert.equal(tokenKey({ installationId: 1, repositoryId: 2, permissions: { metadata: "read", contents: "read" } }), "1/2/contents=read,metadata=read");
});

test("concurrent requests for one scope share one mint; a failed mint fails them all and is not kept", async () => {
  const { clock, cache } = setUp();
  let calls = 0;
  let release!: (m: MintedToken) => void;
  const slowMint = () => {
    calls++;
    return new Promise<MintedToken>((resolve) => (release = resolve));
  };
  const waiting = Array.from({ length: 10 }, () => cache.get(READ, slowMint));
  await Promise.resolve();
  release({ token: "ghs_shared", expiresAt: clock.now + HOUR });
  const leases = await Promise.all(waiting);
  assert.equal(calls, 1, "ten concurrent builds, one round trip to GitHub");
  assert.deepEqual(new Set(leases.map((l) => l.token)), new Set(["ghs_shared"]));

  const other = { ...READ, repositoryId: 99 };
  let failing = 0;
  const failingMint = async (): Promise<MintedToken> => {
    failing++;
    await new Promise((r) => setImmediate(r));
    throw new Error("GitHub is away");
  };
  const results = await Promise.allSettled([cache.get(other, failingMint), cache.get(other, failingMint)]);
  assert.equal(failing, 1);
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
  assert.equal((await cache.get(other, async () => ({ token: "ghs_after", expiresAt: clock.now + HOUR }))).token, "ghs_after", "the failure was not kept");
});

test("bounded: a full cache evicts expired tokens first, then the least recently used", async () => {
  const { cache, mint, minted } = setUp({ maxEntries: 2 });
  const a = { ...READ, repositoryId: 1 };
  const b = { ...READ, repositoryId: 2 };
  const c = { ...READ, repositoryId: 3 };
  await cache.get(a, mint);
  await cache.get(b, mint);
  await cache.get(a, mint); // a is now the most recently used
  await cache.get(c, mint);
  assert.equal(cache.size, 2);
  assert.equal((await cache.get(a, mint)).fresh, false, "a was used last: kept");
  assert.equal((await cache.get(c, mint)).fresh, false);
  assert.equal(minted(), 3);
  assert.equal((await cache.get(b, mint)).fresh, true, "b was the least recently used: evicted");
  assert.equal(cache.size, 2);

  // A token past its use goes first, even when it was used more recently than a usable one.
  const expiring = setUp({ maxEntries: 2 });
  await expiring.cache.get(a, async () => ({ token: "ghs_short", expiresAt: expiring.clock.now + 10 * MINUTE }));
  await expiring.cache.get(b, expiring.mint);
  await expiring.cache.get(a, expiring.mint); // a used last, but soon expired
  expiring.clock.now += 6 * MINUTE;
  await expiring.cache.get(c, expiring.mint);
  assert.equal(expiring.cache.size, 2);
  assert.equal((await expiring.cache.get(b, expiring.mint)).fresh, false, "the expired token went, not the least recently used usable one");
});

test("refused drops the refused token only; drop forgets a scope's token", async () => {
  const { cache, mint, minted } = setUp();
  const old = await cache.get(READ, mint);
  cache.refused(old);
  const fresh = await cache.get(READ, mint);
  assert.equal(fresh.token, "ghs_2");
  cache.refused(old); // a late refusal of the old token keeps the new one
  assert.equal((await cache.get(READ, mint)).token, "ghs_2");
  cache.drop(READ);
  assert.equal((await cache.get(READ, mint)).token, "ghs_3");
  assert.equal(minted(), 3);
});

test("a lease never shows its token when logged or serialised", async () => {
  const { cache } = setUp();
  const secret = "ghs_sekrit_do_not_print";
  const lease = await cache.get(READ, async () => ({ token: secret, expiresAt: Date.now() + HOUR }));
  assert.equal(lease.token, secret);
  assert.ok(!JSON.stringify({ lease }).includes(secret));
  assert.ok(!inspect(lease, { depth: 5, showHidden: true }).includes(secret));
  assert.ok(!inspect(cache, { depth: 5, showHidden: true }).includes(secret));
  assert.ok(!String(lease).includes(secret));
});

test("the git server refusing a kept token drops it and makes the attempt a retry; a fresh token's refusal is final", async () => {
  const { cache, mint } = setUp();
  const refused = new GitCloneRefusedError("http://git.test/o/r.git", "could not clone http://git.test/o/r.git: the daemon was refused access", { failure: "refused" });
  await cache.get(READ, mint);
  const kept = await cache.get(READ, mint);
  const retried = afterGitRefusal(refused, cache, kept);
  assert.ok(retried instanceof GitTokenRefusedError);
  assert.equal(isTransientError(retried), true);
  assert.equal(retried.cause, refused);
  assert.equal(cache.size, 0, "dropped the moment git refused it");

  const fresh = await cache.get(READ, mint);
  assert.equal(afterGitRefusal(refused, cache, fresh), refused, "a token minted for this attempt and refused: the repository itself is out of reach");
  assert.equal(isTransientError(refused), false);
  assert.equal(cache.size, 0);

  const again = await cache.get(READ, mint);
  const unreachable = new GitCloneRefusedError("r", "could not clone r: the git host is unreachable from the daemon", { failure: "unreachable" });
  const missing = new GitCloneRefusedError("r", "could not clone r: the requested ref does not exist in the repository", { failure: "missing-ref" });
  assert.equal(afterGitRefusal(unreachable, cache, again), unreachable);
  assert.equal(afterGitRefusal(missing, cache, again), missing);
  const other = new Error("other");
  assert.equal(afterGitRefusal(other, cache, again), other);
  assert.equal(cache.size, 1, "failures that say nothing of the token keep it");
  assert.equal(afterGitRefusal(refused, cache, undefined), refused, "a fork's build has no token to drop");
});
