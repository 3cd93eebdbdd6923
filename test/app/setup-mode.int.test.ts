import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { watchAppProcess } from "../support/setup-page.js";
import { freePort } from "../support/stack/free-port.js";
import { processesMentioning } from "../support/stack/processes.js";

const MAIN = fileURLToPath(new URL("../../src/app/main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("setup mode", () => {
  it("serves Probot's setup page from app.yml when started without credentials", async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: "127.0.0.1",
      NO_SMEE_SETUP: "true",
      LOG_LEVEL: "warn",
    };
    const child = spawn(process.execPath, ["--import", "tsx", MAIN], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const app = watchAppProcess(child, "the app");
    try {
      const page = await app.setupPage(port, 60_000, 200);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /Register GitHub App|setup/i);
      const manifest = html.replace(/&quot;/g, '"').replace(/&#34;/g, '"');
      assert.match(manifest, /"name":"buildkit-bot"/);
      assert.match(manifest, /"checks":"write"/);
      assert.match(manifest, /"statuses":"write"/);
      assert.match(manifest, /"contents":"read"/);
      assert.match(manifest, /"default_events":\["push","pull_request","check_run","check_suite","issue_comment","merge_group"\]/);
      assert.match(manifest, /"issues":"read"/);
      assert.match(manifest, /"merge_queues":"read"/);
      assert.match(manifest, new RegExp(`"redirect_url":"http://127.0.0.1:${port}/probot/setup"`));
    } finally {
      if (child.exitCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
    }
  });

  it("npm start without credentials serves the setup page and starts no Redis, BuildKit or registry", { timeout: 120_000 }, async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), "bkb-setup-start-"));
    const stackRoot = join(dir, "stack");
    // No APP_ID or key, and no Redis, BuildKit or registry: before, this started the whole local stack.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: "127.0.0.1",
      NO_SMEE_SETUP: "true",
      LOG_LEVEL: "warn",
      BUILDKIT_BOT_STACK_ROOT: stackRoot,
    };
    const npm = spawn("npm", ["start"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const app = watchAppProcess(npm, "npm start");
    try {
      const page = await app.setupPage(port, 90_000, 250);
      assert.equal(page.status, 200);
      assert.match(app.output(), /no local stack/);
      assert.ok(!existsSync(stackRoot), `nothing was started under ${stackRoot}`);
      assert.deepEqual(processesMentioning(stackRoot), []);
      const exited = once(npm, "exit");
      npm.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, app.output());
      assert.equal((await fetch(`http://127.0.0.1:${port}/probot`).catch(() => undefined))?.status, undefined, "the app is gone too");
    } finally {
      if (npm.exitCode === null && npm.signalCode === null) npm.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
