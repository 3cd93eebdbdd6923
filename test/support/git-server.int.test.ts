import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { GIT_USER, startGitServer } from "./git-server.js";
import type { GitRepo, GitServer } from "./git-server.js";

const execFileAsync = promisify(execFile);
const TOKEN = "ghs_testtoken0123456789";

function authHeader(user: string, password: string, scheme = "basic"): string {
  return `Authorization: ${scheme} ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** Runs the git CLI with no global/system config and no prompts; the token travels in an extra header only. */
async function git(args: string[], opts: { header?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const config = opts.header ? ["-c", `http.extraHeader=${opts.header}`] : [];
  return execFileAsync("git", [...config, ...args], {
    cwd: opts.cwd,
    env: {
      PATH: process.env.PATH,
      HOME: tmpdir(),
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_TERMINAL_PROMPT: "0",
      GIT_ASKPASS: "/bin/false",
      ...opts.env,
    },
  });
}

function parseLsRemote(stdout: string): Map<string, string> {
  return new Map(stdout.trim().split("\n").map((line) => {
    const [sha = "", ref = ""] = line.split("\t");
    return [ref, sha];
  }));
}

describe("startGitServer", { timeout: 120_000 }, () => {
  let server: GitServer;
  let repo: GitRepo;
  let work: string;
  const shas = { first: "", main: "", x: "" };

  before(async () => {
    server = await startGitServer({ tokens: [TOKEN] });
    work = await mkdtemp(join(tmpdir(), "bkb-git-it-"));
    repo = await server.createRepo("octo-org", "hello-app");
    shas.first = await repo.commit({ Dockerfile: "FROM scratch\n", "src/a.txt": "a1\n" }, { message: "first" });
    shas.main = await repo.commit({ "src/a.txt": "a2\n", "b.txt": "b\n" });
    shas.x = await repo.commit({ "x.txt": "on x\n" }, { branch: "x" });
    await repo.setRef("refs/tags/v1", shas.first);
    await repo.setRef("refs/pull/1/head", shas.x);
  });

  after(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  it("serves the published refs to the right token", async () => {
    assert.equal(repo.remote, `${server.url}/octo-org/hello-app.git`);
    assert.equal(server.url, `http://${server.host}`);
    const { stdout } = await git(["ls-remote", repo.remote], { header: authHeader(GIT_USER, TOKEN) });
    const refs = parseLsRemote(stdout);
    assert.equal(refs.get("refs/heads/main"), shas.main);
    assert.equal(refs.get("refs/heads/x"), shas.x);
    assert.equal(refs.get("refs/tags/v1"), shas.first);
    assert.equal(refs.get("refs/pull/1/head"), shas.x);
    // x was the last branch committed to, so HEAD follows it.
    assert.equal(refs.get("HEAD"), shas.x);
  });

  it("clones with the token in an extra header, building commits on the branch's head", async () => {
    const dir = join(work, "clone");
    await git(["clone", "--quiet", "--branch", "main", repo.remote, dir], { header: authHeader(GIT_USER, TOKEN) });
    assert.equal((await git(["rev-parse", "HEAD"], { cwd: dir })).stdout.trim(), shas.main);
    assert.equal((await git(["rev-parse", "HEAD^"], { cwd: dir })).stdout.trim(), shas.first);
    assert.equal(await readFile(join(dir, "Dockerfile"), "utf8"), "FROM scratch\n");
    assert.equal(await readFile(join(dir, "src/a.txt"), "utf8"), "a2\n");
    assert.equal(await readFile(join(dir, "b.txt"), "utf8"), "b\n");
    assert.equal((await git(["log", "-1", "--format=%an <%ae>|%s", shas.first], { cwd: dir })).stdout.trim().split("|")[1], "first");
    // Fetching a commit by sha (what BuildKit does for a pinned revision) works.
    await git(["fetch", "--quiet", "origin", shas.x], { cwd: dir, header: authHeader(GIT_USER, TOKEN, "Basic") });
    assert.equal((await git(["cat-file", "-t", shas.x], { cwd: dir })).stdout.trim(), "commit");
  });

  it("refuses a wrong token, a wrong user and no token with 401, and records requests without the token", async () => {
    const before = server.requests.length;
    await assert.rejects(git(["ls-remote", repo.remote], { header: authHeader(GIT_USER, "ghs_wrong") }));
    await assert.rejects(git(["ls-remote", repo.remote], { header: authHeader("someone", TOKEN) }));
    await assert.rejects(git(["ls-remote", repo.remote]));
    const refused = server.requests.slice(before);
    assert.ok(refused.length >= 3);
    assert.ok(refused.every((r) => r.status === 401 && r.method === "GET" && r.path === "/octo-org/hello-app.git/info/refs"));
    assert.deepEqual(refused.map((r) => r.user), [GIT_USER, "someone", undefined]);

    const res = await fetch(`${repo.remote}/info/refs?service=git-upload-pack`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Basic realm="/);

    const recorded = JSON.stringify(server.requests);
    assert.ok(server.requests.some((r) => r.status === 200 && r.user === GIT_USER));
    assert.ok(!recorded.includes(TOKEN) && !recorded.includes(Buffer.from(`${GIT_USER}:${TOKEN}`).toString("base64")));
  });

  it("stops accepting a token removed from the set", async () => {
    const other = "ghs_rotating";
    server.tokens.add(other);
    await git(["ls-remote", repo.remote], { header: authHeader(GIT_USER, other) });
    server.tokens.delete(other);
    await assert.rejects(git(["ls-remote", repo.remote], { header: authHeader(GIT_USER, other) }));
  });

  it("limits a token with a repository scope to the repositories in it (404 elsewhere)", async () => {
    const other = await server.createRepo("octo-org", "other-app");
    await other.commit({ "README.md": "other\n" });
    const scoped = "ghs_scoped_to_hello_app";
    server.tokens.add(scoped);
    server.tokenRepos.set(scoped, new Set(["octo-org/hello-app"]));
    try {
      await git(["ls-remote", repo.remote], { header: authHeader(GIT_USER, scoped) });
      await assert.rejects(git(["ls-remote", other.remote], { header: authHeader(GIT_USER, scoped) }), /not found/i);
      assert.equal(server.requests.at(-1)?.status, 404);
      // Unscoped tokens still reach every repository.
      await git(["ls-remote", other.remote], { header: authHeader(GIT_USER, TOKEN) });
    } finally {
      server.tokens.delete(scoped);
      server.tokenRepos.delete(scoped);
    }
  });

  it("serves a public repository without credentials, but still checks credentials that are sent", async () => {
    const open = await server.createRepo("octo-org", "open-source");
    const sha = await open.commit({ "README.md": "public\n" });
    server.publicRepos.add("octo-org/open-source");
    try {
      const { stdout } = await git(["ls-remote", open.remote]);
      assert.equal(parseLsRemote(stdout).get("refs/heads/main"), sha);
      assert.equal(server.requests.at(-1)?.user, undefined);
      await assert.rejects(git(["ls-remote", open.remote], { header: authHeader(GIT_USER, "ghs_wrong") }));
      // Other repositories still need a token.
      await assert.rejects(git(["ls-remote", repo.remote]));
    } finally {
      server.publicRepos.delete("octo-org/open-source");
    }
    await assert.rejects(git(["ls-remote", open.remote]));
  });

  it("refuses pushes", async () => {
    const dir = join(work, "push-clone");
    await git(["clone", "--quiet", repo.remote, dir], { header: authHeader(GIT_USER, TOKEN) });
    await git(["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "--allow-empty", "-m", "push me"], { cwd: dir });
    await assert.rejects(git(["push", "origin", "HEAD:refs/heads/pushed"], { cwd: dir, header: authHeader(GIT_USER, TOKEN) }));
    const { stdout } = await git(["ls-remote", repo.remote], { header: authHeader(GIT_USER, TOKEN) });
    assert.equal(parseLsRemote(stdout).has("refs/heads/pushed"), false);
  });

  it("handles gzip-encoded request bodies (large want lists)", async () => {
    const many = await server.createRepo("octo-org", "many-branches");
    // Each "want" line is ~50 bytes; git gzips upload-pack bodies over 1 KiB.
    for (let i = 0; i < 30; i++) {
      const sha = await many.commit({ "n.txt": `${i}\n` });
      await many.setRef(`refs/heads/b${String(i).padStart(2, "0")}`, sha);
    }
    const dir = join(work, "many");
    const { stderr } = await git(["clone", "--quiet", "--no-checkout", many.remote, dir], {
      header: authHeader(GIT_USER, TOKEN),
      env: { GIT_TRACE_CURL: "1", GIT_TRACE_CURL_NO_DATA: "1" },
    });
    assert.match(stderr, /Content-Encoding: gzip/i, "git sent a gzip body");
    const branches = (await git(["branch", "-r"], { cwd: dir })).stdout.trim().split("\n");
    assert.ok(branches.filter((b) => /origin\/b\d\d$/.test(b.trim())).length === 30);
  });
});
