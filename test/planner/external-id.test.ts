import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeExternalId, encodeExternalId, externalIdHash, hashedExternalId } from "../../src/planner/external-id.js";
import type { ExternalIdData } from "../../src/planner/external-id.js";

test("external ids round-trip every target kind", async (t) => {
  const cases: ExternalIdData[] = [
    { image: "api", target: { kind: "branch", branch: "main" } },
    { image: "api", target: { kind: "branch", branch: "feature/a&b=c", pullRequest: { number: 12, baseRef: "main" } } },
    { image: "web.v2", target: { kind: "tag", tag: "v1.2.3" } },
    { image: "api", target: { kind: "pull_request", number: 7, baseRef: "release/1", fork: true } },
    { image: "api", target: { kind: "pull_request", number: 8, baseRef: "main", fork: false } },
    { image: "", target: { kind: "branch", branch: "main" } },
  ];
  for (const data of cases) {
    await t.test(encodeExternalId(data), () => {
      const id = encodeExternalId(data);
      assert.ok(id.length <= 255);
      assert.deepEqual(decodeExternalId(id), data);
    });
  }
});

test("foreign or broken external ids decode to undefined", () => {
  for (const id of ["", "42", "v=2&i=a&k=b&r=main", "v=1&i=a&k=x", "v=1&i=a&k=p&n=abc&base=main", "v=1&i=a&k=p&n=3", "v=1&k=b&r=x"]) {
    assert.equal(decodeExternalId(id), undefined, id);
  }
});

test("the hashed form is recognised", () => {
  const id = hashedExternalId("abc123");
  assert.equal(externalIdHash(id), "abc123");
  assert.equal(externalIdHash(encodeExternalId({ image: "a", target: { kind: "tag", tag: "x" } })), undefined);
  assert.equal(decodeExternalId(id), undefined);
});
