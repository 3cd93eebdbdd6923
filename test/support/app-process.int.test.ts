import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startAppProcess } from "./app-process.js";
import type { AppProcess } from "./app-process.js";
import { freePort } from "./stack/free-port.js";

/**
 * The app as a child process. Without App credentials it starts in Probot's setup mode, which needs no Redis,
 * so the process handling is tested on the real entry point alone.
 */
describe("startAppProcess", () => {
  let dir: string;
  let app: AppProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-app-process-"));
  });

  after(async () => {
    await app?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("starts, answers HTTP, survives kill9 + restart with the same env, and stops on SIGTERM", { timeout: 120_000 }, async () => {
    const port = await freePort();
    app = await startAppProcess({ dir, name: "setup", env: { PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info" } });
    assert.equal(app.url, `http://127.0.0.1:${port}`);
    const firstPid = app.pid;
    const page = await fetch(`${app.url}/probot`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /GitHub App/i);

    await app.kill9();
    assert.deepEqual(app.exit, { code: null, signal: "SIGKILL" });
    await assert.rejects(fetch(`${app.url}/probot`));

    await app.restart();
    assert.notEqual(app.pid, firstPid);
    assert.equal(app.env.PORT, String(port));
    assert.equal((await fetch(`${app.url}/probot`)).status, 200);

    assert.equal(await app.stop(), 0);
    assert.equal(app.exit?.code, 0);
    const out = await readFile(app.stdoutFile, "utf8");
    assert.ok((await app.output()).includes(out), "output() holds stdout");
    assert.ok(out.length > 0, "the app's output is captured in the file");
  });

  it("fails with the app's output when it exits before it is ready", { timeout: 60_000 }, async () => {
    const broken = startAppProcess({
      dir,
      name: "broken",
      // A configuration error: the app says which variable and exits 1.
      env: { PORT: String(await freePort()), APP_ID: "12", PRIVATE_KEY: "not a key", BUILDKIT_BOT_REDIS_URL: "redis://127.0.0.1:1" },
      readyTimeoutMs: 30_000,
    });
    await assert.rejects(broken, /exited \(1\) before it was ready:\nbuildkit-bot: configuration error: BUILDKIT_BOT_REGISTRY/);
  });
});
