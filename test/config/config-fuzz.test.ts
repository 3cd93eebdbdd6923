import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { minimatch } from "minimatch";
import { stringify } from "yaml";
import { ConfigError } from "../../src/config/config-error.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import { globProblem, refMatches, selectFiles } from "../../src/config/path-filter.js";
import { parseTagTemplate, renderTagTemplate, TAG_VARIABLES, TagTemplateError } from "../../src/config/tags.js";

/**
 * Property tests: for arbitrary input each entry point returns or throws its own typed error, never anything
 * else, and no single call takes longer than PER_INPUT_BUDGET_MS. The budget is a guard against catastrophic
 * backtracking (the regex and extglob cases took seconds), far above what any of these inputs needs.
 */
const PER_INPUT_BUDGET_MS = 200;
const RUNS = 300;

function withinBudget<T>(what: string, f: () => T): T {
  const start = performance.now();
  try {
    return f();
  } finally {
    const ms = performance.now() - start;
    assert.ok(ms < PER_INPUT_BUDGET_MS, `${what} took ${ms.toFixed(0)} ms (budget ${PER_INPUT_BUDGET_MS} ms)`);
  }
}

function parseOutcome(text: string): "ok" | "config-error" {
  return withinBudget("parseRepoConfig", () => {
    try {
      parseRepoConfig(text);
      return "ok";
    } catch (err) {
      if (err instanceof ConfigError) {
        assert.ok(err.issues.length > 0);
        for (const i of err.issues) assert.ok(i.line >= 1 && i.column >= 1, `issue without a position: ${i.message}`);
        return "config-error";
      }
      throw err;
    }
  });
}

/** YAML-shaped noise: the syntax that drives the parser (flow, block, anchors, quotes, block scalars). */
const yamlToken = fc.constantFrom(
  "[", "]", "{", "}", ",", ": ", "- ", "? ", "\n", "\n  ", "\n    ", "  ", "#", "&a ", "&b ", "*a", "*b", "<<: ", '"', "'",
  "|", ">-", "---", "images", "name", "app", "tags", "paths", "build_args", "push", "branches", "{{", "}}", "sha",
  "**", "+(", "|", ")", "x-", "!", "%YAML 1.2", "\\", "\t", "é", "null", "~", "1", "true",
);
const yamlNoise = fc.array(yamlToken, { maxLength: 200 }).map((t) => t.join(""));

const globChar = fc.constantFrom("a", "b", ".", "/", "*", "?", "[", "]", "!", "-", "{", "}", ",", "(", ")", "+", "@", "^", ":");
const glob = fc.string({ unit: globChar, maxLength: 16 });
const templateChar = fc.constantFrom("{", "}", " ", "\t", "\n", "s", "h", "a", "-", "_", "b", "r", "n", "c", "t", "x");
const template = fc.string({ unit: templateChar, maxLength: 60 });

/** Mostly a valid value, sometimes an arbitrary one. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<U>): fc.Arbitrary<T | U> =>
  fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: other, weight: 1 });

/** A config with the right shape and arbitrary contents, written as YAML. */
const shapedConfig = fc
  .record({
    images: fc.uniqueArray(
      fc.record(
        {
          name: mostly(fc.constantFrom("api", "web", "worker.v2"), fc.string({ maxLength: 8 })),
          context: mostly(fc.constantFrom(".", "./app/", "svc/api"), fc.constantFrom("../up", "/abs", "a\\b")),
          platforms: fc.array(mostly(fc.constantFrom("linux/amd64", "linux/arm/v7"), fc.string({ maxLength: 6 })), { maxLength: 2 }),
          build_args: fc.dictionary(mostly(fc.constantFrom("A", "B_2"), fc.string({ maxLength: 6 })), fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean()), { maxKeys: 3 }),
          paths: fc.array(mostly(fc.constantFrom("src/**", "!**/*.md", "{a,b}/*"), glob), { maxLength: 3 }),
          tags: fc.array(mostly(fc.constantFrom("{{branch}}", "sha-{{ short_sha }}", "v{{major}}"), template), { maxLength: 3 }),
          push: fc.record({ branches: fc.array(mostly(fc.constantFrom("main", "release/*"), glob), { maxLength: 2 }), pull_requests: fc.boolean() }, { requiredKeys: [] }),
          cache: fc.oneof(fc.boolean(), fc.record({ ref: fc.constantFrom("ghcr.io/a/b", "ghcr.io/a/b:tag", "UPPER") })),
        },
        { requiredKeys: ["name"] },
      ),
      { selector: (image) => image.name, minLength: 1, maxLength: 3 },
    ),
  })
  .map((c) => stringify(c));

test("the config parser, on arbitrary text, returns or throws a ConfigError, each within the budget", () => {
  parseRepoConfig("images: [{name: warm}]\n"); // compiles the schema once, outside any measured call
  fc.assert(fc.property(fc.string({ maxLength: 400 }), (text) => void parseOutcome(text)), { numRuns: RUNS });
  fc.assert(fc.property(yamlNoise, (text) => void parseOutcome(text)), { numRuns: RUNS });
});

test("the config parser, on well-shaped configs with arbitrary values, returns or throws a ConfigError", () => {
  parseRepoConfig("images: [{name: warm}]\n");
  const outcomes = new Set<string>();
  fc.assert(
    fc.property(shapedConfig, (text) => {
      outcomes.add(parseOutcome(text));
    }),
    { numRuns: RUNS },
  );
  assert.deepEqual([...outcomes].sort(), ["config-error", "ok"], "the generator reaches both outcomes");
});

