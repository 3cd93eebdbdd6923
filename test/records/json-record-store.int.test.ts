import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isObject, JsonRecordStore } from "../../src/records/index.js";
import { SecretInJobDataError } from "../../src/queue/index.js";
import { CacheHistory } from "../../src/worker/cache-history.js";
import type { BuildRecord } from "../../src/worker/cache-history.js";
import { ReusableImages } from "../../src/worker/reusable-images.js";
import { redisForTest } from "../github/redis-test-keys.js";

interface Note {
  n: number;
  text: string;
}
const isNote = (v: unknown): v is Note => isObject(v) && typeof v.n === "number" && typeof v.text === "string";

describe("JSON records with a TTL on real Redis", () => {
  let ctx: Awaited<ReturnType<typeof redisForTest>>;
  let store: JsonRecordStore<{ id: number; name: string }, Note>;

  before(async () => {
    ctx = await redisForTest("records");
    store = new JsonRecordStore(ctx.redis, ctx.prefix, { keyOf: (at) => ["note", String(at.id), encodeURIComponent(at.name)], isRecord: isNote, ttlSeconds: 300 });
  });
  after(async () => {
    await ctx.cleanup();
  });

  it("writes under the app's keys with the TTL, and reads the record back", async () => {
    const at = { id: 7, name: "reg:5000/app" };
    assert.equal(store.keyOf(at), `${ctx.prefix}:bkb:note:7:reg%3A5000%2Fapp`);
    assert.equal(await store.read(at), undefined, "nothing written yet");
    await store.write(at, { n: 1, text: "one" });
    assert.deepEqual(await store.read(at), { n: 1, text: "one" });
    const ttl = await ctx.redis.ttl(store.keyOf(at));
    assert.ok(ttl > 290 && ttl <= 300, `TTL ${ttl}`);
    await store.write(at, { n: 2, text: "two" });
    assert.deepEqual(await store.read(at), { n: 2, text: "two" }, "a write replaces the record");
  });

  it("a damaged, foreign or wrongly shaped value reads as absent", async () => {
    for (const [i, raw] of ["{not json", "null", "[1,2]", '"text"', '{"n":"1","text":"one"}', '{"n":1}'].entries()) {
      const at = { id: 100 + i, name: "x" };
      await ctx.redis.set(store.keyOf(at), raw);
      assert.equal(await store.read(at), undefined, raw);
    }
  });

  it("refuses a record holding a secret-shaped value, and writes nothing", async () => {
    const at = { id: 9, name: "x" };
    await assert.rejects(store.write(at, { n: 1, text: `token ghs_${"a".repeat(36)}` }), SecretInJobDataError);
    assert.equal(await ctx.redis.exists(store.keyOf(at)), 0);
  });

  it("the cache history and the reusable images keep their records under <prefix>:bkb:, checked when read back", async () => {
    const history = new CacheHistory(ctx.redis, ctx.prefix);
    const at = { repoId: 5, image: "app", ref: "refs/heads/main" };
    const record: BuildRecord = { v: 1, sha: "a".repeat(40), dockerfile: "Dockerfile", context: "", args: { X: "0123456789abcdef" }, steps: [{ d: "sha256:1", k: "k", c: false, ms: 10 }], at: new Date().toISOString() };
    await history.write(at, record);
    assert.deepEqual(await history.read(at), record);
    const key = `${ctx.prefix}:bkb:cache-report:5:app:refs/heads/main`;
    assert.ok((await ctx.redis.ttl(key)) > 0, "under the app's keys, with a TTL");
    await ctx.redis.set(key, JSON.stringify({ ...record, steps: [{ d: "sha256:1" }] }));
    assert.equal(await history.read(at), undefined, "a step of another shape: not a record of ours");

    const images = new ReusableImages(ctx.redis, ctx.prefix);
    const k = { installationId: 1, repoId: 5, image: "app", tree: "b".repeat(40), configHash: "c0ffee" };
    const image = { digest: `sha256:${"d".repeat(64)}`, repository: "reg/app", sha: "e".repeat(40), pr: 3, pushedAt: 1 };
    await images.note(k, image);
    assert.deepEqual(await images.find(k), image);
    const imageKey = `${ctx.prefix}:bkb:reusable-image:1:5:app:${"b".repeat(40)}:c0ffee`;
    await ctx.redis.set(imageKey, JSON.stringify({ ...image, digest: "latest" }));
    assert.equal(await images.find(k), undefined, "a digest that is not one: not a record of ours");
  });
});
