import { test } from "node:test";
import assert from "node:assert/strict";
import {
  parseSemverTag,
  parseTagTemplate,
  renderTagTemplate,
  renderTags,
  sanitizeDockerTag,
  TagTemplateError,
} from "../../src/config/tags.js";
import type { RefContext } from "../../src/config/tags.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

test("sanitising into valid Docker tags", async (t) => {
  const cases: Array<[string, string]> = [
    ["main", "main"],
    ["feature/Foo Bar", "feature-foo-bar"],
    ["Release/1.2", "release-1.2"],
    [".hidden", "hidden"],
    ["-dash", "dash"],
    ["--..x", "x"],
    ["a//b", "a-b"],
    ["fix_under_score", "fix_under_score"],
    ["ünïcode", "n-code"],
    ["v1.2.3+build.5", "v1.2.3-build.5"],
  ];
  for (const [raw, want] of cases) {
    await t.test(`${JSON.stringify(raw)} → ${want}`, () => {
      const got = sanitizeDockerTag(raw);
      assert.equal(got, want);
      assert.match(got, DOCKER_TAG);
    });
  }
});

test("a name with nothing usable left becomes a hash tag", () => {
  const got = sanitizeDockerTag("///");
  assert.match(got, /^_[0-9a-f]{8}$/);
  assert.notEqual(got, sanitizeDockerTag("\\\\"));
});

test("long names are cut to 128 characters with a hash that keeps distinct branches distinct", () => {
  const a = `feature/${"x".repeat(200)}-one`;
  const b = `feature/${"x".repeat(200)}-two`;
  const ta = sanitizeDockerTag(a);
  const tb = sanitizeDockerTag(b);
  assert.equal(ta.length, 128);
  assert.equal(tb.length, 128);
  assert.notEqual(ta, tb);
  assert.match(ta, DOCKER_TAG);
  assert.equal(sanitizeDockerTag(a), ta, "stable");
});

test("semver parsing", async (t) => {
  const cases: Array<[string, ReturnType<typeof parseSemverTag>]> = [
    ["v1.2.3", { major: "1", minor: "2", patch: "3" }],
    ["1.2.3", { major: "1", minor: "2", patch: "3" }],
    ["v2.0.0-rc.1", { major: "2", minor: "0", patch: "0", prerelease: "rc.1" }],
    ["v1.2.3+meta", { major: "1", minor: "2", patch: "3" }],
    ["v1.2", undefined],
    ["release-1", undefined],
    ["v01.2.3", undefined],
  ];
  for (const [tag, want] of cases) {
    await t.test(tag, () => assert.deepEqual(parseSemverTag(tag), want));
  }
});

test("template rendering", async (t) => {
  const vars = { branch: "main", sha: SHA, short_sha: SHA.slice(0, 7) };
  const cases: Array<[string, string | undefined]> = [
    ["{{branch}}", "main"],
    ["sha-{{short_sha}}", "sha-0123456"],
    ["{{ branch }}-{{sha}}", `main-${SHA}`],
    ["static", "static"],
    ["pr-{{pr}}", undefined],
  ];
  for (const [template, want] of cases) {
    await t.test(template, () => assert.equal(renderTagTemplate(template, vars), want));
  }
});

test("unknown variables and unbalanced braces are template errors", () => {
  assert.throws(() => parseTagTemplate("{{commit}}"), (e: unknown) => e instanceof TagTemplateError && /unknown template variable "\{\{commit\}\}"/.test(e.message));
  assert.throws(() => parseTagTemplate("x-{{sha"), (e: unknown) => e instanceof TagTemplateError && /unbalanced braces/.test(e.message));
  assert.throws(() => parseTagTemplate("x-sha}}"), TagTemplateError);
});

const branch = (name: string): RefContext => ({ kind: "branch", branch: name, sha: SHA });
const tag = (name: string): RefContext => ({ kind: "tag", tag: name, sha: SHA });
const pr = (n: number): RefContext => ({ kind: "pull_request", pr: n, sha: SHA });

test("default and configured tags per ref", async (t) => {
  const cases: Array<{
    name: string;
    ref: RefContext;
    templates?: string[];
    defaultBranch?: boolean;
    addLatest?: boolean;
    tags: string[];
    dropped?: string[];
  }> = [
    { name: "default branch push", ref: branch("main"), defaultBranch: true, addLatest: true, tags: ["main", "sha-0123456", "latest"] },
    { name: "default branch, not pushed: no latest", ref: branch("main"), defaultBranch: true, addLatest: false, tags: ["main", "sha-0123456"] },
    { name: "feature branch", ref: branch("feature/Login"), tags: ["feature-login", "sha-0123456"] },
    { name: "semver tag", ref: tag("v1.2.3"), tags: ["v1.2.3", "1.2", "1"] },
    { name: "pre-release tag: no aliases", ref: tag("v2.0.0-rc.1"), tags: ["v2.0.0-rc.1"], dropped: ["{{major}}.{{minor}}", "{{major}}"] },
    { name: "non-semver tag", ref: tag("nightly"), tags: ["nightly"], dropped: ["{{major}}.{{minor}}", "{{major}}"] },
    { name: "pull request", ref: pr(42), tags: ["pr-42"] },
    {
      name: "configured: only templates that apply",
      ref: branch("dev"),
      templates: ["{{branch}}-{{short_sha}}", "{{tag}}", "v{{major}}"],
      tags: ["dev-0123456"],
      dropped: ["{{tag}}", "v{{major}}"],
    },
    { name: "configured: none applies → defaults", ref: pr(7), templates: ["{{branch}}"], tags: ["pr-7"], dropped: ["{{branch}}"] },
    { name: "configured patch", ref: tag("1.4.9"), templates: ["{{major}}.{{minor}}.{{patch}}", "stable"], tags: ["1.4.9", "stable"] },
    { name: "latest from a template on a feature branch is dropped", ref: branch("dev"), templates: ["latest", "{{branch}}"], tags: ["dev"], dropped: ["latest"] },
    { name: "latest from a template on a tag is dropped", ref: tag("v1.0.0"), templates: ["latest", "{{tag}}"], tags: ["v1.0.0"], dropped: ["latest"] },
    { name: "latest in templates on the default branch stays once", ref: branch("main"), templates: ["latest", "{{branch}}"], defaultBranch: true, addLatest: true, tags: ["latest", "main"] },
    { name: "duplicates collapse after sanitising", ref: branch("Dev"), templates: ["{{branch}}", "dev"], tags: ["dev"] },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const out = renderTags({
        ...(c.templates ? { templates: c.templates } : {}),
        ref: c.ref,
        defaultBranch: c.defaultBranch ?? false,
        addLatest: c.addLatest ?? false,
      });
      assert.deepEqual(out.tags, c.tags);
      assert.deepEqual(out.dropped.map((d) => d.template), c.dropped ?? []);
      for (const d of out.dropped) assert.ok(d.reason.length > 0);
      for (const tg of out.tags) assert.match(tg, DOCKER_TAG);
    });
  }
});
