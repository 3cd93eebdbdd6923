import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { freePort } from "../support/stack/free-port.js";
import { isRunning, processesMentioning } from "../support/stack/processes.js";
import { runCommand } from "../support/stack/run-command.js";
import { generateAppPrivateKey } from "../support/webhooks.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Every process below `pid` (children first seen through /proc), for checking that none outlives it. */
function descendants(pid: number): number[] {
  const found: number[] = [];
  const visit = (p: number): void => {
    let children: string;
    try {
      children = readFileSync(`/proc/${p}/task/${p}/children`, "utf8");
    } catch {
      return;
    }
    for (const child of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

describe("npm start (scripts/start.sh)", () => {
  it("with App credentials and nothing else configured, starts a local Redis, Engine, buildkitd and registry, runs the app, and stops them all on SIGTERM to npm's PID", { timeout: 240_000 }, async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), "bkb-start-"));
    const stackRoot = join(dir, "stack");
    const keyFile = join(dir, "key.pem");
    await writeFile(keyFile, generateAppPrivateKey(), { mode: 0o400 });
    // Credentials, so the app runs for real; no Redis, BuildKit or registry, so npm start brings its own.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: "127.0.0.1",
      NO_SMEE_SETUP: "true",
      LOG_LEVEL: "warn",
      APP_ID: "4711",
      PRIVATE_KEY_PATH: keyFile,
      WEBHOOK_SECRET: "start-command-secret",
      BUILDKIT_BOT_STACK_ROOT: stackRoot,
    };
    const npm = spawn("npm", ["start"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let below: number[] = [];
    npm.stdout.on("data", (c: Buffer) => (output += c.toString()));
    npm.stderr.on("data", (c: Buffer) => (output += c.toString()));
    try {
      const deadline = Date.now() + 200_000;
      for (;;) {
        assert.equal(npm.exitCode, null, `npm start exited early:\n${output}`);
        const ping = await fetch(`http://127.0.0.1:${port}/ping`).catch(() => undefined);
        if (ping?.status === 200) break;
        assert.ok(Date.now() < deadline, `the app never answered /ping:\n${output}`);
        await new Promise((r) => setTimeout(r, 500));
      }

      const stack = JSON.parse(await readFile(join(stackRoot, "stack.json"), "utf8")) as Record<string, { pid?: number }>;
      const stackPids = ["redis", "registry", "engine", "buildkitd"].flatMap((part) => {
        const pid = stack[part]?.pid;
        if (part === "buildkitd" && pid === undefined) return [];
        assert.ok(typeof pid === "number" && isRunning(pid), `${part} runs (${JSON.stringify(stack[part])})`);
        return [pid];
      });
      below = descendants(npm.pid!);
      assert.ok(below.length >= 2, `npm runs the script and the script the app: ${below.join(", ")}`);

      // To npm's own PID, as a service manager or `kill` would send it; no terminal, no process group.
      const exited = once(npm, "exit");
      npm.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, output);
      assert.match(output, /SIGTERM: stopping buildkit-bot/, "the app was stopped by the signal, gracefully");
      for (const pid of below) assert.ok(!isRunning(pid), `pid ${pid} (npm's script or the app) is gone`);
      for (const pid of stackPids) assert.ok(!isRunning(pid), `stack pid ${pid} is gone after npm start exits`);
      assert.deepEqual(processesMentioning(stackRoot), [], "no process of the local stack is left");
      assert.equal((await fetch(`http://127.0.0.1:${port}/ping`).catch(() => undefined))?.status, undefined, "nothing answers on the port");
    } finally {
      // After a failure, nothing of this test may outlive it: the script, the app and the stack go by PID.
      if (npm.exitCode === null && npm.signalCode === null) npm.kill("SIGKILL");
      for (const pid of below) if (isRunning(pid)) process.kill(pid, "SIGKILL");
      if (existsSync(join(stackRoot, "stack.json"))) await runCommand("bash", ["scripts/stack.sh", "stop", "--root", stackRoot], { cwd: ROOT }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
