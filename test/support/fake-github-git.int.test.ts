import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Probot } from "probot";
import { startGitServer, type GitServer, type GitRepo } from "./git-server.js";
import { startFakeGitHub, type FakeGitHub } from "./fake-github/index.js";
import { createAppCredentials } from "./fake-github/app-credentials.js";

const run = promisify(execFile);
const creds = createAppCredentials(77);
let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let api: GitRepo & { id: number };
let web: GitRepo & { id: number };
let work: string;
let base: string;
let head: string;

type Octokit = Awaited<ReturnType<Probot["auth"]>>;
let octokit: Octokit;

async function clone(remote: string, token: string | undefined): Promise<{ ok: boolean; dir: string }> {
  const dir = await mkdtemp(join(work, "clone-"));
  const url = new URL(remote);
  if (token) {
    url.username = "x-access-token";
    url.password = token;
  }
  try {
    await run("git", ["clone", "--quiet", url.toString(), dir], { env: { PATH: process.env.PATH, GIT_TERMINAL_PROMPT: "0", HOME: work } });
    return { ok: true, dir };
  } catch {
    return { ok: false, dir };
  }
}

async function mintToken(body: Record<string, unknown> = {}): Promise<string> {
  const app = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, logLevel: "warn" });
  const appOctokit = await app.auth();
  const res = await appOctokit.request("POST /app/installations/{installation_id}/access_tokens", { installation_id: 3, ...body });
  return res.data.token;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "bkb-fake-gh-"));
  git = await startGitServer();
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(3, "acme");
  api = await fake.createRepo(3, "acme", "api");
  web = await fake.createRepo(3, "acme", "web");
  base = await api.commit({ "Dockerfile": "FROM scratch\n", "README.md": "hello\n", "src/a.txt": "a\n" });
  await web.commit({ "index.html": "<p>web</p>\n" });
  const files: Record<string, string> = { "Dockerfile": "FROM scratch\nCOPY . /\n" };
  for (let i = 0; i < 35; i++) files[`pkg/f${String(i).padStart(2, "0")}.txt`] = `${i}\n`;
  await api.setRef("refs/heads/feature", base);
  head = await api.commit(files, { branch: "feature" });
  await api.setRef("refs/pull/12/head", head);
  fake.setPullRequest("acme", "api", 12, { base, head });
  const app = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, logLevel: "warn" });
  octokit = await app.auth(3);
});

after(async () => {
  await fake.close();
  await git.close();
  await rm(work, { recursive: true, force: true });
});

test("clones work only with a token the fake minted, and stop when it expires", async () => {
  assert.equal((await clone(api.remote, undefined)).ok, false);
  assert.equal((await clone(api.remote, "ghs_000000000000000000000000000000000000")).ok, false);
  const token = await mintToken();
  assert.ok(git.tokens.has(token));
  const cloned = await clone(api.remote, token);
  assert.equal(cloned.ok, true);
  assert.equal(await readFile(join(cloned.dir, "README.md"), "utf8"), "hello\n");
  fake.expireTokens(token);
  assert.equal(git.tokens.has(token), false);
  assert.equal((await clone(api.remote, token)).ok, false);
});

test("a token minted for repository A does not clone repository B", async () => {
  const token = await mintToken({ repositories: ["api"] });
  assert.equal((await clone(api.remote, token)).ok, true);
  const before = git.requests.length;
  assert.equal((await clone(web.remote, token)).ok, false);
  // Refused for its scope (the token itself is valid), the way GitHub hides a repository the token cannot see.
  // (git asks without credentials first and gets the 401 challenge.)
  const refused = git.requests.slice(before).filter((r) => r.path.startsWith("/acme/web.git/") && r.user !== undefined);
  assert.ok(refused.length > 0 && refused.every((r) => r.status === 404), JSON.stringify(refused));
  const byId = await mintToken({ repository_ids: [api.id] });
  assert.equal((await clone(web.remote, byId)).ok, false);
  // The same repository clones with a token for every repository of the installation.
  assert.equal((await clone(web.remote, await mintToken())).ok, true);
});

