import { test } from "node:test";
import assert from "node:assert/strict";
import { rootDockerfileConfig } from "../../src/config/default-repo-config.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import type { RepoConfig } from "../../src/config/repo-config.js";
import { planImages } from "../../src/planner/plan.js";
import type { ImageDecision, PlanInput } from "../../src/planner/plan.js";
import type { PlanTarget } from "../../src/planner/plan-target.js";

const SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const PREFIX = "127.0.0.1:5000";
/** Owner-scoped: `<prefix>/<owner>/<repo>`, lowercased. */
const REPO = `${PREFIX}/acme/shop`;

function input(target: PlanTarget, config: RepoConfig, extra: Partial<PlanInput> = {}): PlanInput {
  return {
    target,
    sha: SHA,
    owner: "Acme",
    repoName: "Shop",
    defaultBranch: "main",
    config,
    registryPrefix: PREFIX,
    latestAllowed: true,
    ...extra,
  };
}

function build(decisions: ImageDecision[], name?: string): Extract<ImageDecision, { kind: "build" }> {
  const d = name ? decisions.find((x) => x.name === name) : decisions[0];
  assert.ok(d, `no decision for ${name ?? "the first image"}`);
  assert.equal(d.kind, "build", d.kind === "skip" ? d.reason : "");
  return d as Extract<ImageDecision, { kind: "build" }>;
}

const one = rootDockerfileConfig("Shop");
const branch = (name: string, pr?: { number: number; baseRef: string }): PlanTarget =>
  pr ? { kind: "branch", branch: name, pullRequest: pr } : { kind: "branch", branch: name };
const tag = (name: string): PlanTarget => ({ kind: "tag", tag: name });
const pull = (n: number, fork = false, baseRef = "main"): PlanTarget => ({ kind: "pull_request", number: n, baseRef, fork });

const cfg = (yaml: string): RepoConfig => parseRepoConfig(yaml);

