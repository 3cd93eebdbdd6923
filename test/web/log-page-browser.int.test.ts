import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import type { BrowserContext } from "playwright-core";
import { ProgressTracker } from "../../src/buildkit/progress/tracker.js";
import { createLogPageHandler } from "../../src/web/log-page-handler.js";
import { LogStore } from "../../src/trail/log-store.js";
import { LogWriter } from "../../src/trail/log-writer.js";
import { ProgressBridge } from "../../src/trail/progress-bridge.js";
import { loadStatusFixture } from "../buildkit/progress/status-messages.js";
import { redisForTest } from "../github/redis-test-keys.js";

/**
 * The log page in Debian's headless Chromium, served by the real handler from the real store. Screenshots go to
 * BKB_WEB_SCREENSHOTS when set (and are kept), else to a temp dir removed afterwards.
 */

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

describe("the log page in headless Chromium", { timeout: 180_000 }, () => {
  let server: Server;
  let base: string;
  let store: LogStore;
  let cleanup: () => Promise<void>;
  let browser: BrowserContext;
  let profile: string;
  let shots: string;
  let tempShots: string | undefined;

  before(async () => {
    const r = await redisForTest("logpage-browser");
    cleanup = r.cleanup;
    store = new LogStore(r.redis, { prefix: r.prefix });
    const handler = createLogPageHandler(store, { pollMs: 50 });
    server = createServer((req, res) => {
      void handler(req, res).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    profile = await mkdtemp(join(tmpdir(), "bkb-web-chromium-"));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1100, height: 700 } });
    if (process.env.BKB_WEB_SCREENSHOTS) shots = process.env.BKB_WEB_SCREENSHOTS;
    else shots = tempShots = await mkdtemp(join(tmpdir(), "bkb-web-shots-"));
    await mkdir(shots, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    if (tempShots) await rm(tempShots, { recursive: true, force: true });
    server?.closeAllConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await cleanup?.();
  });

  it("a page opened while the build runs shows the general section's outcome when the build ends, without a reload", async () => {
    const token = await store.open("live-general");
    const writer = new LogWriter(store, "live-general", { flushMs: 20 });
    writer.line("buildkit-bot: api at 0123abc (refs/heads/main), build live-general");
    writer.step("v1", "[1/1] RUN make", "running");
    writer.line("compiling", "v1");
    await writer.flush();

    const page = await browser.newPage();
    await page.goto(`${base}/logs/${token}`);
    const generalStatus = page.locator('details[data-step="_"] .status');
    assert.equal(await generalStatus.textContent(), "running");
    await page.evaluate(() => {
      (globalThis as unknown as { marker: number }).marker = 7;
    });

    writer.step("v1", "[1/1] RUN make", "done");
    writer.line("pushing: 127.0.0.1:5000/acme/api:main");
    await writer.finish("success", "pushed 127.0.0.1:5000/acme/api:main");

    await page.locator("#state", { hasText: "Finished: success" }).waitFor({ timeout: 30_000 });
    assert.equal(await generalStatus.textContent(), "success");
    assert.equal(await generalStatus.getAttribute("class"), "status status-success");
    assert.equal(await page.locator("main#log").getByText("running", { exact: true }).count(), 0, "nothing says running any more");
    assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 7, "same document");
    await page.close();
  });

  it("a first build whose cache import found nothing shows that step as done, with its warning, and nothing failed", async () => {
    const { messages } = loadStatusFixture("engine-20.10-cache-import-missing");
    const token = await store.open("first-build");
    const writer = new LogWriter(store, "first-build", { flushMs: 20 });
    writer.line("buildkit-bot: api at 0123abc (refs/heads/main), build first-build");
    const bridge = new ProgressBridge(writer, undefined);
    const tracker = new ProgressTracker({ onEvent: bridge.onEvent });
    for (const m of messages) tracker.ingest(m);
    tracker.finish();
    bridge.close();
    await writer.finish("success", "built, not pushed");

    const page = await browser.newPage();
    await page.goto(`${base}/logs/${token}`);
    await page.locator("#state", { hasText: "Finished: success" }).waitFor({ timeout: 30_000 });
    const importStep = page.locator("details[data-step]", { hasText: "importing cache manifest from 127.0.0.1:5055/acme/api:buildcache-main" });
    assert.equal(await importStep.count(), 1);
    assert.equal(await importStep.locator(".status").textContent(), "done");
    assert.equal(await importStep.evaluate((d) => (d as unknown as { open: boolean }).open), false, "folded like every step that passed");
    assert.equal(await page.locator(".status-error").count(), 0, "no step shows as failed");
    assert.equal(await page.locator("details[open]").count(), 0);
    assert.equal(
      (await importStep.locator("pre").textContent())?.trim(),
      "WARNING: cache import from 127.0.0.1:5055/acme/api:buildcache-main failed: not found — building without it",
    );

    await importStep.locator("summary").click();
    const file = join(shots, "first-build-cache-import.png");
    await page.screenshot({ path: file, fullPage: true });
    assert.ok((await stat(file)).size > 0);
    await page.close();
  });
});
