import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { buildkitdDaemon } from "../support/daemons.js";
import { startE2E } from "./support/e2e-harness.js";
import type { E2E } from "./support/e2e-harness.js";
import { dumpRedis } from "../worker/worker-test-kit.js";

/**
 * Issue 19.1 through the whole app on buildkitd: main's push builds every step; then a pull request that changes
 * one source file builds on the same daemon, and its check run says which COPY re-ran and which file caused it,
 * with each step cached or ran and the time the cached ones saved.
 */

const TIMEOUT = 300_000;
const daemon = buildkitdDaemon();

describe("e2e: a pull request's check run explains its cache misses", { skip: daemon.skip, timeout: 900_000 }, () => {
  let e2e: E2E;

  before(async () => {
    e2e = await startE2E({ name: "cache-report", daemon });
  });

  after(async () => {
    await e2e?.close();
  });

  it("a PR that changes one source file: the COPY that re-ran and the file that caused it", { timeout: 600_000 }, async () => {
    const stamp = randomBytes(6).toString("hex");
    const repo = await e2e.createRepo("why", { "README.md": "hi\n" });
    const dockerfile = `FROM ${e2e.stack.baseImage}\nRUN echo ${stamp} > /stamp && sleep 1\nCOPY package.txt /app/\nCOPY src/ /app/src/\nRUN ls /app/src > /app/files\n`;

    const main = await e2e.push(repo, { Dockerfile: dockerfile, "package.txt": "deps\n", "src/a.txt": "a\n", "src/b.txt": "b\n" });
    const mainRun = await e2e.completedCheckRun(repo, main.sha, "buildkit-bot / why", TIMEOUT);
    assert.equal(mainRun.conclusion, "success", `${mainRun.output.title}\n${mainRun.output.summary}\n${mainRun.output.text ?? ""}`);
    assert.match(mainRun.output.summary ?? "", /\*\*Cache:\*\* 0 of 4 Dockerfile steps cached; base image (resolved \(not pulled\)|pulled)\./, mainRun.output.summary ?? "");

    await repo.git.setRef("refs/heads/topic", main.sha);
    const head = await e2e.commit(repo, { "src/b.txt": `b, changed ${stamp}\n`, "docs/notes.md": "not in the image\n" }, { branch: "topic" });
    await repo.git.setRef("refs/pull/9/head", head);
    e2e.github.setPullRequest(repo.owner, repo.name, 9, { base: main.sha, head });
    await e2e.pullRequest(repo, { action: "opened", number: 9, head: { ref: "topic", sha: head }, base: { ref: "main", sha: main.sha } });

    const prRun = await e2e.completedCheckRun(repo, head, "buildkit-bot / why", TIMEOUT);
    const summary = prRun.output.summary ?? "";
    assert.equal(prRun.conclusion, "success", `${prRun.output.title}\n${summary}\n${prRun.output.text ?? ""}`);
    assert.ok(summary.startsWith("Built and pushed") || summary.startsWith("Built "), `the headline comes first:\n${summary}`);
    assert.match(
      summary,
      new RegExp(`\\*\\*Why it re-ran:\\*\\* \`\\[4/5\\] COPY src/ /app/src/\` is the first step that ran \\(compared with \`main\` at \`${main.sha.slice(0, 7)}\`\\): a file it copies changed:\\n\\n- \`src/b\\.txt\`\\n`),
      summary,
    );
    assert.doesNotMatch(summary, /docs\/notes\.md/, "a changed file no COPY takes in is not named");
    assert.match(summary, /\| cached \| `\[2\/5\] RUN echo \S+ > \/stamp && sleep 1` \| saved ~\d+\.\ds \|/, `the cached RUN with the time it saved:\n${summary}`);
    assert.match(summary, /\| cached \| `\[3\/5\] COPY package\.txt \/app\/` \|/, summary);
    // The FROM's vertex is shared with any build of the same base running at that moment, and BuildKit may name it
    // as that build's step ("[1/6] FROM …"): its number is not this Dockerfile's to decide.
    assert.match(summary, /\| resolved \| `\[1\/\d+\] FROM [^`]+` \| {2}\|/, `the FROM: its image was at hand, not a step that ran:\n${summary}`);
    assert.match(summary, /\| \*\*ran\*\* \| `\[4\/5\] COPY src\/ \/app\/src\/` \| \d+\.\ds \|/, summary);
    assert.match(summary, /\| \*\*ran\*\* \| `\[5\/5\] RUN ls \/app\/src > \/app\/files` \|/, summary);

    const kept = await dumpRedis(e2e.redisClient, e2e.queuePrefix);
    assert.match(kept, new RegExp(`${e2e.queuePrefix}:bkb:cache-report:${repo.repoId}:why:refs/heads/main\\n`), "main's build record, under the deployment's prefix");
    const ttl = await e2e.redisClient.ttl(`${e2e.queuePrefix}:bkb:cache-report:${repo.repoId}:why:refs/heads/main`);
    assert.ok(ttl > 0, `the record expires (TTL ${ttl})`);
  });
});
