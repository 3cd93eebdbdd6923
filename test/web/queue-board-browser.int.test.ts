import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { chromium } from "playwright-core";
import type { Browser, BrowserContext } from "playwright-core";
import { productionParts } from "../../src/app/production-parts.js";
import type { ProductionParts } from "../../src/app/production-parts.js";
import { startBuildkitBot } from "../../src/app/start-app.js";
import type { RunningApp } from "../../src/app/start-app.js";
import { captureLog, WEBHOOK_SECRET, webEnv } from "../app/app-test-kit.js";
import { dropPrefix, freshPrefix } from "../queue/queue-test-kit.js";
import { adaptPayload, examplePayload, sendWebhook } from "../support/webhooks.js";

/**
 * The queue view (Bull Board under /admin/queues) of a running web role, in Debian's headless Chromium: refused
 * without the admin token, shown with it, read-only, and off without the variable.
 */

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TOKEN = "queue-view-token-7c1e5a90d2";
const redisUrl = process.env.BKB_TEST_REDIS_URL;

describe("the queue view in headless Chromium", { skip: redisUrl ? false : "BKB_TEST_REDIS_URL is not set (start the stack)", timeout: 180_000 }, () => {
  const prefix = freshPrefix();
  let app: RunningApp;
  let parts: ProductionParts;
  let base: string;
  let browser: Browser;
  let deliveryId: string;
  let profile: string;

  before(async () => {
    const e = await webEnv(redisUrl!, prefix);
    parts = productionParts();
    app = await startBuildkitBot(parts, { ...e.env, BUILDKIT_BOT_ADMIN_TOKEN: TOKEN }, { log: captureLog().logger });
    base = `http://127.0.0.1:${e.port}`;
    // The web role stores the event job; no worker takes it, so it waits in the queue for the view to show.
    const payload = adaptPayload(examplePayload("push", undefined, (p) => p.ref === "refs/heads/master"));
    const res = await sendWebhook(`${base}/api/github/webhooks`, { name: "push", payload, secret: WEBHOOK_SECRET });
    assert.equal(res.status, 200, res.body);
    deliveryId = res.deliveryId;
    profile = await mkdtemp(join(tmpdir(), "bkb-board-chromium-"));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    await parts?.close();
    const redis = new Redis(redisUrl!);
    await dropPrefix(redis, prefix);
    redis.disconnect();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it("refuses a browser without the token, and one with a wrong token", async () => {
    // Headless Chromium has no login dialog: challenged with nothing to answer, it gives up the navigation with
    // ERR_INVALID_AUTH_CREDENTIALS after the 401; with a wrong password it shows the 401.
    const refusedNavigation = async (context: BrowserContext, path: string): Promise<{ status: number; challenge: string }> => {
      const page = await context.newPage();
      const answered = page.waitForResponse((r) => new URL(r.url()).pathname === path);
      await page.goto(`${base}${path}`).catch((err: Error) => assert.match(err.message, /ERR_INVALID_AUTH_CREDENTIALS/));
      const res = await answered;
      return { status: res.status(), challenge: res.headers()["www-authenticate"] ?? "" };
    };
    const anonymous = await browser.newContext();
    const noToken = await refusedNavigation(anonymous, "/admin/queues/");
    assert.equal(noToken.status, 401);
    assert.match(noToken.challenge, /^Basic realm="buildkit-bot queues"/);
    await anonymous.close();

    const wrong = await browser.newContext({ httpCredentials: { username: "ops", password: `${TOKEN}x` } });
    assert.equal((await refusedNavigation(wrong, "/admin/queues/queue/events")).status, 401);
    // The API behind the board too, not only its page.
    const api = await wrong.request.get(`${base}/admin/queues/api/queues`);
    assert.equal(api.status(), 401);
    await wrong.close();
  });

  it("logs in with the token and shows the waiting event job", async () => {
    const context = await browser.newContext({ httpCredentials: { username: "ops", password: TOKEN }, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const res = await page.goto(`${base}/admin/queues`);
    assert.equal(res?.status(), 200, "the bare path is redirected to the board");
    assert.equal(new URL(page.url()).pathname, "/admin/queues/");
    await page.getByText("events", { exact: true }).first().waitFor({ timeout: 30_000 });
    await page.getByText("builds", { exact: true }).first().waitFor({ timeout: 30_000 });

    // Event jobs wait prioritized: their installation's fair turn (src/queue/event-fairness.ts).
    await page.goto(`${base}/admin/queues/queue/events?status=prioritized`);
    const jobId = `ev-${deliveryId}`;
    await page.getByText(jobId).first().waitFor({ timeout: 30_000 });
    // The job's data as the board shows it: the push's repository, and no token of any kind (none is stored).
    const text = await page.locator("body").innerText();
    assert.match(text, /push/);
    assert.doesNotMatch(text, new RegExp(TOKEN));
    await context.close();
  });

  it("is read-only: Bull Board's queues are in read-only mode and writes are refused", async () => {
    const context = await browser.newContext({ httpCredentials: { username: "ops", password: TOKEN } });
    const queues = (await (await context.request.get(`${base}/admin/queues/api/queues`)).json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
    assert.deepEqual(queues.queues.map((q) => [q.name, q.readOnlyMode]).sort(), [["builds", true], ["events", true], ["pr-cleanup", true]]);
    for (const [method, path] of [
      ["PUT", "/api/queues/events/pause"],
      ["PUT", "/api/queues/events/empty"],
      ["POST", "/api/queues/events/add"],
      ["PUT", `/api/queues/events/ev-${deliveryId}/promote`],
    ] as const) {
      const r = await context.request.fetch(`${base}/admin/queues${path}`, { method, data: {} });
      assert.equal(r.status(), 405, `${method} ${path}`);
    }
    const job = await context.request.get(`${base}/admin/queues/api/queues/events/ev-${deliveryId}`);
    assert.equal(job.status(), 200, "the job is still there");
    await context.close();
  });
});

describe("without BUILDKIT_BOT_ADMIN_TOKEN", { skip: redisUrl ? false : "BKB_TEST_REDIS_URL is not set (start the stack)" }, () => {
  it("there is no queue view", async () => {
    const prefix = freshPrefix();
    const e = await webEnv(redisUrl!, prefix);
    const parts = productionParts();
    const app = await startBuildkitBot(parts, e.env, { log: captureLog().logger });
    try {
      const res = await fetch(`http://127.0.0.1:${e.port}/admin/queues/`, { headers: { authorization: `Basic ${Buffer.from("ops:anything").toString("base64")}` } });
      assert.equal(res.status, 404);
    } finally {
      await app.stop();
      await parts.close();
    }
  });
});