/** The tag placeholder regex this scanner replaced: the reference the scanner must agree with. */
function referenceParts(t: string): Array<{ text: string } | { variable: string }> {
  const parts: Array<{ text: string } | { variable: string }> = [];
  let last = 0;
  for (const m of t.matchAll(/\{\{\s*([^{}]*?)\s*\}\}/g)) {
    const name = m[1] ?? "";
    if (!(TAG_VARIABLES as readonly string[]).includes(name)) {
      throw new TagTemplateError(`unknown template variable "{{${name}}}" (known: ${TAG_VARIABLES.map((v) => `{{${v}}}`).join(", ")})`, m.index);
    }
    if (m.index > last) parts.push({ text: t.slice(last, m.index) });
    parts.push({ variable: name });
    last = m.index + m[0].length;
  }
  if (last < t.length) parts.push({ text: t.slice(last) });
  for (const part of parts) {
    if ("text" in part && (part.text.includes("{{") || part.text.includes("}}"))) {
      throw new TagTemplateError(
        `unbalanced braces in tag template "${t}" (write variables as {{name}})`,
        t.indexOf(part.text.includes("{{") ? "{{" : "}}"),
      );
    }
  }
  return parts;
}

function outcome(f: () => unknown): unknown {
  try {
    return { value: f() };
  } catch (err) {
    if (err instanceof TagTemplateError) return { error: err.message, offset: err.offset };
    throw err;
  }
}

test("tag templates: the scanner agrees with the old regex on parts, messages and offsets", () => {
  const withVariables = fc
    .array(fc.oneof(template, fc.constantFrom(...TAG_VARIABLES).map((v) => `{{ ${v} }}`), fc.constantFrom("{{", "}}", "{{{", "}}}")), { maxLength: 6 })
    .map((p) => p.join(""));
  fc.assert(
    fc.property(fc.oneof(template, withVariables), (t) => {
      const got = withinBudget("parseTagTemplate", () => outcome(() => parseTagTemplate(t)));
      assert.deepEqual(got, outcome(() => referenceParts(t)));
    }),
    { numRuns: 2000 },
  );
});

test("tag templates: arbitrary (and long) input renders or throws a TagTemplateError within the budget", () => {
  const vars = { branch: "main", sha: "abc", short_sha: "abc" };
  const long = fc.tuple(fc.constantFrom("{{", "}}", " ", "{", "sha"), fc.nat({ max: 20_000 })).map(([s, n]) => s.repeat(n));
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 300 }), template, long, fc.tuple(long, long).map(([a, b]) => a + b)), (t) => {
      withinBudget("renderTagTemplate", () => outcome(() => renderTagTemplate(t, vars)));
    }),
    { numRuns: RUNS },
  );
});

const MINIMATCH_OPTIONS = { dot: true, nonegate: true, nocomment: true, noext: true } as const;
const pathChar = fc.constantFrom("a", "b", ".", "/", "-", "[", "]", "!", "{");
/** Paths as git lists them: no empty, `.` or `..` segment. */
const repoPath = fc
  .array(fc.string({ unit: pathChar, minLength: 1, maxLength: 4 }).filter((s) => !s.includes("/") && s !== "." && s !== ".."), { minLength: 1, maxLength: 4 })
  .map((segments) => segments.join("/"));

test("path filters: the linear matcher selects what minimatch (noext) selects", () => {
  const accepted = glob.filter((g) => !g.startsWith("!") && globProblem(g) === undefined);
  let matches = 0;
  fc.assert(
    fc.property(accepted, repoPath, (g, path) => {
      const want = minimatch(path, g.replace(/^\.\//, ""), MINIMATCH_OPTIONS);
      const got = selectFiles([g], [path]).length === 1;
      if (got) matches++;
      assert.equal(got, want, `pattern ${JSON.stringify(g)} on ${JSON.stringify(path)}`);
    }),
    { numRuns: 3000 },
  );
  assert.ok(matches > 0, "some generated pattern matched");
});

test("path filters and ref globs: arbitrary patterns and long names answer within the budget and never throw", () => {
  const longName = fc.tuple(fc.string({ unit: pathChar, maxLength: 8 }), fc.nat({ max: 1000 })).map(([s, n]) => s.repeat(n).slice(0, 4000));
  const longGlob = fc.tuple(glob, fc.nat({ max: 40 })).map(([s, n]) => s.repeat(n).slice(0, 256));
  const accepted = fc.oneof(glob, longGlob).filter((g) => globProblem(g) === undefined);
  fc.assert(
    fc.property(fc.array(accepted, { maxLength: 10 }), fc.array(fc.oneof(repoPath, longName), { maxLength: 10 }), (patterns, files) => {
      const selected = withinBudget("selectFiles", () => selectFiles(patterns, files));
      assert.ok(selected.every((f) => files.includes(f)));
      withinBudget("refMatches", () => files.forEach((f) => refMatches(patterns.filter((p) => !p.startsWith("!")), f)));
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (g) => {
      const problem = withinBudget("globProblem", () => globProblem(g));
      assert.ok(problem === undefined || typeof problem === "string");
    }),
    { numRuns: RUNS },
  );
});
