import { after, afterEach, test } from "node:test";
import assert from "node:assert/strict";
import nock from "nock";
import {
  listPullRequestFiles,
  listPushChangedFiles,
  readBranchHead,
  readRepoFile,
  RepoReadError,
} from "../../src/github/repo-reader.js";
import { API, contentsBody, nockGitHub, testOctokit } from "../planner/github-nock.js";

const gh = nockGitHub();
afterEach(() => gh.assertAllUsed());
after(() => gh.restore());
const octokit = testOctokit();
const at = { owner: "acme", repo: "shop" };
const SHA = "a".repeat(40);
const BEFORE = "b".repeat(40);

test("readRepoFile decodes the file at the ref", async () => {
  nock(API)
    .get("/repos/acme/shop/contents/.github%2Fbuildkit-bot.yml")
    .query({ ref: SHA })
    .reply(200, contentsBody(".github/buildkit-bot.yml", "images:\n  - name: ü\n"));
  assert.equal(await readRepoFile(octokit, { ...at, path: ".github/buildkit-bot.yml", ref: SHA }), "images:\n  - name: ü\n");
});

test("readRepoFile: 404 is undefined, a directory is undefined", async () => {
  nock(API).get("/repos/acme/shop/contents/Dockerfile").query({ ref: SHA }).reply(404, { message: "Not Found" });
  nock(API).get("/repos/acme/shop/contents/docs").query({ ref: SHA }).reply(200, [{ type: "file", name: "a" }]);
  assert.equal(await readRepoFile(octokit, { ...at, path: "Dockerfile", ref: SHA }), undefined);
  assert.equal(await readRepoFile(octokit, { ...at, path: "docs", ref: SHA }), undefined);
});

test("readRepoFile: other failures are RepoReadErrors with the status and no token", async () => {
  nock(API).get("/repos/acme/shop/contents/Dockerfile").query({ ref: SHA }).reply(502, { message: "Bad gateway" });
  const err = await readRepoFile(octokit, { ...at, path: "Dockerfile", ref: SHA }).catch((e: unknown) => e);
  assert.ok(err instanceof RepoReadError);
  assert.equal(err.status, 502);
  assert.match(err.message, /HTTP 502/);
  assert.doesNotMatch(err.message, /ghs_/);
});

test("push changed files come from the compare API, renames count twice", async () => {
  nock(API)
    .get(`/repos/acme/shop/compare/${BEFORE}...${SHA}`)
    .reply(200, {
      status: "ahead",
      files: [{ filename: "api/a.go" }, { filename: "web/new.ts", previous_filename: "api/old.ts", status: "renamed" }],
    });
  assert.deepEqual(await listPushChangedFiles(octokit, { ...at, before: BEFORE, after: SHA }), ["api/a.go", "web/new.ts", "api/old.ts"]);
});

test("push changed files are unknown for a new branch, a vanished base, or a 300-file diff", async () => {
  assert.equal(await listPushChangedFiles(octokit, { ...at, before: "0".repeat(40), after: SHA }), undefined);
  assert.equal(await listPushChangedFiles(octokit, { ...at, before: undefined, after: SHA }), undefined);
  nock(API).get(`/repos/acme/shop/compare/${BEFORE}...${SHA}`).reply(404, { message: "Not Found" });
  assert.equal(await listPushChangedFiles(octokit, { ...at, before: BEFORE, after: SHA }), undefined);
  const many = Array.from({ length: 300 }, (_, i) => ({ filename: `f${i}` }));
  nock(API).get(`/repos/acme/shop/compare/${BEFORE}...${SHA}`).reply(200, { status: "ahead", files: many });
  assert.equal(await listPushChangedFiles(octokit, { ...at, before: BEFORE, after: SHA }), undefined);
});

test("a force-push (diverged or behind) builds everything", async () => {
  for (const status of ["diverged", "behind"]) {
    nock(API)
      .get(`/repos/acme/shop/compare/${BEFORE}...${SHA}`)
      .reply(200, { status, files: [{ filename: "a" }] });
    assert.equal(await listPushChangedFiles(octokit, { ...at, before: BEFORE, after: SHA }), undefined, status);
  }
});

test("pull request files are read page by page", async () => {
  const page1 = Array.from({ length: 100 }, (_, i) => ({ filename: `src/f${i}.ts` }));
  nock(API)
    .get("/repos/acme/shop/pulls/9/files")
    .query({ per_page: 100, page: 1 })
    .reply(200, page1, { link: `<${API}/repositories/1/pulls/9/files?per_page=100&page=2>; rel="next"` });
  nock(API)
    .get("/repos/acme/shop/pulls/9/files")
    .query({ per_page: 100, page: 2 })
    .reply(200, [{ filename: "docs/readme.md" }]);
  const files = await listPullRequestFiles(octokit, { ...at, pullNumber: 9 });
  assert.equal(files?.length, 101);
  assert.equal(files?.at(-1), "docs/readme.md");
});

test("a full last page without a next link ends the listing", async () => {
  const page = Array.from({ length: 100 }, (_, i) => ({ filename: `f${i}` }));
  nock(API).get("/repos/acme/shop/pulls/3/files").query({ per_page: 100, page: 1 }).reply(200, page);
  assert.equal((await listPullRequestFiles(octokit, { ...at, pullNumber: 3 }))?.length, 100);
});

test("branch head", async () => {
  nock(API).get("/repos/acme/shop/git/ref/heads%2Fmain").reply(200, { ref: "refs/heads/main", object: { sha: SHA, type: "commit" } });
  nock(API).get("/repos/acme/shop/git/ref/heads%2Fgone").reply(404, { message: "Not Found" });
  assert.equal(await readBranchHead(octokit, { ...at, branch: "main" }), SHA);
  assert.equal(await readBranchHead(octokit, { ...at, branch: "gone" }), undefined);
});
