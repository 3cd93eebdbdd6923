import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { tagByDigest } from "../../src/buildkit/registry/tag-by-digest.js";
import { pathComponent } from "../../src/tenancy/index.js";
import { testDaemons } from "../support/daemons.js";
import { isFirstRunnableDaemon, startE2E } from "./support/e2e-harness.js";
import type { E2E } from "./support/e2e-harness.js";
import { pullRequestPayload } from "./support/payloads.js";
import { listTags, manifestDigest } from "./support/registry-api.js";
import { eventually } from "./support/wait.js";

/**
 * Issue 18 point 5 through the whole app (role all): a pull request whose images are pushed is built, then closed;
 * its pr-N tag leaves the registry, while a branch tag on the same image stays (buildcache-pr-N: see
 * test/cleanup/pr-image-cleanup.int.test.ts). The clean-up never reaches a daemon, so one suite runs it.
 */
const TIMEOUT = 240_000;

for (const daemon of testDaemons().filter(isFirstRunnableDaemon)) {
  describe(`e2e: PR image clean-up (${daemon.name})`, { timeout: 600_000 }, () => {
    let e2e: E2E;

    before(async () => {
      e2e = await startE2E({ name: `pr-cleanup-${daemon.kind}`, daemon });
    });

    after(async () => {
      await e2e?.close();
    });

    it("a closed pull request's pr-N tag goes; a branch tag on the same image and the head branch's cache stay", { timeout: TIMEOUT }, async () => {
      const config = ["images:", "  - name: app", "    push: { branches: [main], pull_requests: true }", "    cache: true", ""].join("\n");
      const repo = await e2e.createRepo("reviewed", { "README.md": "hi\n", ".github/buildkit-bot.yml": config });
      const baseSha = await e2e.commit(repo, { Dockerfile: `FROM ${e2e.stack.baseImage}\nRUN echo base\n` });
      await repo.git.setRef("refs/heads/feature", baseSha);
      const headSha = await e2e.commit(repo, { Dockerfile: `FROM ${e2e.stack.baseImage}\nRUN echo ${randomBytes(6).toString("hex")} > /pr\n` }, { branch: "feature" });
      await repo.git.setRef("refs/pull/12/head", headSha);
      e2e.github.setPullRequest(repo.owner, repo.name, 12, { base: baseSha, head: headSha });
      const pr = { number: 12, head: { ref: "feature", sha: headSha }, base: { ref: "main", sha: baseSha } };
      await e2e.pullRequest(repo, { action: "opened", ...pr });

      const checkRun = await e2e.completedCheckRun(repo, headSha, "buildkit-bot / app", TIMEOUT);
      assert.equal(checkRun.conclusion, "success", `${checkRun.output.title}\n${checkRun.output.summary}\n${checkRun.output.text ?? ""}`);
      const path = `${e2e.registryPrefix.slice(e2e.registry.addr.length + 1)}/${pathComponent(e2e.owner)}/reviewed`;
      const digest = await manifestDigest(e2e.registry.addr, path, "pr-12");
      assert.ok(digest, `pr-12 pushed: ${(await listTags(e2e.registry.addr, path)).join(", ")}`);
      // A same-repository pull request is built as its head branch's merged plan: its cache is the branch's.
      const branchCache = await manifestDigest(e2e.registry.addr, path, "buildcache-feature");
      assert.ok(branchCache, `the head branch's cache exported: ${(await listTags(e2e.registry.addr, path)).join(", ")}`);
      // A branch tag on the very same image (as a merged plan or a release copy makes): it must survive the clean-up.
      await tagByDigest({ digest, names: [`${e2e.registry.addr}/${path}:keep-me`] });

      // pull_request.closed (merged): the opened payload with the action GitHub sends on close.
      const closed = await e2e.deliver("pull_request", { ...pullRequestPayload(repo, { action: "opened", ...pr }), action: "closed" });
      assert.equal(closed.status, 200);

      await eventually(async () => ((await manifestDigest(e2e.registry.addr, path, "pr-12")) === undefined ? true : undefined), "pr-12 to be deleted", { timeoutMs: 60_000 });
      assert.equal(await manifestDigest(e2e.registry.addr, path, "keep-me"), digest, "the branch tag still resolves to the same image");
      assert.equal(await manifestDigest(e2e.registry.addr, path, "buildcache-feature"), branchCache, "the branch's cache is the branch's: kept");
      assert.deepEqual((await listTags(e2e.registry.addr, path)).sort(), ["buildcache-feature", "keep-me"]);
    });
  });
}
