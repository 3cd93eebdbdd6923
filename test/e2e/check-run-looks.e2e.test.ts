import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MAX_OUTPUT_BYTES } from "../../src/github/check-run-output.js";
import { buildkitdDaemon } from "../support/daemons.js";
import { CheckRunBrowser, checkRunPageSkip, DESKTOP_WIDTH, PHONE_WIDTH, summaryLayout } from "../support/check-run-page.js";
import type { CheckRunView } from "../support/check-run-page.js";
import type { FakeCheckRun } from "../support/fake-github/index.js";
import { startE2E } from "./support/e2e-harness.js";
import type { E2E } from "./support/e2e-harness.js";
import { runCheckRunScenario, SCENARIO_CHECK } from "./support/check-run-scenario.js";
import type { ScenarioRuns } from "./support/check-run-scenario.js";

/**
 * Issue 19 point 7: the summaries of real check runs (a base-branch build, a pull request that grows the image, one
 * whose test step fails), as the fake GitHub recorded them, rendered by cmark-gfm the way GitHub renders them and
 * laid out by headless Chromium at a phone's width and a desktop's.
 */

const daemon = buildkitdDaemon();
const skip = daemon.skip || (await checkRunPageSkip());
const TIMEOUT = 600_000;

const view = (run: FakeCheckRun): CheckRunView => ({
  name: run.name,
  conclusion: run.conclusion ?? "",
  title: run.output.title ?? "",
  summary: run.output.summary ?? "",
  text: run.output.text,
});

describe("e2e: check-run summaries read well on a phone, rendered as GitHub renders them", { skip, timeout: TIMEOUT }, () => {
  let e2e: E2E;
  let runs: ScenarioRuns;
  const browser = new CheckRunBrowser();

  before(async () => {
    e2e = await startE2E({ name: "check-run-looks", daemon });
    runs = await runCheckRunScenario(e2e);
  });

  after(async () => {
    await browser.close();
    await e2e?.close();
  });

  it("the scenario's builds ended as they should", () => {
    assert.equal(runs.base.name, SCENARIO_CHECK);
    assert.equal(runs.grown.conclusion, "success", `${runs.grown.output.title}\n${runs.grown.output.summary}`);
    assert.equal(runs.failed.conclusion, "failure", `${runs.failed.output.title}\n${runs.failed.output.summary}`);
    for (const run of [runs.base, runs.grown, runs.failed]) {
      assert.ok(Buffer.byteLength(run.output.summary ?? "") <= MAX_OUTPUT_BYTES);
      assert.ok(Buffer.byteLength(run.output.text ?? "") <= MAX_OUTPUT_BYTES);
    }
  });

  for (const width of [PHONE_WIDTH, DESKTOP_WIDTH]) {
    for (const which of ["base", "grown", "failed"] as const) {
      it(`${which}: at ${width} px the headline comes first, tables render as tables, and only tables and code blocks scroll sideways`, async () => {
        const run = runs[which];
        const page = await browser.open(view(run), width);
        const layout = await summaryLayout(page);
        const context = `${which} at ${width} px:\n${JSON.stringify(layout, null, 1)}\n--- summary ---\n${run.output.summary}`;

        assert.equal(layout.first.tag, "p", context);
        assert.match(layout.first.text, which === "failed" ? /^Building app failed at .*RUN .*sh src\/test\.sh/ : /^Built and pushed app in \d/, context);
        assert.deepEqual(layout.rawTableRows, [], context);
        if (which !== "failed") assert.ok(layout.tables >= 1, context);
        // Every table in the Markdown became a <table>: as many as the summary has delimiter rows.
        assert.equal(layout.tables, (run.output.summary ?? "").split("\n").filter((l) => /^\|(\s*:?-+:?\s*\|)+$/.test(l)).length, context);
        assert.equal(layout.pageOverflow, 0, context);
        assert.deepEqual(layout.overflowing, [], context);
        for (const s of layout.scrollers) assert.ok(s.scrolls, `a ${s.tag} wider than its box must scroll: ${context}`);
        if (which !== "failed") {
          const factsScroll = await page.locator("#summary table").first().evaluate((el) => {
            const box = el as unknown as { scrollWidth: number; clientWidth: number };
            return box.scrollWidth > box.clientWidth;
          });
          assert.equal(factsScroll, false, `the first table (steps, digest) fits without scrolling: ${context}`);
        }
        // A RUN line with a pipe stays whole in a table cell (an unescaped pipe would end the cell there).
        const sortCells = await page.locator("#summary table code", { hasText: "sort packages.txt" }).allInnerTexts();
        for (const cell of sortCells) assert.match(cell, /sort packages\.txt \| uniq/, context);
        if (which === "grown") assert.ok(sortCells.length >= 1, `the size diff lists the layer of the RUN line with a pipe: ${context}`);
        if (which === "failed") {
          assert.match(await page.locator("#text pre").innerText(), /not ok 2 - keeps the order of packages/);
        }
        await page.context().close();
      });
    }
  }
});
