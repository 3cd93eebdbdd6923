import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { readImageLayers } from "@buildkit-bot/buildkit";
import { formatBytes } from "../../src/github/size-diff-output.js";
import { pathComponent } from "../../src/tenancy/index.js";
import { testDaemons } from "../support/daemons.js";
import { startE2E } from "./support/e2e-harness.js";
import type { E2E } from "./support/e2e-harness.js";

/**
 * Issue 19 point 2 end to end: the real app, the fake GitHub, the registry and each daemon. The default branch is
 * pushed and built, then a pull request (its images pushed) replaces one file with a larger one: its check run
 * shows the image's total against `main` and, layer by layer, the COPY that was added, the one it replaced, and
 * the layer both share.
 */

const TIMEOUT = 300_000;
const CHECK = "buildkit-bot / app";
const noise = (bytes: number): string => randomBytes(Math.ceil((bytes * 3) / 4)).toString("base64").slice(0, bytes);

for (const daemon of testDaemons()) {
  describe(`e2e: size diff against the base branch on ${daemon.name}`, { skip: daemon.skip, timeout: 900_000 }, () => {
    let e2e: E2E;

    before(async () => {
      e2e = await startE2E({ name: `size-diff-${daemon.kind}`, daemon });
    });

    after(async () => {
      await e2e?.close();
    });

    /** The layer sizes of the pushed image under `tag`, read from the registry. */
    async function layerSizes(tag: string): Promise<number[]> {
      const image = `${e2e.registryPrefix}/${pathComponent(e2e.owner)}/app:${tag}`;
      const read = await readImageLayers({ name: image });
      assert.ok(read, `${image} is in the registry`);
      return read.platforms[0]!.layers.map((l) => l.size);
    }

    it("a pull request that grows the image: the check run shows the total, its change, and each layer's", { timeout: TIMEOUT }, async () => {
      const repo = await e2e.createRepo("app", { "README.md": "hi\n" });
      const { sha: baseSha } = await e2e.push(repo, {
        ".github/buildkit-bot.yml": "images:\n  - name: app\n    push: { pull_requests: true }\n",
        Dockerfile: "FROM scratch\nCOPY README.md /README.md\nCOPY data.txt /data.txt\n",
        "data.txt": noise(4_000),
      });
      const baseRun = await e2e.completedCheckRun(repo, baseSha, CHECK, TIMEOUT);
      assert.equal(baseRun.conclusion, "success", `${baseRun.output.title}\n${baseRun.output.summary}`);
      assert.doesNotMatch(baseRun.output.summary ?? "", /Image size/, "the default branch's build compares with nothing");

      await repo.git.setRef("refs/heads/grow", baseSha);
      const head = await e2e.commit(repo, { "data.txt": noise(50_000) }, { branch: "grow" });
      await repo.git.setRef("refs/pull/1/head", head);
      e2e.github.setPullRequest(repo.owner, repo.name, 1, { base: baseSha, head });
      await e2e.pullRequest(repo, { action: "opened", number: 1, head: { ref: "grow", sha: head }, base: { ref: "main", sha: baseSha } });
      const run = await e2e.completedCheckRun(repo, head, CHECK, TIMEOUT);
      const summary = run.output.summary ?? "";
      assert.equal(run.conclusion, "success", `${run.output.title}\n${summary}`);

      const [readme, small] = await layerSizes("main");
      const [, big] = await layerSizes("pr-1");
      const before = readme! + small!;
      const change = `+${formatBytes(big! - small!)}, +${(((big! - small!) / before) * 100).toFixed(1)}%`;
      assert.ok(summary.includes(`**Image size:** ${formatBytes(readme! + big!)} (${change} vs \`main\`)`), summary);
      assert.ok(summary.includes(`Layers: 1 added (${formatBytes(big!)}), 1 removed (${formatBytes(small!)}), 1 unchanged.`), summary);
      const rows = summary.split("\n").filter((l) => /^\| (added|removed|same) \|/.test(l));
      assert.deepEqual(rows, [
        `| added | ${formatBytes(big!)} | \`COPY data.txt /data.txt\` |`,
        `| removed | ${formatBytes(small!)} | \`COPY data.txt /data.txt\` |`,
        `| same | ${formatBytes(readme!)} | \`COPY README.md /README.md\` |`,
      ]);
    });
  });
}
