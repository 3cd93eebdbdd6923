import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GitServer } from "../support/git-server.js";
import { startGitServer } from "../support/git-server.js";
import type { TestDaemon } from "../support/daemons.js";
import { testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";

const stack = testStack();
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const tsx = import.meta.resolve("tsx");

/** `npx tsx examples/NAME.ts ARGS` as a user runs it, from the repository root, against BUILDKIT_HOST (the daemon). */
function example(
  daemon: TestDaemon,
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", tsx, join("examples", `${name}.ts`), ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, BUILDKIT_HOST: daemon.address, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
  });
}

for (const daemon of testDaemons()) describe(`the README's examples run on ${daemon.name}`, { skip: daemon.skip, timeout: 600_000 }, () => {
  let work: string;
  let git: GitServer;
  const token = `ghs_${randomBytes(16).toString("hex")}`;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "bkb-examples-"));
    git = await startGitServer({ tokens: [token] });
  });
  after(async () => {
    await git?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("health.ts names the daemon; an unreachable BUILDKIT_HOST exits 3", { timeout: 120_000 }, async () => {
    const ok = await example(daemon, "health", []);
    assert.equal(ok.code, 0, ok.stderr);
    if (daemon.kind === "docker-engine") assert.match(ok.stdout, /^docker-engine at docker-engine:\/\/.* \(Docker Engine \d+\.\d+/m);
    else assert.ok(ok.stdout.startsWith(`buildkitd at ${daemon.address} (BuildKit v`), ok.stdout);
    assert.match(ok.stdout, /worker \S+: linux\/amd64/);
    const down = await example(daemon, "health", [], { BUILDKIT_HOST: `unix://${join(work, "nothing.sock")}` });
    assert.equal(down.code, 3);
    assert.match(down.stderr, /nothing\.sock/);
  });

  test("build-local.ts exports examples/hello without what its .dockerignore leaves out", { timeout: 180_000 }, async () => {
    const out = join(work, "hello-out");
    const result = await example(daemon, "build-local", ["examples/hello", out]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^exported to .*hello-out: \d+ steps/m);
    assert.match(result.stderr, /COPY greeting\.txt/);
    assert.equal(await readFile(join(out, "greeting.txt"), "utf8"), "hello from a local context\n");
    assert.deepEqual(await readdir(join(out, "notes")), ["kept.md"]);
  });

  test("build-github.ts clones with the token, pushes, and prints the registry's digest", { timeout: 300_000 }, async () => {
    const name = `example-${randomBytes(4).toString("hex")}`;
    const repo = await git.createRepo("acme", name);
    const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${randomBytes(4).toString("hex")} > /built\n` }, { branch: "main" });
    const repository = `bkb-test/example-github-${randomBytes(4).toString("hex")}`;
    const image = `${stack.registry}/${repository}:main`;
    const result = await example(daemon, "build-github", [`${git.url}/acme/${name}`, sha, image], { GITHUB_TOKEN: token });
    assert.equal(result.code, 0, result.stderr);
    const printed = JSON.parse(result.stdout) as { digest: string; names: string[] };
    assert.deepEqual(printed.names, [image]);
    const res = await fetch(`http://${stack.registry}/v2/${repository}/manifests/main`, {
      method: "HEAD",
      headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json" },
    });
    assert.equal(res.headers.get("docker-content-digest"), printed.digest);
    for (const line of result.stderr.split("\n").filter(Boolean)) JSON.parse(line);
    assert.ok(!result.stderr.includes(token) && !result.stdout.includes(token));
    assert.ok(git.requests.some((r) => r.user === "x-access-token" && r.status === 200));
  });
});
