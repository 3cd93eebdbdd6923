import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { chooseBuilder, servesPlatform } from "../../src/builders/choose-builder.js";
import type { BuilderCandidate } from "../../src/builders/choose-builder.js";

const AMD = "linux/amd64";
const ARM = "linux/arm64";

function builder(name: string, over: Partial<BuilderCandidate> = {}): BuilderCandidate {
  return { name, platforms: [AMD], available: true, draining: false, running: 0, maxConcurrent: undefined, ...over };
}

function pool(n: number, over: Partial<BuilderCandidate> = {}): BuilderCandidate[] {
  return Array.from({ length: n }, (_, i) => builder(`builder-${i}`, over));
}

function chosen(choice: ReturnType<typeof chooseBuilder>): string {
  assert.equal(choice.kind, "chosen", JSON.stringify(choice));
  return (choice as { name: string }).name;
}

const keys = (count: number, salt = "") => Array.from({ length: count }, (_, i) => `${1000 + (i % 977)}/repo-${i}${salt}/image`);
/** Fisher–Yates with a small seeded generator (mulberry32). */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const LOAD_FACTORS = [1, 1.1, 1.25, 1.5, 2] as const;

test("the same key goes to the same builder, whatever the order of the candidates and the load of the others", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.string({ maxLength: 60 }),
      fc.array(fc.nat({ max: 50 }), { minLength: 40, maxLength: 40 }),
      fc.integer(),
      (n, key, loads, seed) => {
        const builders = pool(n);
        const first = chosen(chooseBuilder(key, [AMD], builders));
        assert.equal(chosen(chooseBuilder(key, [AMD], builders)), first);
        const shuffled = shuffle(builders, seed);
        assert.equal(chosen(chooseBuilder(key, [AMD], shuffled)), first);
        // Others get busy, the key's builder stays idle: it is always under the bound, so it keeps the key.
        const loaded = builders.map((b, i) => (b.name === first ? b : { ...b, running: loads[i] as number }));
        assert.equal(chosen(chooseBuilder(key, [AMD], loaded)), first);
      },
    ),
    { numRuns: 500 },
  );
});

test("a builder under ceil(c × average) keeps its key; at the bound the key goes to the next builder on the ring", () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 30 }), fc.constantFrom(...LOAD_FACTORS), fc.string({ maxLength: 30 }), fc.nat({ max: 20 }), (n, c, key, others) => {
      const builders = pool(n, { running: others });
      const home = chosen(chooseBuilder(key, [AMD], builders));
      for (let running = others; running < others + 40; running++) {
        const now = builders.map((b) => (b.name === home ? { ...b, running } : b));
        const total = others * (n - 1) + running + 1;
        const bound = Math.ceil((c * total) / n - 1e-9);
        const got = chosen(chooseBuilder(key, [AMD], now, { loadFactor: c }));
        if (running < bound) assert.equal(got, home, `running ${running} < bound ${bound}`);
        else assert.notEqual(got, home, `running ${running} ≥ bound ${bound}`);
      }
    }),
    { numRuns: 300 },
  );
});

