import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { watchAppProcess } from "../support/setup-page.js";
import { freePort } from "../support/stack/free-port.js";

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
      assert.match(manifest, /"default_events":\["push","pull_request","check_run","check_suite"\]/);
      assert.match(manifest, new RegExp(`"redirect_url":"http://127.0.0.1:${port}/probot/setup"`));
    } finally {
      if (child.exitCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
    }
  });
});