test("push, tag and PR decisions with the default policy", async (t) => {
  const cases: Array<{
    name: string;
    target: PlanTarget;
    config?: RepoConfig;
    extra?: Partial<PlanInput>;
    tags: string[];
    push: boolean;
    imports: string[];
    export?: string;
  }> = [
    {
      name: "default branch: pushed, latest added, cache per branch",
      target: branch("main"),
      tags: [`${REPO}:main`, `${REPO}:sha-a1b2c3d`, `${REPO}:latest`],
      push: true,
      imports: [`${REPO}:buildcache-main`],
      export: `${REPO}:buildcache-main`,
    },
    {
      name: "feature branch: not pushed, cache falls back to the default branch",
      target: branch("feature/Cart UI"),
      tags: [`${REPO}:feature-cart-ui`, `${REPO}:sha-a1b2c3d`],
      push: false,
      imports: [`${REPO}:buildcache-feature-cart-ui`, `${REPO}:buildcache-main`],
      export: `${REPO}:buildcache-feature-cart-ui`,
    },
    {
      name: "default branch without latest allowed (merged plan from a PR event)",
      target: branch("main"),
      extra: { latestAllowed: false },
      tags: [`${REPO}:main`, `${REPO}:sha-a1b2c3d`],
      push: true,
      imports: [`${REPO}:buildcache-main`],
      export: `${REPO}:buildcache-main`,
    },
    {
      name: "semver tag: pushed with aliases, cache import only",
      target: tag("v1.4.2"),
      tags: [`${REPO}:v1.4.2`, `${REPO}:1.4`, `${REPO}:1`],
      push: true,
      imports: [`${REPO}:buildcache-main`],
    },
    {
      name: "pre-release tag: no aliases",
      target: tag("v2.0.0-beta.1"),
      tags: [`${REPO}:v2.0.0-beta.1`],
      push: true,
      imports: [`${REPO}:buildcache-main`],
    },
    {
      name: "same-repo PR: not pushed by default, cache PR → base → default",
      target: pull(12, false, "develop"),
      tags: [`${REPO}:pr-12`],
      push: false,
      imports: [`${REPO}:buildcache-pr-12`, `${REPO}:buildcache-develop`, `${REPO}:buildcache-main`],
      export: `${REPO}:buildcache-pr-12`,
    },
    {
      name: "fork PR: never pushed, cache import only",
      target: pull(13, true),
      config: cfg("images:\n  - name: shop\n    push: { pull_requests: true }\n"),
      tags: [`${REPO}:pr-13`],
      push: false,
      imports: [`${REPO}:buildcache-pr-13`, `${REPO}:buildcache-main`],
    },
    {
      name: "same-repo PR with pull_requests: true is pushed",
      target: pull(14),
      config: cfg("images:\n  - name: shop\n    push: { pull_requests: true }\n"),
      tags: [`${REPO}:pr-14`],
      push: true,
      imports: [`${REPO}:buildcache-pr-14`, `${REPO}:buildcache-main`],
      export: `${REPO}:buildcache-pr-14`,
    },
    {
      name: "configured branch globs push release branches, without latest",
      target: branch("release/2.1"),
      config: cfg("images:\n  - name: shop\n    push: { branches: [main, 'release/*'] }\n"),
      tags: [`${REPO}:release-2.1`, `${REPO}:sha-a1b2c3d`],
      push: true,
      imports: [`${REPO}:buildcache-release-2.1`, `${REPO}:buildcache-main`],
      export: `${REPO}:buildcache-release-2.1`,
    },
    {
      name: "push.branches without the default branch: main is not pushed and gets no latest",
      target: branch("main"),
      config: cfg("images:\n  - name: shop\n    push: { branches: ['release/*'] }\n"),
      tags: [`${REPO}:main`, `${REPO}:sha-a1b2c3d`],
      push: false,
      imports: [`${REPO}:buildcache-main`],
      export: `${REPO}:buildcache-main`,
    },
    {
      name: "push.tags limits which tags push",
      target: tag("nightly"),
      config: cfg("images:\n  - name: shop\n    push: { tags: ['v*'] }\n"),
      tags: [`${REPO}:nightly`],
      push: false,
      imports: [`${REPO}:buildcache-main`],
    },
    {
      name: "fixed cache ref: same ref imported and exported",
      target: branch("dev"),
      config: cfg("images:\n  - name: shop\n    cache: { ref: 'reg.example/cache:shared' }\n"),
      tags: [`${REPO}:dev`, `${REPO}:sha-a1b2c3d`],
      push: false,
      imports: ["reg.example/cache:shared"],
      export: "reg.example/cache:shared",
    },
    {
      name: "cache repository: per-branch tags in it",
      target: branch("dev"),
      config: cfg("images:\n  - name: shop\n    cache: { ref: 'reg.example/cache/shop' }\n"),
      tags: [`${REPO}:dev`, `${REPO}:sha-a1b2c3d`],
      push: false,
      imports: ["reg.example/cache/shop:buildcache-dev", "reg.example/cache/shop:buildcache-main"],
      export: "reg.example/cache/shop:buildcache-dev",
    },
    {
      name: "cache off",
      target: branch("main"),
      config: cfg("images:\n  - name: shop\n    cache: false\n"),
      tags: [`${REPO}:main`, `${REPO}:sha-a1b2c3d`, `${REPO}:latest`],
      push: true,
      imports: [],
    },
    {
      name: "rebuild without cache: nothing imported, cache still refreshed",
      target: branch("main"),
      extra: { noCache: true },
      tags: [`${REPO}:main`, `${REPO}:sha-a1b2c3d`, `${REPO}:latest`],
      push: true,
      imports: [],
      export: `${REPO}:buildcache-main`,
    },
    {
      name: "rebuild of a commit the branch moved past: only commit tags, no latest",
      target: branch("main"),
      extra: { refIsCurrent: false, latestAllowed: false },
      tags: [`${REPO}:sha-a1b2c3d`],
      push: true,
      imports: [`${REPO}:buildcache-main`],
      export: `${REPO}:buildcache-main`,
    },
    {
      name: "merged plan (push + PR), PR pushes off: the branch plan",
      target: branch("feature/x", { number: 5, baseRef: "develop" }),
      tags: [`${REPO}:feature-x`, `${REPO}:sha-a1b2c3d`],
      push: false,
      imports: [`${REPO}:buildcache-feature-x`, `${REPO}:buildcache-develop`, `${REPO}:buildcache-main`],
      export: `${REPO}:buildcache-feature-x`,
    },
    {
      name: "merged plan, PR pushes on, branch not pushed: only the PR tags are pushed",
      target: branch("feature/x", { number: 5, baseRef: "main" }),
      config: cfg("images:\n  - name: shop\n    push: { pull_requests: true }\n"),
      tags: [`${REPO}:pr-5`],
      push: true,
      imports: [`${REPO}:buildcache-feature-x`, `${REPO}:buildcache-main`],
      export: `${REPO}:buildcache-feature-x`,
    },
    {
      name: "merged plan, branch and PR pushed: both tag sets, no latest",
      target: branch("main", { number: 6, baseRef: "release" }),
      config: cfg("images:\n  - name: shop\n    push: { pull_requests: true }\n"),
      tags: [`${REPO}:main`, `${REPO}:sha-a1b2c3d`, `${REPO}:pr-6`],
      push: true,
      imports: [`${REPO}:buildcache-main`, `${REPO}:buildcache-release`],
      export: `${REPO}:buildcache-main`,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const d = build(planImages(input(c.target, c.config ?? one, c.extra)));
      assert.deepEqual(d.plan.tags, c.tags);
      assert.equal(d.plan.push, c.push);
      assert.deepEqual(d.plan.cache.imports, c.imports);
      assert.equal(d.plan.cache.export, c.export);
    });
  }
});