test("bounded load: choosing many keys one after another, no builder ever runs more than ceil(c × average)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }),
      fc.constantFrom(...LOAD_FACTORS),
      // Few distinct keys repeated often: the case where plain consistent hashing piles up on one builder.
      fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 400 }),
      (n, c, picks) => {
        const builders = pool(n);
        let total = 0;
        for (const pick of picks) {
          const name = chosen(chooseBuilder(`inst/repo-${pick}/image`, [AMD], builders, { loadFactor: c }));
          const b = builders.find((x) => x.name === name) as BuilderCandidate;
          b.running++;
          total++;
          const max = Math.max(...builders.map((x) => x.running));
          assert.ok(max <= Math.ceil((c * total) / n - 1e-9), `max ${max} over ceil(${c} × ${total} / ${n})`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("lightly loaded (running ≤ half the pool's max_concurrent_builds, this build counted), a key stays on its builder up to that builder's own limit; above it the bound applies again", () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 16 }), fc.constantFrom(...LOAD_FACTORS), fc.string({ maxLength: 30 }), fc.nat({ max: 6 }), (n, max, c, key, others) => {
      const builders = pool(n, { maxConcurrent: max, running: Math.min(others, max) });
      const idle = pool(n, { maxConcurrent: max });
      const home = chosen(chooseBuilder(key, [AMD], idle, { loadFactor: c }));
      for (let running = 0; running <= max; running++) {
        const now = builders.map((b) => (b.name === home ? { ...b, running } : b));
        const total = Math.min(others, max) * (n - 1) + running + 1;
        const choice = chooseBuilder(key, [AMD], now, { loadFactor: c });
        if (choice.kind === "busy") {
          assert.ok(now.every((b) => b.running >= max));
          continue;
        }
        const got = chosen(choice);
        const bound = total <= 0.5 * n * max ? Infinity : Math.ceil((c * total) / n - 1e-9);
        if (running < max && running < bound) assert.equal(got, home, `running ${running} of ${max}, ${total} of ${n * max} in the pool`);
        else assert.notEqual(got, home, `running ${running} of ${max}, bound ${bound}`);
      }
    }),
    { numRuns: 500 },
  );
  // Four builders of 4, the key's builder running 3 and another 4: with this build 8 of 16, half the pool, so the key
  // stays past ceil(1.25 × 8 / 4) = 3. One more build elsewhere (9 of 16) and 3 is at the bound ceil(1.25 × 9 / 4) = 3.
  for (const k of keys(50)) {
    const idle = pool(4, { maxConcurrent: 4 });
    const home = chosen(chooseBuilder(k, [AMD], idle));
    const [full, other] = idle.filter((b) => b.name !== home).map((b) => b.name);
    const half = idle.map((b) => ({ ...b, running: b.name === home ? 3 : b.name === full ? 4 : 0 }));
    assert.equal(chosen(chooseBuilder(k, [AMD], half)), home);
    const past = half.map((b) => (b.name === other ? { ...b, running: 1 } : b));
    assert.notEqual(chosen(chooseBuilder(k, [AMD], past)), home);
  }
});

test("light load is off when a builder has no max_concurrent_builds (its room is unknown) or lightLoad is 0; lightLoad 1 is consistent hashing up to each builder's limit", () => {
  for (const k of keys(100)) {
    const idle = pool(4, { maxConcurrent: 8 });
    const home = chosen(chooseBuilder(k, [AMD], idle));
    // 3 running + this one: the bound is ceil(1.25 × 4 / 4) = 2, so the key moves unless the light-load rule applies.
    const busy = idle.map((b) => (b.name === home ? { ...b, running: 3 } : b));
    assert.equal(chosen(chooseBuilder(k, [AMD], busy)), home);
    assert.notEqual(chosen(chooseBuilder(k, [AMD], busy, { lightLoad: 0 })), home);
    const unknown = busy.map((b) => (b.name === home ? b : { ...b, maxConcurrent: undefined }));
    assert.notEqual(chosen(chooseBuilder(k, [AMD], unknown)), home);
    const crowded = idle.map((b) => (b.name === home ? { ...b, running: 7 } : { ...b, running: 7 }));
    assert.equal(chosen(chooseBuilder(k, [AMD], crowded, { lightLoad: 1 })), home);
    assert.notEqual(chosen(chooseBuilder(k, [AMD], crowded.map((b) => (b.name === home ? { ...b, running: 8 } : b)), { lightLoad: 1 })), home);
  }
});

function assignment(builders: readonly BuilderCandidate[], all: readonly string[]): Map<string, string> {
  return new Map(all.map((k) => [k, chosen(chooseBuilder(k, [AMD], builders))]));
}

test("removing one of N builders moves only its keys, about 1/N of 10,000; adding one moves only keys to it", () => {
  const all = keys(10_000);
  fc.assert(
    fc.property(fc.integer({ min: 4, max: 50 }), fc.nat(), (n, which) => {
      const builders = pool(n);
      const before = assignment(builders, all);
      const gone = builders[which % n] as BuilderCandidate;
      const after = assignment(
        builders.filter((b) => b !== gone),
        all,
      );
      let moved = 0;
      for (const k of all) {
        if (before.get(k) === after.get(k)) continue;
        moved++;
        assert.equal(before.get(k), gone.name, `${k} moved from ${before.get(k)}, which stayed`);
      }
      const tolerance = 0.35 / n + 0.005;
      assert.ok(moved / all.length <= 1 / n + tolerance, `removing 1 of ${n} moved ${moved} of ${all.length} keys`);
      assert.ok(moved > 0);

      const added = [...builders, builder("builder-new")];
      const grown = assignment(added, all);
      let joined = 0;
      for (const k of all) {
        if (before.get(k) === grown.get(k)) continue;
        joined++;
        assert.equal(grown.get(k), "builder-new", `${k} moved between two old builders`);
      }
      assert.ok(joined / all.length <= 1 / (n + 1) + tolerance, `adding a builder to ${n} moved ${joined} of ${all.length} keys`);
    }),
    { numRuns: 15 },
  );
});

