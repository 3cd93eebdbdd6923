import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CheckRunBrowser, checkRunPageSkip, DESKTOP_WIDTH, PHONE_WIDTH } from "../test/support/check-run-page.js";
import { buildkitdDaemon } from "../test/support/daemons.js";
import { runCheckRunScenario } from "../test/e2e/support/check-run-scenario.js";
import { startE2E } from "../test/e2e/support/e2e-harness.js";

/**
 * The README's screenshot of a real check run (npm run screenshot:check-run; scripts/check-run-screenshot.sh starts
 * the stack): the app, end to end against the fake GitHub on the stack's buildkitd, builds the base branch, then a
 * pull request that changes one source file and grows the image; that pull request's final check run, as the fake
 * GitHub recorded it, is rendered the way GitHub renders it (cmark-gfm) and shot in headless Chromium at a
 * desktop's and a phone's width into docs/check-run.png and docs/check-run-phone.png.
 */

const out = process.argv[2] ?? "docs";
const daemon = buildkitdDaemon();
const skip = daemon.skip || (await checkRunPageSkip());
if (skip) {
  console.error(`check-run-screenshot: ${skip}`);
  process.exit(2);
}

const e2e = await startE2E({ name: "check-run-screenshot", daemon });
const browser = new CheckRunBrowser();
try {
  const { grown } = await runCheckRunScenario(e2e);
  if (grown.conclusion !== "success") throw new Error(`the pull request's build did not succeed: ${grown.output.title}\n${grown.output.summary}`);
  const run = { name: grown.name, conclusion: grown.conclusion, title: grown.output.title ?? "", summary: grown.output.summary ?? "", text: grown.output.text };
  await mkdir(out, { recursive: true });
  for (const [width, file] of [
    [DESKTOP_WIDTH, "check-run.png"],
    [PHONE_WIDTH, "check-run-phone.png"],
  ] as const) {
    const page = await browser.open(run, width);
    await page.locator(".check").screenshot({ path: join(out, file) });
    console.log(`check-run-screenshot: ${join(out, file)} (${width} px)`);
  }
  await writeFile(join(e2e.dir, "check-run.md"), `# ${run.title}\n\n${run.summary}\n`);
  console.log(`--- ${run.title} ---\n${run.summary}`);
} finally {
  await browser.close();
  await e2e.close();
}
