import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "../../src/cli/exit-codes.js";
import { runCli } from "../../src/cli/main.js";
import { startGitServer } from "../support/git-server.js";
import { testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { capture } from "./cli-io.js";

const stack = testStack();

for (const daemon of testDaemons()) describe(`buildkit-bot CLI on ${daemon.name}`, { skip: daemon.skip }, () => {
  let work: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "bkb-cli-int-"));
    await mkdir(join(work, "dockercfg"));
    env = { BUILDKIT_HOST: daemon.address, DOCKER_CONFIG: join(work, "dockercfg") };
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function cli(argv: string[]) {
    const stdout = capture();
    const stderr = capture();
    const code = await runCli(argv, { stdout: stdout.stream, stderr: stderr.stream, env, cwd: work });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  }

  test("health --json", { timeout: 60_000 }, async () => {
    const result = await cli(["health", "--json"]);
    assert.equal(result.code, ExitCode.Ok, result.stderr);
    const health = JSON.parse(result.stdout) as { ok: boolean; daemon: string; address: string; workers: unknown[]; version?: Record<string, string> };
    assert.equal(health.ok, true);
    assert.equal(health.daemon, daemon.kind);
    if (daemon.kind === "docker-engine") {
      assert.equal(health.workers.length, 1, "the Engine has its one moby worker");
      assert.match(health.version?.engine ?? "", /^20\.10\./);
    } else {
      assert.ok(health.workers.length >= 1);
      assert.match(health.version?.buildkit ?? "", /^v?\d+\.\d+\.\d+/);
    }
  });

  test("build local --output type=local --json, with json progress on stderr", { timeout: 120_000 }, async () => {
    const context = join(work, "ok-ctx");
    await mkdir(context);
    await writeFile(join(context, "Dockerfile"), "FROM scratch\nARG GREETING\nCOPY greeting.txt /\n");
    await writeFile(join(context, "greeting.txt"), "hello");
    const result = await cli(["build", "local", "--context", "ok-ctx", "--build-arg", "GREETING=hi", "-o", "type=local,dest=ok-out", "--json", "--progress", "json"]);
    assert.equal(result.code, ExitCode.Ok, result.stderr);
    const summary = JSON.parse(result.stdout) as { ok: boolean; steps: { total: number } };
    assert.equal(summary.ok, true);
    assert.ok(summary.steps.total > 0);
    const events = result.stderr.split("\n").filter(Boolean).map((line) => JSON.parse(line) as { type: string });
    assert.ok(events.some((e) => e.type === "step-completed"));
    assert.equal(await readFile(join(work, "ok-out", "greeting.txt"), "utf8"), "hello");
  });

  test("a failing RUN exits 1 with the step's log tail", { timeout: 120_000 }, async () => {
    const context = join(work, "fail-ctx");
    await mkdir(context);
    await writeFile(join(context, "Dockerfile"), `FROM ${stack.baseImage}\nRUN echo about to fail && exit 7\n`);
    const result = await cli(["build", "local", "fail-ctx", "--progress", "plain", "--json"]);
    assert.equal(result.code, ExitCode.BuildFailed);
    const summary = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; logTail?: string[] } };
    assert.equal(summary.ok, false);
    assert.equal(summary.error.code, "STEP_FAILED");
    assert.match(result.stderr, /about to fail/);
  });

  test("--push tags and pushes to the registry", { timeout: 180_000 }, async () => {
    const context = join(work, "push-ctx");
    await mkdir(context);
    await writeFile(join(context, "Dockerfile"), `FROM ${stack.baseImage}\nRUN echo pushed > /marker\n`);
    const tag = `${stack.registry}/bkb-cli-test:${Date.now()}`;
    const result = await cli(["build", "local", "push-ctx", "-t", tag, "--push", "--progress", "plain"]);
    assert.equal(result.code, ExitCode.Ok, result.stderr);
    // The Engine exports under a staging name and pushes afterwards: progress names the final tag, and the push is
    // a step of its own; buildkitd pushes inside its export step.
    assert.doesNotMatch(result.stderr, /buildkit-bot-staging/);
    if (daemon.kind === "docker-engine") {
      assert.match(result.stderr, new RegExp(`naming to [^\\n]*${tag.replace(/[.:]/g, "\\$&")}`));
      assert.match(result.stderr, new RegExp(`^#(\\d+) pushing ${tag.replace(/[.:]/g, "\\$&")}\n(#\\1 .*\n)*#\\1 DONE \\d+\\.\\ds$`, "m"));
    }
    assert.match(result.stdout, new RegExp(`pushed ${tag.replace(/[.:]/g, "\\$&")}`));
    assert.match(result.stdout, /digest: sha256:[0-9a-f]{64}/);
  });

  test("build github: default ref (HEAD), --git-ref with --subdir, the token from GITHUB_TOKEN", { timeout: 180_000 }, async (t) => {
    const server = await startGitServer({ tokens: ["ghs_cli_token"] });
    t.after(() => server.close());
    const repo = await server.createRepo("acme", "app");
    await repo.commit(
      { Dockerfile: "FROM scratch\nCOPY hello.txt /\n", "hello.txt": "root\n", "svc/Dockerfile": "FROM scratch\nCOPY x.txt /\n", "svc/x.txt": "svc\n" },
      { branch: "main" },
    );
    env = { ...env, GITHUB_TOKEN: "ghs_cli_token" };
    const plain = await cli(["build", "github", `${server.url}/acme/app`, "-o", "type=local,dest=git-root", "--progress", "quiet"]);
    assert.equal(plain.code, ExitCode.Ok, plain.stderr);
    assert.equal(await readFile(join(work, "git-root", "hello.txt"), "utf8"), "root\n");
    const sub = await cli(["build", "github", `${server.url}/acme/app`, "--git-ref", "main", "--subdir", "svc", "-o", "type=local,dest=git-svc", "--progress", "quiet"]);
    assert.equal(sub.code, ExitCode.Ok, sub.stderr);
    assert.equal(await readFile(join(work, "git-svc", "x.txt"), "utf8"), "svc\n");
    assert.ok(server.requests.some((r) => r.user === "x-access-token" && r.status === 200));
    assert.ok(!plain.stderr.includes("ghs_cli_token") && !sub.stdout.includes("ghs_cli_token"));
  });
});
