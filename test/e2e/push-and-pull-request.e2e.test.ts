import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { CONFIG_CHECK_RUN_NAME } from "../../src/github/check-run-names.js";
import { isFirstRunnableDaemon, startE2E } from "./support/e2e-harness.js";
import { testDaemons } from "../support/daemons.js";
import type { E2E } from "./support/e2e-harness.js";
import { pushPayload, ZERO_SHA } from "./support/payloads.js";
import { listTags, manifestDigest } from "./support/registry-api.js";
import { eventually } from "./support/wait.js";
import { pathComponent } from "../../src/tenancy/index.js";

/** Issue 5 item 7 a, b, c, f, g: one app (role all) on each daemon (buildkitd, the Engine), with the real registry, Redis and the fake GitHub. */

const run = promisify(execFile);
const TIMEOUT = 240_000;

for (const daemon of testDaemons()) {
  describe(`e2e: pushes and pull requests on ${daemon.name}`, { skip: daemon.skip, timeout: 900_000 }, () => {
    let e2e: E2E;
    let base: string;
    const stamp = () => randomBytes(6).toString("hex");

    before(async () => {
      e2e = await startE2E({ name: `push-pr-${daemon.kind}`, daemon });
      base = e2e.stack.baseImage;
    });

    after(async () => {
      await e2e?.close();
    });

    it("a) a push builds and pushes the image with its tags; check run and status are success with the registry's digest", { timeout: TIMEOUT }, async () => {
      const repo = await e2e.createRepo("pushed", { "README.md": "hi\n" });
      const { sha } = await e2e.push(repo, { Dockerfile: `FROM ${base}\nRUN echo ${stamp()} > /stamp\nCMD ["cat", "/stamp"]\n` });
      const checkRun = await e2e.completedCheckRun(repo, sha, "buildkit-bot / pushed", TIMEOUT);
      assert.equal(checkRun.conclusion, "success", `${checkRun.output.title}\n${checkRun.output.summary}\n${checkRun.output.text ?? ""}`);

      const repository = `${e2e.registryPrefix.slice(e2e.registry.addr.length + 1)}/${pathComponent(e2e.owner)}/pushed`;
      const tags = await listTags(e2e.registry.addr, repository);
      const expected = ["latest", "main", `sha-${sha.slice(0, 7)}`];
      for (const tag of expected) assert.ok(tags.includes(tag), `tag ${tag} missing from ${repository}: ${tags.join(", ")}`);
      // Anything else there is build cache, never another image tag.
      assert.deepEqual(tags.filter((t) => !expected.includes(t) && !t.startsWith("buildcache-")), []);

      const digests = await Promise.all(expected.map((t) => manifestDigest(e2e.registry.addr, repository, t)));
      const digest = digests[0];
      assert.match(String(digest), /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(new Set(digests), new Set([digest]), "every tag points at one manifest");
      assert.ok(checkRun.output.summary?.includes(String(digest)), `the check run shows the registry's digest ${digest}:\n${checkRun.output.summary}`);

      const status = await e2e.finalStatus(repo, sha, "pushed");
      assert.equal(status.state, "success");
      assert.equal(status.target_url, checkRun.details_url);
    });

    it("b) a pull request with a failing Dockerfile: failure, annotation on the failing line, log tail, nothing pushed", { timeout: TIMEOUT }, async () => {
      const repo = await e2e.createRepo("broken", { "README.md": "hi\n" });
      const baseSha = await e2e.commit(repo, { Dockerfile: `FROM ${base}\nRUN echo fine\n` });
      await repo.git.setRef("refs/heads/feature", baseSha);
      const marker = `about-to-fail-${stamp()}`;
      const headSha = await e2e.commit(repo, { Dockerfile: `FROM ${base}\nRUN echo step-one\nRUN echo ${marker} && exit 3\nRUN echo never\n` }, { branch: "feature" });
      await repo.git.setRef("refs/pull/7/head", headSha);
      e2e.github.setPullRequest(repo.owner, repo.name, 7, { base: baseSha, head: headSha });
      await e2e.pullRequest(repo, { action: "opened", number: 7, head: { ref: "feature", sha: headSha }, base: { ref: "main", sha: baseSha } });

      const checkRun = await e2e.completedCheckRun(repo, headSha, "buildkit-bot / broken", TIMEOUT);
      assert.equal(checkRun.conclusion, "failure", `${checkRun.output.title}\n${checkRun.output.summary}`);
      const annotation = checkRun.annotations.find((a) => a.annotation_level === "failure");
      assert.ok(annotation, `a failure annotation: ${JSON.stringify(checkRun.annotations)}\n${checkRun.output.summary}\n${checkRun.output.text}`);
      assert.equal(annotation.path, "Dockerfile");
      assert.equal(annotation.start_line, 3);
      assert.ok(checkRun.output.text?.includes(marker), `the log tail is in output.text:\n${checkRun.output.text}`);
      assert.equal((await e2e.finalStatus(repo, headSha, "broken")).state, "failure");

      const repository = `${e2e.registryPrefix.slice(e2e.registry.addr.length + 1)}/${pathComponent(e2e.owner)}/broken`;
      assert.deepEqual(await listTags(e2e.registry.addr, repository), [], "nothing pushed");
    });

    it("c) the same delivery sent twice makes one build", { timeout: TIMEOUT }, async () => {
      const repo = await e2e.createRepo("redelivered", { "README.md": "hi\n" });
      const deliveryId = `dup-${stamp()}`;
      const first = await e2e.push(repo, { Dockerfile: `FROM scratch\nCOPY README.md /\n` }, { deliveryId });
      // GitHub's "Redeliver": the same payload under the same X-GitHub-Delivery.
      const payloadAgain = pushPayload(repo, { ref: "refs/heads/main", before: ZERO_SHA, after: first.sha, files: ["Dockerfile"] });
      const again = await e2e.deliver("push", payloadAgain, deliveryId);
      assert.equal(again.status, 200);

      const checkRun = await e2e.completedCheckRun(repo, first.sha, "buildkit-bot / redelivered", TIMEOUT);
      assert.equal(checkRun.conclusion, "success", `${checkRun.output.title}\n${checkRun.output.summary}`);
      assert.equal(e2e.checkRuns(repo, { sha: first.sha }).length, 1, "one check run");
      const builds = (await e2e.buildJobs()).filter((b) => b.repository.repoId === repo.repoId);
      assert.equal(builds.length, 1, `one build job: ${builds.map((b) => b.buildId).join(", ")}`);
      assert.equal(e2e.github.deliveries.filter((d) => d.deliveryId === deliveryId).length, 2);
    });

    // The config check never reaches a daemon: one suite runs it.
    if (isFirstRunnableDaemon(daemon)) {
      it("f) an invalid config fails the config check with an annotation on its line, and builds nothing", { timeout: TIMEOUT }, async () => {
        const repo = await e2e.createRepo("misconfigured", { "README.md": "hi\n" });
        const config = ["images:", "  - name: app", "    platforms:", '      - "linux/amd64 "', ""].join("\n");
        const { sha } = await e2e.push(repo, { ".github/buildkit-bot.yml": config, Dockerfile: "FROM scratch\n" });
        const checkRun = await e2e.completedCheckRun(repo, sha, CONFIG_CHECK_RUN_NAME, TIMEOUT);
        assert.equal(checkRun.conclusion, "failure");
        assert.equal(checkRun.annotations.length, 1, JSON.stringify(checkRun.annotations));
        assert.equal(checkRun.annotations[0]?.path, ".github/buildkit-bot.yml");
        assert.equal(checkRun.annotations[0]?.start_line, 4);
        assert.match(checkRun.annotations[0]?.message ?? "", /platform/);
        // The planner reports the config failure as its last act for this event: nothing else was made.
        assert.deepEqual(e2e.checkRuns(repo).map((c) => c.name), [CONFIG_CHECK_RUN_NAME]);
        assert.deepEqual((await e2e.buildJobs()).filter((b) => b.repository.repoId === repo.repoId), []);
      });
    }

    it("g) a fork pull request is built from refs/pull/N/head, not pushed, and gets no token", { timeout: TIMEOUT }, async () => {
      const repo = await e2e.createRepo("forked", { "README.md": "hi\n" }, { private: false });
      const baseSha = await e2e.commit(repo, { Dockerfile: `FROM ${base}\nRUN echo base\n` });
      const marker = `fork-build-${stamp()}`;
      // The fork's commit reaches the base repository only through the pull request's ref, as on GitHub.
      const headSha = await e2e.commit(repo, { Dockerfile: `FROM ${base}\nRUN echo ${marker}\n` }, { branch: "fork-tmp" });
      await repo.git.setRef("refs/pull/3/head", headSha);
      await run("git", ["update-ref", "-d", "refs/heads/fork-tmp"], { cwd: repo.git.dir });
      e2e.github.setPullRequest(repo.owner, repo.name, 3, { base: baseSha, head: headSha });
      const mintedBefore = new Set(e2e.github.tokens.keys());
      const gitRequestsBefore = e2e.git.requests.length;

      await e2e.pullRequest(repo, { action: "opened", number: 3, head: { ref: "patch-1", sha: headSha }, base: { ref: "main", sha: baseSha }, forkOwner: "forker" });
      const checkRun = await e2e.completedCheckRun(repo, headSha, "buildkit-bot / forked", TIMEOUT);
      assert.equal(checkRun.conclusion, "success", `${checkRun.output.title}\n${checkRun.output.summary}\n${checkRun.output.text ?? ""}`);
      assert.doesNotMatch(checkRun.output.summary ?? "", /pushed/i);

      const build = (await e2e.buildJobs()).find((b) => b.repository.repoId === repo.repoId && b.sha === headSha);
      assert.ok(build, "the build job");
      assert.equal(build.gitRef, "refs/pull/3/head");
      assert.equal(build.fork, true);
      assert.equal(build.image.push, false);

      const repository = `${e2e.registryPrefix.slice(e2e.registry.addr.length + 1)}/${pathComponent(e2e.owner)}/forked`;
      assert.deepEqual(await listTags(e2e.registry.addr, repository), [], "nothing pushed");

      // The daemon fetched the fork's commit, without credentials of any kind.
      const fetches = e2e.git.requests.slice(gitRequestsBefore).filter((r) => r.path.startsWith(`/${repo.owner}/${repo.name}.git/`));
      assert.ok(fetches.length > 0, "the daemon cloned the repository");
      assert.deepEqual(fetches.filter((r) => r.user !== undefined), [], "no authenticated git request");
      assert.ok(fetches.every((r) => r.status === 200), JSON.stringify(fetches));
      // No token scoped to this repository was minted for the build.
      const mintedForRepo = [...e2e.github.tokens.values()].filter(
        (t) => !mintedBefore.has(t.token) && t.repositories?.has(repo.fullName.toLowerCase()) && t.repositories.size === 1,
      );
      assert.deepEqual(mintedForRepo.map((t) => t.requested), []);

      // The log shows what the daemon fetched and that the fork's step ran.
      const page = await eventually(async () => {
        const res = await fetch(String(checkRun.details_url));
        return res.ok ? res.text() : undefined;
      }, "the log page");
      assert.ok(page.includes(marker), "the fork's RUN step is in the log");
      assert.ok(page.includes(`load git source ${repo.git.remote}#refs/pull/3/head`), "the daemon fetched the pull request's ref");
    });
  });
}
