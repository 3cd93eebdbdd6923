import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Runs the CLI with `argv` in a fresh process and reports whether gRPC was loaded by then (grpc-js is CommonJS,
 * so it shows in the shared require cache once anything imports it).
 */
async function loadsGrpc(argv: string[]): Promise<{ grpc: boolean; code: number }> {
  const script = [
    'import { createRequire } from "node:module";',
    'import { PassThrough } from "node:stream";',
    'const { runCli } = await import("./src/cli/main.ts");',
    "const sink = () => { const s = new PassThrough(); s.resume(); return s; };",
    `const code = await runCli(${JSON.stringify(argv)}, { stdout: sink(), stderr: sink(), env: {}, readStdin: async () => "" });`,
    'const grpc = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes("@grpc"));',
    "process.stdout.write(JSON.stringify({ grpc, code }));",
  ].join("\n");
  const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO });
  return JSON.parse(stdout) as { grpc: boolean; code: number };
}

test("--help on every command and flag mistakes answer without loading gRPC", { timeout: 60_000 }, async () => {
  for (const argv of [["--help"], ["health", "-h"], ["build", "--help"], ["build", "local", "--help"], ["build", "local", ".", "--frobnicate"]]) {
    const { grpc, code } = await loadsGrpc(argv);
    assert.equal(grpc, false, `${argv.join(" ")} loaded gRPC`);
    assert.equal(code, argv.includes("--frobnicate") ? 2 : 0, argv.join(" "));
  }
});

test("a command that runs loads the library (the check above can see gRPC)", { timeout: 60_000 }, async () => {
  const { grpc, code } = await loadsGrpc(["health", "--addr", "unix:///nonexistent/buildkitd.sock"]);
  assert.equal(grpc, true);
  assert.equal(code, 3);
});
