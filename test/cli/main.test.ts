import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "../../src/cli/exit-codes.js";
import { runCli } from "../../src/cli/main.js";
import { capture } from "./cli-io.js";

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(argv, { stdout: stdout.stream, stderr: stderr.stream, env, readStdin: async () => "" });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

test("exit codes are the documented constants", () => {
  assert.deepEqual({ ...ExitCode }, { Ok: 0, BuildFailed: 1, Usage: 2, DaemonUnreachable: 3 });
});

test("--help prints usage on stdout and exits 0", async () => {
  const result = await cli(["--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /Usage: buildkit-bot <command>/);
  assert.equal(result.stderr, "");
});

test("a usage error exits 2 and names the flag on stderr", async () => {
  const result = await cli(["build", "local", ".", "--tag"]);
  assert.equal(result.code, ExitCode.Usage);
  assert.match(result.stderr, /buildkit-bot: --tag needs a value/);
  assert.equal(result.stdout, "");
});

test("an unreachable daemon exits 3, also with --json", { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "bkb-cli-nodaemon-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const addr = `unix://${join(dir, "absent.sock")}`;
  const health = await cli(["health", "--addr", addr]);
  assert.equal(health.code, ExitCode.DaemonUnreachable);
  assert.match(health.stderr, /error: .*absent\.sock/);

  const build = await cli(["build", "local", dir, "--json", "--progress", "quiet"], { BUILDKIT_HOST: addr, DOCKER_CONFIG: dir });
  assert.equal(build.code, ExitCode.DaemonUnreachable);
  const result = JSON.parse(build.stdout) as { ok: boolean; error: { code: string; message: string } };
  assert.equal(result.ok, false);
  assert.equal(result.error.code, "CONNECTION");
});
