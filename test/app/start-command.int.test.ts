import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { watchAppProcess } from "../support/setup-page.js";
import { freePort } from "../support/stack/free-port.js";
import { isRunning, processesMentioning } from "../support/stack/processes.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("npm start (scripts/start.sh)", () => {
  it("starts a local Redis, Engine and registry when none is configured, serves the app, and stops them all on SIGTERM", { timeout: 180_000 }, async () => {
    const port = await freePort();
    const stackRoot = await mkdtemp(join(tmpdir(), "bkb-start-"));
    // Nothing configured: no Redis, BuildKit, registry or App credentials, so the app serves its setup page.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: "127.0.0.1",
      NO_SMEE_SETUP: "true",
      LOG_LEVEL: "warn",
      BUILDKIT_BOT_STACK_ROOT: stackRoot,
    };
    const child = spawn("bash", ["scripts/start.sh"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const app = watchAppProcess(child, "npm start");
    try {
      const page = await app.setupPage(port, 150_000, 250);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /buildkit-bot/);

      const stack = JSON.parse(await readFile(join(stackRoot, "stack.json"), "utf8")) as Record<string, { pid?: number }>;
      const pids = ["redis", "registry", "engine"].map((part) => {
        const pid = stack[part]?.pid;
        assert.ok(typeof pid === "number" && isRunning(pid), `${part} runs (${JSON.stringify(stack[part])})`);
        return pid;
      });

      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, app.output());
      for (const pid of pids) assert.ok(!isRunning(pid), `pid ${pid} is gone after npm start exits`);
      assert.deepEqual(processesMentioning(stackRoot), [], "no process of the local stack is left");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await rm(stackRoot, { recursive: true, force: true });
    }
  });
});
