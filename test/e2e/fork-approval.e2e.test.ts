import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { FORK_BUILD_ACTION } from "../../src/github/check-run-actions.js";
import { testDaemons } from "../support/daemons.js";
import { describeRuns, isFirstRunnableDaemon, startE2E } from "./support/e2e-harness.js";
import type { E2E } from "./support/e2e-harness.js";
import { issueCommentPayload } from "./support/payloads.js";
import { eventually } from "./support/wait.js";

/**
 * Issue 15 point 5 end to end: the app (role all) started with a tenants file whose account has `fork_policy:
 * approve`; a stranger's fork PR waits with an `action_required` run, a read-only user's `/build` is refused, a
 * writer's `/build` builds the fork's commit for real on the daemon. Once, on the first daemon that runs: the
 * gate is the planner's, the same on either daemon.
 */
const TIMEOUT = 240_000;
const NAME = "fork-approval";
const run = promisify(execFile);

for (const daemon of testDaemons().filter(isFirstRunnableDaemon)) {
  describe(`e2e: fork approval on ${daemon.name}`, { skip: daemon.skip, timeout: 600_000 }, () => {
    let e2e: E2E;
    let dir: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "bkb-fork-approval-"));
      const tenantsFile = join(dir, "tenants.yml");
      await writeFile(tenantsFile, `unlisted_accounts: refuse\naccounts:\n  - login: e2e-${NAME}\n    fork_policy: approve\n`);
      e2e = await startE2E({ name: NAME, daemon, env: { BUILDKIT_BOT_TENANTS_FILE: tenantsFile } });
    });

    after(async () => {
      await e2e?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("a stranger's fork PR waits for approval; /build by a reader is refused; /build by a writer builds that commit", { timeout: TIMEOUT }, async () => {
      const base = e2e.stack.baseImage;
      const repo = await e2e.createRepo("forked", { "README.md": "hi\n" }, { private: false });
      const baseSha = await e2e.commit(repo, { Dockerfile: `FROM ${base}\nRUN echo base\n` });
      const marker = `fork-approved-${randomBytes(6).toString("hex")}`;
      // The fork's commit reaches the base repository only through the pull request's ref, as on GitHub.
      const headSha = await e2e.commit(repo, { Dockerfile: `FROM ${base}\nRUN echo ${marker}\n` }, { branch: "fork-tmp" });
      await repo.git.setRef("refs/pull/3/head", headSha);
      await run("git", ["update-ref", "-d", "refs/heads/fork-tmp"], { cwd: repo.git.dir });
      e2e.github.setPullRequest(repo.owner, repo.name, 3, { base: baseSha, head: "refs/pull/3/head", headRepo: "forker/forked", authorAssociation: "NONE" });
      e2e.github.setCollaborator(repo.owner, repo.name, "reader", "read");
      e2e.github.setCollaborator(repo.owner, repo.name, "writer", "write");

      await e2e.pullRequest(repo, { action: "opened", number: 3, head: { ref: "patch-1", sha: headSha }, base: { ref: "main", sha: baseSha }, forkOwner: "forker", authorAssociation: "NONE" });
      const gate = await e2e.completedCheckRun(repo, headSha, "buildkit-bot", TIMEOUT);
      assert.equal(gate.conclusion, "action_required", describeRuns(e2e.github, repo));
      assert.equal(gate.details_url, `${e2e.git.url}/${repo.owner}/${repo.name}/pull/3`);
      assert.deepEqual(gate.actions, [FORK_BUILD_ACTION]);
      assert.deepEqual((await e2e.buildJobs()).filter((b) => b.repository.repoId === repo.repoId), [], "nothing built before approval");

      await e2e.deliver("issue_comment", issueCommentPayload(repo, { number: 3, body: "/build", login: "reader" }));
      const permissionPath = (login: string) => `/api/v3/repos/${repo.owner}/${repo.name}/collaborators/${login}/permission`;
      const asked = (login: string) => e2e.github.calls.some((c) => c.path === permissionPath(login) || c.path === permissionPath(login).slice("/api/v3".length));
      await eventually(async () => asked("reader") || undefined, "the reader's permission to be asked", { timeoutMs: 60_000 });
      assert.deepEqual(await e2e.redisClient.keys("*:fork-approval:*"), [], "no approval recorded for the reader");
      assert.deepEqual((await e2e.buildJobs()).filter((b) => b.repository.repoId === repo.repoId), [], "a read-only user's /build builds nothing");

      await e2e.deliver("issue_comment", issueCommentPayload(repo, { number: 3, body: "/build", login: "writer" }));
      const built = await e2e.completedCheckRun(repo, headSha, "buildkit-bot / forked", TIMEOUT);
      assert.equal(built.conclusion, "success", `${built.output.title}\n${built.output.summary}\n${built.output.text ?? ""}`);
      const jobs = (await e2e.buildJobs()).filter((b) => b.repository.repoId === repo.repoId);
      assert.equal(jobs.length, 1, "one build, of the approved commit");
      assert.equal(jobs[0]!.sha, headSha);
      assert.equal(jobs[0]!.gitRef, "refs/pull/3/head");
      assert.equal(jobs[0]!.image.push, false);
      const approvals = await e2e.redisClient.keys(`*:fork-approval:*:${headSha}`);
      assert.equal(approvals.length, 1);
      assert.equal(await e2e.redisClient.get(approvals[0]!), "writer");

      const page = await eventually(async () => {
        const res = await fetch(String(built.details_url));
        return res.ok ? res.text() : undefined;
      }, "the log page");
      assert.ok(page.includes(marker), "the fork's RUN step ran on the daemon");
    });
  });
}
