import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, REPO_CONFIG_PATH } from "../../src/config/config-error.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import { globProblem, refMatches, selectFiles } from "../../src/config/path-filter.js";
import { parseTagTemplate, TagTemplateError } from "../../src/config/tags.js";
import { interpretConfigSource } from "../../src/planner/load-repo-config.js";
import { HOSTILE_INPUTS } from "./hostile-inputs.js";

function configError(text: string): ConfigError {
  try {
    parseRepoConfig(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail("the config parsed without error");
}

for (const input of HOSTILE_INPUTS) {
  test(`hostile config: ${input.name} → a config error naming the limit, on its line`, () => {
    const err = configError(input.text);
    const first = err.issues[0]!;
    assert.ok(
      first.message.startsWith(input.message),
      `message ${JSON.stringify(first.message.slice(0, 200))} does not start with ${JSON.stringify(input.message)}`,
    );
    assert.equal(first.line, input.line, `line of ${JSON.stringify(first.message.slice(0, 80))}`);
    assert.equal(first.path, REPO_CONFIG_PATH);
    assert.ok(first.column >= 1);
    assert.equal(err.code, "REPO_CONFIG_INVALID");
  });
}

test("the alias bomb is a ConfigError, not the yaml library's ReferenceError", () => {
  const bomb = HOSTILE_INPUTS.find((i) => i.name === "YAML alias bomb")!;
  assert.throws(() => parseRepoConfig(bomb.text), (err: unknown) => err instanceof ConfigError && !(err instanceof ReferenceError));
});

test("exactly the alias limit is accepted, one more is refused on the alias that goes over", () => {
  const withAliases = (n: number): string => `x-value: &v value\nx-more: [${Array.from({ length: n }, () => "*v").join(", ")}]\nimages:\n  - name: app\n`;
  assert.equal(parseRepoConfig(withAliases(100)).images.length, 1);
  assert.throws(
    () => parseRepoConfig(withAliases(101)),
    (err: unknown) => err instanceof ConfigError && err.line === 2 && /more than the limit of 100/.test(err.issues[0]!.message),
  );
});

test("anchors and merges within the alias limit still work", () => {
  const shared = "x-common: &common {platforms: [linux/amd64]}\n";
  const images = Array.from({ length: 20 }, (_, i) => `  - {<<: *common, name: i${i}}\n`).join("");
  const config = parseRepoConfig(`${shared}images:\n${images}`);
  assert.equal(config.images.length, 20);
  assert.deepEqual(config.images[19]?.platforms, ["linux/amd64"]);
});

test("exactly at every limit is accepted", () => {
  const images = Array.from({ length: 50 }, (_, i) => {
    const tags = Array.from({ length: 20 }, (_, t) => `"t${t}-${"x".repeat(240)}"`).join(", ");
    return i === 0
      ? `  - name: i${i}\n    tags: [${tags}]\n    paths: [${Array.from({ length: 50 }, (_, p) => `"p${p}/**"`).join(", ")}]\n    build_args: {${Array.from({ length: 50 }, (_, a) => `A${a}: x`).join(", ")}}\n    push: {branches: ["${"b".repeat(256)}"]}\n`
      : `  - name: i${i}\n`;
  });
  const text = `images:\n${images.join("")}`;
  const config = parseRepoConfig(text);
  assert.equal(config.images.length, 50);
  assert.equal(config.images[0]?.tags?.length, 20);
  assert.equal(config.images[0]?.paths.length, 50);
  assert.equal(Object.keys(config.images[0]?.buildArgs ?? {}).length, 50);
});

test("20 levels of nesting are accepted, 21 are not", () => {
  const nested = (levels: number): string => {
    // images (1) > seq (2) > image (3) > build_args (4); x-deep adds the rest under the root mapping.
    let out = "images: [{name: app}]\nx-deep:\n";
    for (let i = 1; i < levels - 1; i++) out += `${"  ".repeat(i)}k:\n`;
    return `${out}${"  ".repeat(levels - 1)}v: 1\n`;
  };
  assert.doesNotThrow(() => parseRepoConfig(nested(20)));
  assert.match(configError(nested(21)).message, /deeper than the limit of 20 levels/);
});

test("a pattern with many stars matched against a long file name ends with the right answer", () => {
  const pattern = "*a*a*a*a*a*a*a*a*b";
  assert.equal(globProblem(pattern), undefined);
  const long = "a".repeat(1000);
  assert.deepEqual(selectFiles([pattern], [long, `${long}b`]), [`${long}b`]);
  const deep = Array.from({ length: 500 }, () => "a").join("/");
  assert.deepEqual(selectFiles(["**/a/**/a/**/a/**/a/**/b"], [deep, `${deep}/b`]), [`${deep}/b`]);
});

test("extended-glob syntax is literal at plan time: the 81-character path does not match", () => {
  assert.deepEqual(selectFiles(["+(+(+(+(+(+(a|aa))))))b"], ["a".repeat(81)]), []);
  assert.match(globProblem("src/@(a|b)/**") ?? "", /extended glob syntax \("@\(…\)"\)/);
  assert.match(globProblem("!src/!(docs)/**") ?? "", /extended glob syntax \("!\(…\)"\)/);
  assert.match(globProblem("src/[[:alpha:]]") ?? "", /POSIX character class/);
});

test("a file name beyond any real length is selected without matching; a ref name that long matches nothing", () => {
  const huge = `src/${"a".repeat(5000)}`;
  assert.deepEqual(selectFiles(["!src/**"], [huge, "src/x"]), [huge]);
  assert.equal(refMatches(["*"], "b".repeat(5000)), false);
});

test("the tag scanner handles {{ and 100,000 spaces, with the same error as before", () => {
  const template = `{{${" ".repeat(100_000)}`;
  assert.throws(
    () => parseTagTemplate(template),
    (e: unknown) => e instanceof TagTemplateError && e.offset === 0 && /^unbalanced braces in tag template/.test(e.message),
  );
  const many = "{{".repeat(50_000);
  assert.throws(() => parseTagTemplate(many), (e: unknown) => e instanceof TagTemplateError && e.offset === 0);
  assert.deepEqual(parseTagTemplate(`{{${" ".repeat(50_000)}sha${" ".repeat(50_000)}}}`), [{ variable: "sha" }]);
});

test("block scalars with blank lines, brackets and # inside parse (the depth estimate skips them)", () => {
  const text = [
    "images:",
    "  - name: app",
    "    build_args:",
    "      SCRIPT: |",
    "        [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "",
    "        {{{{ # not a comment",
    "      NOTE: >-",
    "        - - - - - - - - - - - - - - - - - - - - - - - - - - - -",
    "",
    "",
  ].join("\n");
  const [app] = parseRepoConfig(text).images;
  assert.equal(app?.buildArgs.SCRIPT, `${"[".repeat(50)}\n\n{{{{ # not a comment\n`);
  assert.equal(app?.buildArgs.NOTE, "- ".repeat(27) + "-");
});

test("the planner takes every hostile config as an invalid config (the failed config check), nothing thrown", () => {
  for (const input of HOSTILE_INPUTS) {
    const loaded = interpretConfigSource({ kind: "file", text: input.text }, "repo");
    assert.equal(loaded.kind, "invalid", input.name);
    if (loaded.kind === "invalid") assert.equal(loaded.error.issues[0]?.line, input.line, input.name);
  }
});
