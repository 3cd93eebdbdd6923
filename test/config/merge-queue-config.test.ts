import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/config-error.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";

test("merge_queue.reuse: false is kept per image; true and no setting mean reuse", () => {
  const config = parseRepoConfig(
    "images:\n  - name: exact\n    merge_queue: { reuse: false }\n  - name: reused\n    merge_queue: { reuse: true }\n  - name: plain\n",
  );
  assert.deepEqual(
    config.images.map((i) => [i.name, i.mergeQueueReuse]),
    [
      ["exact", false],
      ["reused", undefined],
      ["plain", undefined],
    ],
  );
});

test("a merge_queue that is not { reuse: boolean } is refused on its line", () => {
  for (const [yaml, line] of [
    ["images:\n  - name: app\n    merge_queue: { reuse: no-thanks }\n", 3],
    ["images:\n  - name: app\n    merge_queue:\n      reuse: false\n      rebuild: true\n", 5],
  ] as const) {
    assert.throws(
      () => parseRepoConfig(yaml),
      (err: unknown) => err instanceof ConfigError && err.issues.some((p) => p.line === line),
      yaml,
    );
  }
});