test("contents: base64 file, raw file, directory listing, 404 when absent", async () => {
  const file = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", { owner: "acme", repo: "api", path: "Dockerfile", ref: base });
  const data = file.data as { type: string; encoding: string; content: string; sha: string };
  assert.equal(data.type, "file");
  assert.equal(Buffer.from(data.content, "base64").toString(), "FROM scratch\n");
  assert.match(data.sha, /^[0-9a-f]{40}$/);
  const atHead = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", { owner: "acme", repo: "api", path: "Dockerfile", ref: "feature", headers: { accept: "application/vnd.github.raw" } });
  assert.equal(Buffer.from(atHead.data as unknown as ArrayBuffer).toString(), "FROM scratch\nCOPY . /\n");
  const dir = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", { owner: "acme", repo: "api", path: "src", ref: base });
  assert.deepEqual((dir.data as Array<{ name: string; type: string }>).map((e) => [e.name, e.type]), [["a.txt", "file"]]);
  const missing = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", { owner: "acme", repo: "api", path: ".buildkit-bot.yml", ref: base }).catch((e: { status: number; response?: { data: unknown } }) => e);
  assert.equal((missing as { status: number }).status, 404);
  assert.equal(((missing as { response: { data: { message: string } } }).response.data).message, "Not Found");
  const badRef = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", { owner: "acme", repo: "api", path: "Dockerfile", ref: "nope" }).catch((e: { status: number }) => e);
  assert.equal((badRef as { status: number }).status, 404);
});

test("compare lists the changed files of base...head", async () => {
  const res = await octokit.request("GET /repos/{owner}/{repo}/compare/{basehead}", { owner: "acme", repo: "api", basehead: `${base}...${head}` });
  const files = res.data.files ?? [];
  assert.equal(files.length, 36);
  assert.deepEqual(files.find((f) => f.filename === "Dockerfile"), { filename: "Dockerfile", status: "modified", additions: 1, deletions: 0, changes: 1 });
  assert.equal(files.find((f) => f.filename === "pkg/f00.txt")?.status, "added");
  assert.equal(res.data.ahead_by, 1);
});

test("pull request files are paginated like GitHub's (30 per page, Link header)", async () => {
  const first = await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}/files", { owner: "acme", repo: "api", pull_number: 12 });
  assert.equal(first.data.length, 30);
  assert.match(String(first.headers.link), /rel="next"/);
  const all = await octokit.paginate("GET /repos/{owner}/{repo}/pulls/{pull_number}/files", { owner: "acme", repo: "api", pull_number: 12, per_page: 10 });
  assert.equal(all.length, 36);
  assert.equal(new Set(all.map((f) => f.filename)).size, 36);
  const pages = fake.calls.filter((c) => c.path === "/repos/acme/api/pulls/12/files" && c.query.per_page === "10");
  assert.equal(pages.length, 4);
});

test("git/ref answers a branch head, 404 for a missing one", async () => {
  const res = await octokit.request("GET /repos/{owner}/{repo}/git/ref/{ref}", { owner: "acme", repo: "api", ref: "heads/feature" });
  assert.deepEqual([res.data.ref, res.data.object.sha, res.data.object.type], ["refs/heads/feature", head, "commit"]);
  const pull = await octokit.request("GET /repos/{owner}/{repo}/git/ref/{ref}", { owner: "acme", repo: "api", ref: "pull/12/head" });
  assert.equal(pull.data.object.sha, head);
  const missing = await octokit.request("GET /repos/{owner}/{repo}/git/ref/{ref}", { owner: "acme", repo: "api", ref: "heads/nope" }).catch((e: { status: number }) => e);
  assert.equal((missing as { status: number }).status, 404);
});
