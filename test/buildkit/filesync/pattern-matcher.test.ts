import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidRequestError } from "../../../src/buildkit/errors.js";
import { PatternMatcher, cleanPath } from "../../../src/buildkit/filesync/pattern-matcher.js";

const table: Array<{ patterns: string[]; excluded: string[]; kept: string[] }> = [
  { patterns: ["*.log"], excluded: ["a.log", ".log"], kept: ["dir/a.log", "a.logx", "log"] },
  { patterns: ["*.log", "!keep.log"], excluded: ["a.log"], kept: ["keep.log", "a.txt"] },
  { patterns: ["**/*.log", "!keep.log"], excluded: ["a.log", "x/y/z.log", "x/keep.log"], kept: ["keep.log"] },
  { patterns: ["**/tmp"], excluded: ["tmp", "a/tmp", "a/b/tmp", "a/tmp/file", "tmp/x/y"], kept: ["atmp", "tmpx", "a/tmpx"] },
  { patterns: ["/build"], excluded: ["build", "build/out.bin"], kept: ["src/build", "builder"] },
  { patterns: ["./build/"], excluded: ["build", "build/x"], kept: ["x/build"] },
  { patterns: ["docs", "!docs/README.md"], excluded: ["docs", "docs/guide.md", "docs/sub/x"], kept: ["docs/README.md"] },
  { patterns: [".dockerignore"], excluded: [".dockerignore"], kept: ["Dockerfile", "sub/.dockerignore"] },
  { patterns: ["*", "!src"], excluded: ["a", "Dockerfile"], kept: ["src", "src/x.ts"] },
  { patterns: ["a/**/c"], excluded: ["a/c", "a/b/c", "a/b/b/c", "a/c/d"], kept: ["c", "a/b", "b/a/c"] },
  { patterns: ["node_modules/**"], excluded: ["node_modules/x", "node_modules/x/y"], kept: ["node_modules", "a/node_modules/x"] },
  { patterns: ["file?.txt", "[ab].md"], excluded: ["file1.txt", "a.md", "b.md"], kept: ["file10.txt", "file/.txt", "c.md"] },
  { patterns: ["lib/*/test"], excluded: ["lib/x/test", "lib/x/test/y"], kept: ["lib/test", "lib/x/y/test"] },
  { patterns: ["a+b(1).txt", "$x"], excluded: ["a+b(1).txt", "$x"], kept: ["aab1.txt", "x"] },
  { patterns: ["  spaced.txt  ", "", "#not-a-comment"], excluded: ["spaced.txt", "#not-a-comment"], kept: ["x"] },
  { patterns: ["a/../b"], excluded: ["b"], kept: ["a/b", "a"] },
  { patterns: ["x", "!x", "x"], excluded: ["x", "x/y"], kept: ["y"] },
];

for (const { patterns, excluded, kept } of table) {
  test(`dockerignore ${JSON.stringify(patterns)}`, () => {
    const matcher = new PatternMatcher(patterns);
    for (const path of excluded) assert.equal(matcher.matches(path), true, `${path} should be excluded`);
    for (const path of kept) assert.equal(matcher.matches(path), false, `${path} should be kept`);
  });
}

test("parent results carried down give the same answers as checking ancestors", () => {
  const matcher = new PatternMatcher(["docs", "!docs/README.md", "**/*.tmp", "!keep/**"]);
  const paths = ["docs", "docs/README.md", "docs/a", "docs/a/b.tmp", "keep", "keep/x.tmp", "src", "src/y.tmp"];
  const states = new Map<string, ReturnType<PatternMatcher["match"]>["state"]>();
  for (const path of paths) {
    const parent = path.includes("/") ? states.get(path.slice(0, path.lastIndexOf("/"))) : undefined;
    const carried = matcher.match(path, parent);
    states.set(path, carried.state);
    assert.equal(carried.matched, matcher.matches(path), path);
  }
  assert.equal(matcher.matches("docs/a/b.tmp"), true);
  assert.equal(matcher.matches("keep/x.tmp"), false);
  assert.equal(matcher.matches("docs/README.md"), false);
});

test("a lone ! and a broken character class are rejected", () => {
  assert.throws(() => new PatternMatcher(["!"]), InvalidRequestError);
  assert.throws(() => new PatternMatcher(["[a-"]), InvalidRequestError);
});

test("patterns are cleaned like Go's filepath.Clean", () => {
  assert.equal(cleanPath("a//b/./c/"), "a/b/c");
  assert.equal(cleanPath("./x"), "x");
  assert.equal(cleanPath(""), ".");
  assert.equal(cleanPath("/"), "/");
  const matcher = new PatternMatcher(["!keep.log", "*.log"]);
  // Order matters: the later pattern wins.
  assert.equal(matcher.matches("keep.log"), true);
  assert.equal(matcher.hasExceptions, true);
});
