import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Probot, ProbotOctokit } from "probot";
import { ConfigError, REPO_CONFIG_PATH } from "../../src/config/config-error.js";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import { readRepoFile, readRepoFileEntry } from "../../src/github/repo-reader.js";
import type { GitHubClient } from "../../src/github/repo-reader.js";
import { interpretConfigSource, readConfigSource } from "../../src/planner/load-repo-config.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";
import { CONTENTS_INLINE_BYTES, startFakeGitHub } from "../support/fake-github/index.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";

/**
 * Files over the 1 MB the contents API inlines, against the fake GitHub (which answers them as GitHub does:
 * `"encoding": "none"`, no content, the real size): the planner never downloads such a config file or Dockerfile.
 */
const creds = createAppCredentials(7301);
let git: GitServer;
let fake: FakeGitHub<GitRepo>;
let octokit: GitHubClient;

const MB = 1024 * 1024;
const bigYaml = (bytes: number): string => `images:\n  - name: api\n# ${"x".repeat(bytes - 30)}\n`;

before(async () => {
  git = await startGitServer();
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, gitServer: git });
  fake.addInstallation(41, "acme");
  const probot = new Probot({
    appId: creds.appId,
    privateKey: creds.privateKeyPem,
    baseUrl: fake.url,
    logLevel: "warn",
    Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
  });
  octokit = await probot.auth(41);
});

after(async () => {
  await fake.close();
  await git.close();
});

test("the fake GitHub leaves out the content of a file over 1 MB and gives its size, as GitHub does", async () => {
  const repo = await fake.createRepo(41, "acme", "sizes");
  const text = bigYaml(CONTENTS_INLINE_BYTES + 10);
  const sha = await repo.commit({ "big.yml": text, "small.yml": "images: []\n" });
  const res = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", { owner: "acme", repo: "sizes", path: "big.yml", ref: sha });
  const data = res.data as { encoding?: string; content?: string; size?: number };
  assert.deepEqual([data.encoding, data.content, data.size], ["none", "", Buffer.byteLength(text)]);
  const at = { owner: "acme", repo: "sizes", ref: sha };
  assert.deepEqual(await readRepoFileEntry(octokit, { ...at, path: "big.yml" }), { kind: "too-large", bytes: Buffer.byteLength(text) });
  assert.deepEqual(await readRepoFileEntry(octokit, { ...at, path: "small.yml" }), { kind: "text", text: "images: []\n" });
  // Whoever needs the whole text (the build's Dockerfile) gets it through the raw media type.
  assert.equal(await readRepoFile(octokit, { ...at, path: "big.yml" }), text);
});

test("a 5 MB config file fails the config check on line 1 with the file-size limit's message, unread", async () => {
  const repo = await fake.createRepo(41, "acme", "huge-config");
  const text = bigYaml(5 * MB);
  const sha = await repo.commit({ Dockerfile: "FROM scratch\n", [REPO_CONFIG_PATH]: text });
  const source = await readConfigSource(octokit, { owner: "acme", repo: "huge-config", ref: sha });
  assert.deepEqual(source, { kind: "too-large", bytes: Buffer.byteLength(text) });
  const loaded = interpretConfigSource(source, "huge-config", DEFAULT_CONFIG_LIMITS);
  assert.equal(loaded.kind, "invalid");
  const error = loaded.kind === "invalid" ? loaded.error : undefined;
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(error.issues, [
    {
      path: REPO_CONFIG_PATH,
      line: 1,
      column: 1,
      message: `the file is ${Buffer.byteLength(text)} bytes, over the limit of ${DEFAULT_CONFIG_LIMITS.fileBytes} bytes`,
    },
  ]);
  // The same words as a file under 1 MB that is over the limit, which is parsed as before.
  const inline = interpretConfigSource({ kind: "file", text: bigYaml(70_000) }, "huge-config", DEFAULT_CONFIG_LIMITS);
  assert.match(inline.kind === "invalid" ? inline.error.issues[0]!.message : "", /^the file is 69995 bytes, over the limit of 65536 bytes$/);
});

test("a root Dockerfile over 1 MB counts as existing: the repository is built with defaults", async () => {
  const repo = await fake.createRepo(41, "acme", "huge-dockerfile");
  const sha = await repo.commit({ Dockerfile: `FROM scratch\n# ${"y".repeat(2 * MB)}\n` });
  const source = await readConfigSource(octokit, { owner: "acme", repo: "huge-dockerfile", ref: sha });
  assert.deepEqual(source, { kind: "root-dockerfile" });
  assert.equal(interpretConfigSource(source, "huge-dockerfile").kind, "config");
});
