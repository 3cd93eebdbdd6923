import { test } from "node:test";
import assert from "node:assert/strict";
import { globProblem, refGlobProblem, refMatches, selectFiles } from "../../src/config/path-filter.js";

test("path filters select changed files, last match wins", async (t) => {
  const files = ["src/app.ts", "src/README.md", "docs/guide.md", ".github/workflows/ci.yml", "web/index.html"];
  const cases: Array<{ name: string; patterns: string[]; selected: string[] }> = [
    { name: "no filters select everything", patterns: [], selected: files },
    { name: "include", patterns: ["src/**"], selected: ["src/app.ts", "src/README.md"] },
    { name: "include then exclude", patterns: ["src/**", "!**/*.md"], selected: ["src/app.ts"] },
    { name: "exclude then re-include", patterns: ["**", "!**/*.md", "docs/**"], selected: ["src/app.ts", "docs/guide.md", ".github/workflows/ci.yml", "web/index.html"] },
    { name: "only negations start from everything", patterns: ["!docs/**", "!**/*.md"], selected: ["src/app.ts", ".github/workflows/ci.yml", "web/index.html"] },
    { name: "dot directories match", patterns: [".github/**"], selected: [".github/workflows/ci.yml"] },
    { name: "braces", patterns: ["{web,docs}/*"], selected: ["docs/guide.md", "web/index.html"] },
    { name: "leading ./ is ignored", patterns: ["./web/**"], selected: ["web/index.html"] },
    { name: "nothing matches", patterns: ["api/**"], selected: [] },
  ];
  for (const c of cases) {
    await t.test(c.name, () => assert.deepEqual(selectFiles(c.patterns, files), c.selected));
  }
});

test("bad globs are named with what is wrong", async (t) => {
  const cases: Array<[string, RegExp | undefined]> = [
    ["src/**", undefined],
    ["!src/*.md", undefined],
    ["src/[ab", /unbalanced "\[\]"/],
    ["{a,b", /unbalanced "\{\}"/],
    ["!", /empty pattern/],
    ["/abs/**", /absolute/],
    ["../up/**", /"\.\."/],
    ["src\\win", /backslash/],
  ];
  for (const [pattern, problem] of cases) {
    await t.test(pattern, () => {
      const got = globProblem(pattern);
      if (problem) assert.match(got ?? "", problem);
      else assert.equal(got, undefined);
    });
  }
});

test("ref globs", () => {
  assert.equal(refMatches(["main", "release/*"], "release/1.2"), true);
  assert.equal(refMatches(["main", "release/*"], "release/1.2/hotfix"), false);
  assert.equal(refMatches(["v*"], "v1.2.3"), true);
  assert.equal(refMatches(["v*"], "1.2.3"), false);
  assert.match(refGlobProblem("!main") ?? "", /cannot be negated/);
});
