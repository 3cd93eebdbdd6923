import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
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
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    try {
      let page: Response | undefined;
      const deadline = Date.now() + 60_000;
      while (!page) {
        assert.equal(child.exitCode, null, `the app exited early:\n${output}`);
        page = await fetch(`http://127.0.0.1:${port}/probot`).catch(() => undefined);
        if (!page) {
          assert.ok(Date.now() < deadline, `setup page never came up:\n${output}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
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
