import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_WRITES_PER_MINUTE } from "../../src/github/write-budget.js";
import { isFirstRunnableDaemon, startE2E } from "./support/e2e-harness.js";
import { testDaemons } from "../support/daemons.js";
import type { E2E, E2ERepo } from "./support/e2e-harness.js";
import { eventually } from "./support/wait.js";

/**
 * Issue 5 item 7 j: twenty builds at once (twenty repositories, a tiny `FROM scratch` image each). GitHub must see
 * no more content-creating writes per minute than the app's budget (the default: the app has no setting for it),
 * and every check run and status must still reach its final state.
 */

const BUILDS = 20;

/**
 * The budget grants a write before the request travels to GitHub, and holds each grant's slot for the window plus
 * a transit margin so that uneven travel times cannot crowd more writes into GitHub's window: no allowance here.
 */
const TRANSIT_ALLOWANCE_MS = 0;

interface Write {
  method: string;
  path: string;
  at: number;
}

/** Content-creating writes (check runs and statuses) in arrival order. */
function writesOf(calls: readonly Write[]): Write[] {
  return calls.filter((c) => (c.method === "POST" || c.method === "PATCH") && c.path.startsWith("/repos/")).sort((a, b) => a.at - b.at);
}

/** The most writes that arrived within any `windowMs`, and the shortest span of `count` consecutive writes. */
function peak(writes: readonly Write[], windowMs: number): { max: number; detail: string } {
  let max = 0;
  let from = 0;
  for (let i = 0; i < writes.length; i++) {
    while ((writes[i]?.at ?? 0) - (writes[from]?.at ?? 0) >= windowMs) from++;
    max = Math.max(max, i - from + 1);
  }
  let tightest = Number.POSITIVE_INFINITY;
  const count = DEFAULT_WRITES_PER_MINUTE + 1;
  for (let i = 0; i + count - 1 < writes.length; i++) tightest = Math.min(tightest, (writes[i + count - 1]?.at ?? 0) - (writes[i]?.at ?? 0));
  return { max, detail: `${writes.length} writes; the fastest ${count} arrived within ${tightest} ms` };
}

// The budget is GitHub's side of a build, the same whichever daemon builds: one daemon runs these twenty builds
// (buildkitd, as in production, when there is one), not both.
for (const daemon of testDaemons().filter(isFirstRunnableDaemon)) {
  describe(`e2e: twenty concurrent builds on ${daemon.name} stay within the write budget`, { skip: daemon.skip, timeout: 900_000 }, () => {
    let e2e: E2E;

    before(async () => {
      e2e = await startE2E({ name: `budget-${daemon.kind}`, daemon, env: { BUILDKIT_BOT_CONCURRENCY: "4" } });
    });

    after(async () => {
      await e2e?.close();
    });

    it(`${BUILDS} pushes: at most ${DEFAULT_WRITES_PER_MINUTE} writes in any minute, every check run concluded`, { timeout: 840_000 }, async () => {
      const repos: E2ERepo[] = [];
      for (let i = 0; i < BUILDS; i++) repos.push(await e2e.createRepo(`tiny-${String(i).padStart(2, "0")}`, { "a.txt": `${i}\n` }));
      const pushes = await Promise.all(repos.map((repo, i) => e2e.push(repo, { Dockerfile: `FROM scratch\nCOPY a.txt /a-${i}.txt\n` })));

      const describe = () =>
        repos
          .map((r) => e2e.checkRuns(r).map((c) => `${r.name}: ${c.status}/${c.conclusion ?? "-"}`).join("; ") || `${r.name}: no check run`)
          .join("\n") + `\nwrites: ${JSON.stringify(e2e.github.writeStats())}`;
      await eventually(
        async () => repos.every((repo, i) => e2e.checkRuns(repo, { sha: pushes[i]?.sha }).some((c) => c.status === "completed")),
        "every check run to complete",
        { timeoutMs: 780_000, intervalMs: 1_000, describe },
      );

      for (const [i, repo] of repos.entries()) {
        const sha = pushes[i]?.sha as string;
        const runs = e2e.checkRuns(repo, { sha });
        assert.equal(runs.length, 1, `${repo.name}: one check run`);
        assert.equal(runs[0]?.conclusion, "success", `${repo.name}: ${runs[0]?.output.title}\n${runs[0]?.output.summary}`);
        assert.equal((await e2e.finalStatus(repo, sha, repo.name, 120_000)).state, "success", `${repo.name}: status`);
      }

      const stats = e2e.github.writeStats();
      assert.ok(stats.total > DEFAULT_WRITES_PER_MINUTE, `the run needed more writes (${stats.total}) than one minute's budget, so the budget was tested`);
      const seen = peak(writesOf(e2e.github.calls), 60_000 - TRANSIT_ALLOWANCE_MS);
      assert.ok(
        seen.max <= DEFAULT_WRITES_PER_MINUTE,
        `${seen.max} writes within ${60_000 - TRANSIT_ALLOWANCE_MS} ms (budget ${DEFAULT_WRITES_PER_MINUTE}/min); ${seen.detail}; fake's own per-minute peak ${stats.peakPerMinute}`,
      );
      const rejected = e2e.github.calls.filter((c) => c.status >= 400 && c.method !== "GET");
      assert.deepEqual(rejected.map((c) => `${c.method} ${c.path} → ${c.status}`), [], "GitHub refused no write");
    });
  });
}
