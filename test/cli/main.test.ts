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
  assert.match(result.stderr, /^error: --tag needs a value\n/);
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
  assert.equal(build.stderr, "", "--json prints the JSON result only");
});

test("without -t, -o or --push a build warns that its result is thrown away; failures carry one error prefix", { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "bkb-cli-noout-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const addr = `unix://${join(dir, "absent.sock")}`;
  const env = { BUILDKIT_HOST: addr, DOCKER_CONFIG: dir };
  const discarded = await cli(["build", "local", dir, "--progress", "quiet"], env);
  assert.equal(discarded.code, ExitCode.DaemonUnreachable);
  const lines = discarded.stderr.trimEnd().split("\n");
  assert.match(lines[0] as string, /^warning: no output given \(-t, -o or --push\): the result stays in the build cache only$/);
  assert.equal(lines.filter((l) => l.startsWith("error: ")).length, 1);
  assert.ok(lines.every((l) => !l.startsWith("buildkit-bot:")));

  const kept = await cli(["build", "local", dir, "--progress", "quiet", "-t", "app:dev"], env);
  assert.equal(kept.code, ExitCode.DaemonUnreachable);
  assert.doesNotMatch(kept.stderr, /warning/);
  const json = await cli(["build", "local", dir, "--json"], env);
  assert.equal(json.stderr, "", "--json: no warning, no progress, no error text on stderr");
});