test("path filters decide per image; unknown changes build everything", async (t) => {
  const config = cfg(`images:
  - name: api
    context: api
    paths: ["api/**", "libs/**", "!**/*.md"]
  - name: web
    context: web
    paths: ["web/**"]
  - name: tools
`);
  const cases: Array<{ name: string; files?: string[]; built: string[]; skipped: string[] }> = [
    { name: "only api changed", files: ["api/main.go"], built: ["api", "tools"], skipped: ["web"] },
    { name: "shared lib changes build api", files: ["libs/x/y.go"], built: ["api", "tools"], skipped: ["web"] },
    { name: "a markdown file in api is excluded", files: ["api/README.md"], built: ["tools"], skipped: ["api", "web"] },
    { name: "both", files: ["api/a.go", "web/index.html"], built: ["api", "web", "tools"], skipped: [] },
    { name: "no changed files at all", files: [], built: ["tools"], skipped: ["api", "web"] },
    { name: "changed files unknown (new branch, force-push)", built: ["api", "web", "tools"], skipped: [] },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const decisions = planImages(input(branch("main"), config, c.files ? { changedFiles: c.files } : {}));
      assert.deepEqual(decisions.filter((d) => d.kind === "build").map((d) => d.name), c.built);
      assert.deepEqual(decisions.filter((d) => d.kind === "skip").map((d) => d.name), c.skipped);
      for (const d of decisions) if (d.kind === "skip") assert.match(d.reason, /none of the \d+ changed file\(s\) matches/);
    });
  }
  await t.test("matched files are reported", () => {
    const d = build(planImages(input(branch("main"), config, { changedFiles: ["api/a.go", "api/b.md", "docs/x"] })), "api");
    assert.deepEqual(d.matchedFiles, ["api/a.go"]);
  });
});

test("image fields and repositories", () => {
  const config = cfg(`images:
  - name: api
    context: services/api
    target: prod
    platforms: [linux/amd64, linux/arm64]
    build_args: { VERSION: 3 }
  - name: web
    repository: ghcr.io/acme/website
`);
  const decisions = planImages(input(branch("dev"), config));
  const api = build(decisions, "api");
  assert.deepEqual(api.plan, {
    name: "api",
    context: "services/api",
    dockerfile: "services/api/Dockerfile",
    target: "prod",
    platforms: ["linux/amd64", "linux/arm64"],
    buildArgs: { VERSION: "3" },
    tags: [`${REPO}/api:dev`, `${REPO}/api:sha-a1b2c3d`],
    push: false,
    cache: { imports: [`${REPO}/api:buildcache-dev`, `${REPO}/api:buildcache-main`], export: `${REPO}/api:buildcache-dev` },
  });
  assert.deepEqual(build(decisions, "web").plan.tags, ["ghcr.io/acme/website:dev", "ghcr.io/acme/website:sha-a1b2c3d"]);
});

test("a single image without config is named after the repository", () => {
  const d = build(planImages(input(branch("main"), one, { registryPrefix: `${PREFIX}/` })));
  assert.equal(d.name, "shop");
  assert.equal(d.plan.dockerfile, "Dockerfile");
  assert.equal(d.plan.context, "");
  assert.equal(d.plan.tags[0], `${REPO}:main`);
});

test("an owner-scoped path over the registry's length limit skips the image, saying how to fix it", () => {
  const config = cfg(`images:\n  - name: ${"i".repeat(64)}\n  - name: short\n`);
  const decisions = planImages(input(branch("main"), config, { owner: "o".repeat(39), repoName: "r".repeat(100), registryPrefix: `registry.example.com/${"p".repeat(60)}` }));
  const long = decisions.find((d) => d.name === "i".repeat(64));
  assert.equal(long?.kind, "skip");
  assert.match(long?.kind === "skip" ? long.reason : "", /is 287 characters, over the registry's limit of 255; set a shorter `repository:`/);
  assert.equal(build(decisions, "short").plan.tags[0], `registry.example.com/${"p".repeat(60)}/${"o".repeat(39)}/${"r".repeat(100)}/short:main`);
});

test("a rebuild of one image plans only that image, or explains that it is gone", () => {
  const config = cfg("images:\n  - name: api\n  - name: web\n");
  const only = planImages(input(branch("main"), config, { onlyImage: "web" }));
  assert.deepEqual(only.map((d) => d.name), ["web"]);
  const gone = planImages(input(branch("main"), config, { onlyImage: "worker" }));
  assert.equal(gone.length, 1);
  assert.equal(gone[0]?.kind, "skip");
  assert.match(gone[0]?.kind === "skip" ? gone[0].reason : "", /no longer in the repository's config/);
});

test("dropped tags are explained", () => {
  const config = cfg("images:\n  - name: shop\n    tags: ['latest', '{{branch}}']\n");
  const d = build(planImages(input(branch("dev"), config)));
  assert.deepEqual(d.plan.tags, [`${REPO}:dev`]);
  assert.deepEqual(d.droppedTags.map((x) => x.template), ["latest"]);
  assert.match(d.droppedTags[0]?.reason ?? "", /default branch/);
});