test("the same keys go to the same builders in every process and Node version (a changed hash would move every key on a rolling upgrade)", () => {
  const builders = pool(5);
  const got = ["1/acme/api/app", "1/acme/web/app", "2/other/x/y", "42/big/monorepo/worker", "", "ünïcode/κλειδί"].map((k) => chosen(chooseBuilder(k, [AMD], builders)));
  assert.deepEqual(got, PINNED);
});
const PINNED = ["builder-1", "builder-0", "builder-0", "builder-4", "builder-4", "builder-2"];

test("platforms: a build goes only to a builder that serves every platform it needs", () => {
  const platformSets = [[AMD], [ARM], [AMD, ARM], ["linux/arm64/v8"], [AMD, "linux/amd64/v2", "linux/386"], ["linux/arm/v7", ARM]];
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...platformSets), { minLength: 1, maxLength: 12 }),
      fc.subarray([AMD, ARM, "linux/arm64/v8", "linux/386", "linux/arm/v7"], { minLength: 0, maxLength: 2 }),
      fc.string({ maxLength: 20 }),
      (sets, required, key) => {
        const builders = sets.map((platforms, i) => builder(`b${i}`, { platforms }));
        const choice = chooseBuilder(key, required, builders);
        const serving = builders.filter((b) => required.every((p) => servesPlatform(b.platforms, p)));
        if (serving.length > 0) {
          const b = builders.find((x) => x.name === chosen(choice)) as BuilderCandidate;
          for (const p of required) assert.ok(servesPlatform(b.platforms, p), `${b.name} (${b.platforms.join(",")}) chosen for ${p}`);
        } else {
          assert.equal(choice.kind, "unservable");
        }
      },
    ),
    { numRuns: 1_000 },
  );
});

test("platform names: arm64 and arm64/v8 are one platform; os/arch is served by any of its variants, a variant only by itself", () => {
  assert.ok(servesPlatform(["linux/arm64/v8"], ARM));
  assert.ok(servesPlatform([ARM], "linux/arm64/v8"));
  assert.ok(servesPlatform(["linux/amd64/v3"], AMD));
  assert.ok(!servesPlatform([AMD], "linux/amd64/v3"));
  assert.ok(!servesPlatform(["linux/arm/v6"], "linux/arm/v7"));
  assert.ok(!servesPlatform(["linux/arm64"], "linux/arm"));
  const builders = [builder("x86", { platforms: [AMD, "linux/386"] }), builder("arm", { platforms: ["linux/arm64/v8", "linux/arm/v7"] })];
  assert.equal(chosen(chooseBuilder("k", [ARM], builders)), "arm");
  assert.equal(chosen(chooseBuilder("k", ["linux/386"], builders)), "x86");
});

test("unavailable and draining builders get no build; the key comes back when its builder does", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ available: fc.boolean(), draining: fc.boolean(), running: fc.nat({ max: 5 }) }), { minLength: 1, maxLength: 20 }),
      fc.string({ maxLength: 20 }),
      (states, key) => {
        const builders = states.map((s, i) => builder(`b${i}`, s));
        const choice = chooseBuilder(key, [AMD], builders);
        if (builders.some((b) => b.available && !b.draining)) {
          const b = builders.find((x) => x.name === chosen(choice)) as BuilderCandidate;
          assert.ok(b.available && !b.draining);
        } else {
          assert.deepEqual(choice, { kind: "unservable", platforms: [AMD] });
        }
      },
    ),
    { numRuns: 1_000 },
  );
  const builders = pool(8);
  for (const k of keys(200)) {
    const home = chosen(chooseBuilder(k, [AMD], builders));
    for (const state of [{ draining: true }, { available: false }]) {
      const without = builders.map((b) => (b.name === home ? { ...b, ...state } : b));
      assert.notEqual(chosen(chooseBuilder(k, [AMD], without)), home);
      assert.equal(chosen(chooseBuilder(k, [AMD], builders)), home);
    }
  }
});

