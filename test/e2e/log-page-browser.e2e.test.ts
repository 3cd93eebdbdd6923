import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import type { BrowserContext } from "playwright-core";
import { startE2E } from "./support/e2e-harness.js";
import { testDaemons } from "../support/daemons.js";
import type { E2E } from "./support/e2e-harness.js";
import { eventually } from "./support/wait.js";

/**
 * Issue 5 item 7 k: the build log page in a real browser (Debian's headless Chromium): a running build's log
 * grows without a reload, and a failed build opens on its failed step. Screenshots land in the test's temp dir
 * (kept when BKB_KEEP_E2E=1).
 */

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TIMEOUT = 300_000;

for (const daemon of testDaemons()) {
  describe(`e2e: the log page in headless Chromium, built on ${daemon.name}`, { skip: daemon.skip, timeout: 900_000 }, () => {
    let e2e: E2E;
    let profile: string;
    let browser: BrowserContext;
    let shots: string;

    before(async () => {
      e2e = await startE2E({ name: `browser-${daemon.kind}`, daemon });
      shots = process.env.BKB_E2E_SCREENSHOTS ?? join(e2e.dir, "screenshots");
      profile = await mkdtemp(join(tmpdir(), "bkb-chromium-"));
      browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1100, height: 800 } });
    });

    after(async () => {
      await browser?.close();
      if (profile) await rm(profile, { recursive: true, force: true });
      await e2e?.close();
    });

    it("shows a running build's log as it is written, without a reload", { timeout: TIMEOUT }, async () => {
      const repo = await e2e.createRepo("live", { "README.md": "hi\n" });
      const { sha } = await e2e.push(repo, {
        Dockerfile: `FROM ${e2e.stack.baseImage}\nRUN echo ${randomBytes(4).toString("hex")}; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo tick-$i; sleep 1; done\n`,
      });
      const running = await eventually(
        async () => e2e.checkRuns(repo, { sha, name: "buildkit-bot / live" }).find((c) => c.status === "in_progress" && c.details_url),
        "the build to be running with a log page",
        { timeoutMs: 120_000 },
      );
      const page = await browser.newPage();
      let navigations = 0;
      page.on("framenavigated", (frame) => {
        if (frame === page.mainFrame()) navigations++;
      });
      await page.goto(running.details_url as string);
      const atLoad = await page.locator("main#log").innerText();
      assert.ok(!atLoad.includes("tick-12"), "the page was opened while the build was still running");
      await page.evaluate(() => {
        (globalThis as unknown as { e2eMarker: number }).e2eMarker = 1;
      });

      await page.getByText("tick-12", { exact: false }).first().waitFor({ timeout: 120_000 });
      const marker = await page.evaluate(() => (globalThis as unknown as { e2eMarker?: number }).e2eMarker);
      assert.equal(marker, 1, "same document: the text arrived without a reload");
      assert.equal(navigations, 1);
      await page.locator("#state", { hasText: "Finished" }).waitFor({ timeout: 120_000 });
      const file = join(shots, "live-log.png");
      await page.screenshot({ path: file, fullPage: true });
      assert.ok((await stat(file)).size > 0);
      await page.close();
    });

    it("opens a failed build's page on its failed step", { timeout: TIMEOUT }, async () => {
      const repo = await e2e.createRepo("failing", { "README.md": "hi\n" });
      const marker = `cannot-go-on-${randomBytes(4).toString("hex")}`;
      const { sha } = await e2e.push(repo, {
        Dockerfile: `FROM ${e2e.stack.baseImage}\nRUN echo fine\nRUN echo ${marker} && exit 7\n`,
      });
      const failed = await e2e.completedCheckRun(repo, sha, "buildkit-bot / failing", TIMEOUT);
      assert.equal(failed.conclusion, "failure");
      assert.ok(failed.details_url);

      const page = await browser.newPage();
      await page.goto(failed.details_url);
      const open = page.locator("details[open]");
      await open.first().waitFor({ timeout: 30_000 });
      const openSteps = await open.evaluateAll((els) => els.map((e) => ({ summary: e.querySelector("summary")?.textContent ?? "", body: e.querySelector("pre")?.textContent ?? "" })));
      const failedStep = openSteps.find((s) => s.summary.includes(`RUN echo ${marker}`));
      assert.ok(failedStep, `the failed RUN step is open among ${JSON.stringify(openSteps.map((s) => s.summary))}`);
      assert.match(failedStep.summary, /^failed\b/);
      assert.ok(failedStep.body.includes(marker), "the failed step's output is shown");
      assert.equal(await page.locator("details[open] .status-done").count(), 0, "steps that passed stay folded");
      assert.equal(await page.locator("details[open]").first().isVisible(), true);
      await page.locator("#state", { hasText: "Finished: failure" }).waitFor({ timeout: 60_000 });
      const file = join(shots, "failed-log.png");
      await page.screenshot({ path: file, fullPage: true });
      assert.ok((await stat(file)).size > 0);
      await page.close();
    });
  });
}
