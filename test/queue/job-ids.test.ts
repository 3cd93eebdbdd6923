import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildJobId, eventJobId, isValidJobId, supersedeKey } from "../../src/queue/job-ids.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("job ids", () => {
  it("event ids are valid and stable for tricky delivery ids", () => {
    const tricky = ["12345", "0", "a:b:c", "72d3162e-cc78-11e3-81ab-4c9367dc0958", " ", "ü/../x", "x".repeat(500)];
    const seen = new Set<string>();
    for (const d of tricky) {
      const id = eventJobId(d);
      assert.ok(isValidJobId(id), `${JSON.stringify(d)} → ${id}`);
      assert.equal(eventJobId(d), id, "same delivery, same id");
      seen.add(id);
    }
    assert.equal(seen.size, tricky.length, "different deliveries, different ids");
    assert.equal(eventJobId("72d3162e-cc78-11e3-81ab-4c9367dc0958"), "ev-72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert.throws(() => eventJobId(""), RangeError);
  });

  it("build ids are valid for tricky image names and differ per attempt", () => {
    const images = ["api", "ghcr.io/acme/api:1.0", "a:b", "123", "::::", "ünï/cödé", "x".repeat(300), ""];
    const seen = new Set<string>();
    for (const image of images) {
      for (const attempt of [1, 2]) {
        const id = buildJobId({ installationId: 1, repoId: 2, sha: SHA, image, attempt });
        assert.ok(isValidJobId(id), `${JSON.stringify(image)} → ${id}`);
        assert.ok(!id.includes(":"));
        seen.add(id);
      }
    }
    assert.equal(seen.size, images.length * 2);
    assert.equal(buildJobId({ installationId: 9, repoId: 8, sha: SHA, image: "api", attempt: 3 }), "bld-9-8-0123456789ab-api-a3");
  });

  it("build ids survive a non-hex sha and refuse attempt 0", () => {
    assert.ok(isValidJobId(buildJobId({ installationId: 1, repoId: 2, sha: "refs/heads/x:y", image: "i", attempt: 1 })));
    assert.throws(() => buildJobId({ installationId: 1, repoId: 2, sha: SHA, image: "i", attempt: 0 }), RangeError);
  });

  it("isValidJobId rejects colons, all digits and empty", () => {
    assert.equal(isValidJobId("123"), false);
    assert.equal(isValidJobId("a:1"), false);
    assert.equal(isValidJobId(""), false);
    assert.equal(isValidJobId("a1"), true);
  });

  it("supersede keys: per branch, per PR, none for tags", () => {
    assert.equal(supersedeKey(5, { kind: "branch", name: "feat/x" }), "5/branch/feat/x");
    assert.equal(supersedeKey(5, { kind: "pull", number: 12 }), "5/pull/12");
    assert.equal(supersedeKey(5, { kind: "tag" }), "");
    assert.notEqual(supersedeKey(5, { kind: "branch", name: "12" }), supersedeKey(5, { kind: "pull", number: 12 }));
  });
});