test("busy when every builder that could take it is full; a full builder's key spills to the next; a bigger builder takes work past the bound", () => {
  const full = [builder("a", { running: 2, maxConcurrent: 2 }), builder("b", { running: 3, maxConcurrent: 3 }), builder("c", { running: 0, draining: true })];
  assert.deepEqual(chooseBuilder("k", [AMD], full), { kind: "busy" });
  assert.deepEqual(chooseBuilder("k", [], full), { kind: "busy" });
  // An arm64 builder with room does not make room for an amd64 build.
  assert.deepEqual(chooseBuilder("k", [AMD], [...full, builder("arm", { platforms: [ARM] })]), { kind: "busy" });

  for (const k of keys(100)) {
    const two = [builder("a", { maxConcurrent: 2 }), builder("b", { maxConcurrent: 2 })];
    const home = chosen(chooseBuilder(k, [AMD], two));
    const homeFull = two.map((b) => (b.name === home ? { ...b, running: 2 } : b));
    assert.notEqual(chosen(chooseBuilder(k, [AMD], homeFull)), home);
  }
  // "small" is full; "big" is at the bound (ceil(1.25 × 11 / 2) = 7) but has room of its own: it takes the build.
  const unequal = [builder("small", { running: 2, maxConcurrent: 2 }), builder("big", { running: 8, maxConcurrent: 32 })];
  assert.equal(chosen(chooseBuilder("k", [AMD], unequal)), "big");
});

test("unservable names the platforms no usable builder serves; a combination no single builder serves is unservable with no platform, or split on request", () => {
  const builders = [builder("x86", { platforms: [AMD] }), builder("arm", { platforms: [ARM] }), builder("s390", { platforms: ["linux/s390x"], available: false })];
  assert.deepEqual(chooseBuilder("k", [AMD, "linux/ppc64le", "linux/riscv64"], builders), { kind: "unservable", platforms: ["linux/ppc64le", "linux/riscv64"] });
  assert.deepEqual(chooseBuilder("k", ["linux/s390x"], builders), { kind: "unservable", platforms: ["linux/s390x"] });
  assert.deepEqual(chooseBuilder("k", [AMD, ARM], builders), { kind: "unservable", platforms: [] });
  assert.deepEqual(chooseBuilder("k", [AMD, ARM, AMD], builders, { split: true }), { kind: "split", byPlatform: { [AMD]: "x86", [ARM]: "arm" } });
  assert.deepEqual(chooseBuilder("k", [AMD, "linux/s390x"], builders, { split: true }), { kind: "unservable", platforms: ["linux/s390x"] });
  // One builder serving both wins over a split; a split waits while one of its platforms has no room.
  assert.deepEqual(chooseBuilder("k", [AMD, ARM], [...builders, builder("both", { platforms: [AMD, ARM] })], { split: true }), { kind: "chosen", name: "both" });
  const armFull = builders.map((b) => (b.name === "arm" ? { ...b, running: 1, maxConcurrent: 1 } : b));
  assert.deepEqual(chooseBuilder("k", [AMD, ARM], armFull, { split: true }), { kind: "busy" });
  assert.deepEqual(chooseBuilder("k", [], []), { kind: "unservable", platforms: [] });
});

test("bad input: duplicate builder names, a load factor under 1 and a light-load share outside 0–1 are refused with a clear error", () => {
  assert.throws(() => chooseBuilder("k", [AMD], [builder("a"), builder("b"), builder("a")]), /two builders are named "a"/);
  assert.throws(() => chooseBuilder("k", [AMD], pool(3), { loadFactor: 0.9 }), /loadFactor must be a finite number ≥ 1, got 0.9/);
  assert.throws(() => chooseBuilder("k", [AMD], pool(3), { loadFactor: Number.NaN }), /loadFactor/);
  assert.throws(() => chooseBuilder("k", [AMD], pool(3), { lightLoad: 1.5 }), /lightLoad must be a number from 0 to 1, got 1.5/);
  assert.throws(() => chooseBuilder("k", [AMD], pool(3), { lightLoad: -0.1 }), /lightLoad/);
  assert.throws(() => chooseBuilder("k", [AMD], pool(3), { lightLoad: Number.NaN }), /lightLoad/);
});
