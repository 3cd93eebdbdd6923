import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { startE2E } from "./support/e2e-harness.js";
import type { E2E, E2ERepo } from "./support/e2e-harness.js";
import { testDaemons } from "../support/daemons.js";
import type { TestDaemon } from "../support/daemons.js";
import { startBuildkitd } from "../support/stack/buildkitd.js";
import type { BuildkitdInstance } from "../support/stack/buildkitd.js";
import { testStack } from "../support/stack/env.js";
import { adaptPayload, examplePayload } from "../support/webhooks.js";
import { pushPayload } from "./support/payloads.js";
import { listTags, manifestDigest } from "./support/registry-api.js";
import { eventually } from "./support/wait.js";
import { pathComponent } from "../../src/tenancy/index.js";

/** Issue 19 point 5: GitHub's merge queue on the whole app (role all), buildkitd, the real registry and Redis, the fake GitHub. */

const TIMEOUT = 240_000;
const CONFIG = "images:\n  - name: app\n    push: { pull_requests: true }\n";

/** `merge_group` as GitHub sends it (its example payload), for a group whose commit the test made on the git server. */
function mergeGroupPayload(repo: E2ERepo, group: { action: "checks_requested" | "destroyed"; headRef: string; headSha: string; baseSha: string; reason?: string }): Record<string, unknown> {
  const p = adaptPayload(examplePayload("merge_group", "checks_requested"), repo);
  const mergeGroup = p.merge_group as Record<string, unknown>;
  return {
    ...p,
    action: group.action,
    ...(group.reason ? { reason: group.reason } : {}),
    merge_group: { ...mergeGroup, head_sha: group.headSha, head_ref: group.headRef, base_ref: "refs/heads/main", base_sha: group.baseSha },
  };
}

const stackDaemon = testDaemons().find((d) => d.kind === "buildkitd")!;
/** A buildkitd of this file's own (started in `before`): its build history counts this file's solves only, whatever runs beside it. */
let daemon: TestDaemon = stackDaemon;

async function treeOf(repo: E2ERepo, sha: string): Promise<string> {
  return (await promisify(execFile)("git", ["-C", repo.git.dir, "rev-parse", `${sha}^{tree}`])).stdout.trim();
}

/** The builds buildkitd's build history holds (`buildctl debug histories`): a solve adds one, a reused image none. */
async function solvesOnBuilder(e2e: E2E): Promise<number> {
  const binary = e2e.stack.buildkitdBinary;
  assert.ok(binary, "the stack's buildkitd binary (buildctl lies next to it)");
  const { stdout } = await promisify(execFile)(join(dirname(binary), "buildctl"), ["--addr", daemon.address, "debug", "histories"]);
  return stdout.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("TYPE")).length;
}

describe("e2e: merge queues", { skip: stackDaemon.skip, timeout: 900_000 }, () => {
  let e2e: E2E;
  let base: string;
  const stamp = () => randomBytes(6).toString("hex");

  let dir: string;
  let own: BuildkitdInstance | undefined;

  before(async () => {
    // One builder taking one build at a time: a merge group that copies its PR's image must not wait for it.
    dir = await mkdtemp(join(tmpdir(), "bkb-merge-queue-e2e-"));
    const binary = testStack().buildkitdBinary;
    assert.ok(binary, "the stack's buildkitd binary");
    own = await startBuildkitd({ dir: join(dir, "buildkitd"), binary });
    daemon = { ...stackDaemon, address: own.address };
    const buildersFile = join(dir, "builders.yml");
    await writeFile(buildersFile, ["builders:", `  - name: only\n    address: ${daemon.address}\n    max_concurrent_builds: 1`, ""].join("\n"));
    e2e = await startE2E({ name: "merge-queue", daemon, env: { BUILDKIT_BOT_BUILDERS_FILE: buildersFile } });
    base = e2e.stack.baseImage;
  });
  after(async () => {
    await e2e?.close();
    await own?.stop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("builds a merge group's commit once, reports its check run there, tags it sha-<short> only and moves neither main nor latest", { timeout: TIMEOUT }, async () => {
    const repo = await e2e.createRepo("queued", { "README.md": "hi\n" });
    const main = await e2e.push(repo, { ".github/buildkit-bot.yml": CONFIG, Dockerfile: `FROM ${base}\nRUN echo main-${stamp()} > /stamp\n` });
    assert.equal((await e2e.completedCheckRun(repo, main.sha, "buildkit-bot / app", TIMEOUT)).conclusion, "success");
    const repository = `${e2e.registryPrefix.slice(e2e.registry.addr.length + 1)}/${pathComponent(e2e.owner)}/queued`;
    const mainDigest = await manifestDigest(e2e.registry.addr, repository, "main");
    assert.equal(await manifestDigest(e2e.registry.addr, repository, "latest"), mainDigest);
    const tagsBefore = await listTags(e2e.registry.addr, repository);

    // The queue makes its group's commit on gh-readonly-queue/main/pr-5-<sha>, pushes that branch, and asks for checks.
    const queueBranch = `gh-readonly-queue/main/pr-5-${"c".repeat(40)}`;
    await repo.git.setRef(`refs/heads/${queueBranch}`, main.sha);
    const groupSha = await e2e.commit(repo, { Dockerfile: `FROM ${base}\nRUN echo group-${stamp()} > /stamp\n` }, { branch: queueBranch });
    const pushed = await e2e.deliver("push", pushPayload(repo, { ref: `refs/heads/${queueBranch}`, before: main.sha, after: groupSha, files: ["Dockerfile"] }));
    assert.equal(pushed.status, 200);
    const requested = await e2e.deliver("merge_group", mergeGroupPayload(repo, { action: "checks_requested", headRef: `refs/heads/${queueBranch}`, headSha: groupSha, baseSha: main.sha }));
    assert.equal(requested.status, 200);

    const run = await e2e.completedCheckRun(repo, groupSha, "buildkit-bot / app", TIMEOUT);
    assert.equal(run.conclusion, "success", `${run.output.title}\n${run.output.summary}\n${run.output.text ?? ""}`);
    assert.equal((await e2e.finalStatus(repo, groupSha, "app")).state, "success");
    // One build and one check run for the group's commit: the push of the queue branch built nothing.
    assert.equal(e2e.checkRuns(repo, { sha: groupSha }).length, 1);
    const builds = (await e2e.buildJobs()).filter((b) => b.repository.repoId === repo.repoId && b.sha === groupSha);
    assert.equal(builds.length, 1, builds.map((b) => b.buildId).join(", "));
    assert.equal(builds[0]?.ref, `refs/heads/${queueBranch}`);

    const tags = await listTags(e2e.registry.addr, repository);
    const groupTag = `sha-${groupSha.slice(0, 7)}`;
    assert.deepEqual(tags.filter((t) => !tagsBefore.includes(t)), [groupTag], `only the group's commit tag is new: ${tags.join(", ")}`);
    assert.ok(run.output.summary?.includes(String(await manifestDigest(e2e.registry.addr, repository, groupTag))), run.output.summary ?? "");
    assert.equal(await manifestDigest(e2e.registry.addr, repository, "main"), mainDigest, "main did not move");
    assert.equal(await manifestDigest(e2e.registry.addr, repository, "latest"), mainDigest, "latest did not move");
  });

  it("cancels the build of a merge group GitHub destroyed, saying why", { timeout: TIMEOUT }, async () => {
    const repo = await e2e.createRepo("dequeued", { "README.md": "hi\n" });
    const main = await e2e.commit(repo, { ".github/buildkit-bot.yml": CONFIG, Dockerfile: `FROM ${base}\n` });
    const queueBranch = `gh-readonly-queue/main/pr-9-${"d".repeat(40)}`;
    await repo.git.setRef(`refs/heads/${queueBranch}`, main);
    const marker = `long-step-${stamp()}`;
    const groupSha = await e2e.commit(repo, { Dockerfile: `FROM ${base}\nRUN echo ${marker} && sleep 120\n` }, { branch: queueBranch });
    const headRef = `refs/heads/${queueBranch}`;
    await e2e.deliver("merge_group", mergeGroupPayload(repo, { action: "checks_requested", headRef, headSha: groupSha, baseSha: main }));
    await eventually(
      async () => e2e.checkRuns(repo, { sha: groupSha, name: "buildkit-bot / app" }).find((c) => c.status === "in_progress"),
      "the group's build to start",
      { timeoutMs: TIMEOUT },
    );

    await e2e.deliver("merge_group", mergeGroupPayload(repo, { action: "destroyed", reason: "dequeued", headRef, headSha: groupSha, baseSha: main }));
    const run = await e2e.completedCheckRun(repo, groupSha, "buildkit-bot / app", 60_000);
    assert.equal(run.conclusion, "cancelled", `${run.output.title}\n${run.output.summary}`);
    assert.match(`${run.output.title}\n${run.output.summary}`, /the merge group was dequeued/);
    const build = (await e2e.buildJobs()).find((b) => b.repository.repoId === repo.repoId && b.sha === groupSha);
    assert.ok(build, "the build job");
    const repository = `${e2e.registryPrefix.slice(e2e.registry.addr.length + 1)}/${pathComponent(e2e.owner)}/dequeued`;
    assert.deepEqual((await listTags(e2e.registry.addr, repository)).filter((t) => !t.startsWith("buildcache-")), [], "nothing pushed");
  });

  /** A pull request built and pushed on a repository whose main was built: what a merge group of it may reuse. */
  async function builtPullRequest(name: string, config: string, pr: number): Promise<{ repo: E2ERepo; repository: string; main: string; head: string; dockerfile: string; digest: string }> {
    const repo = await e2e.createRepo(name, { "README.md": "hi\n" });
    const main = await e2e.push(repo, { ".github/buildkit-bot.yml": config, Dockerfile: `FROM ${base}\nRUN echo main-${stamp()} > /stamp\n` });
    assert.equal((await e2e.completedCheckRun(repo, main.sha, "buildkit-bot / app", TIMEOUT)).conclusion, "success");
    const dockerfile = `FROM ${base}\nRUN echo pr-${stamp()} > /stamp\n`;
    await repo.git.setRef("refs/heads/feature", main.sha);
    const head = await e2e.commit(repo, { Dockerfile: dockerfile }, { branch: "feature" });
    await repo.git.setRef(`refs/pull/${pr}/head`, head);
    e2e.github.setPullRequest(repo.owner, repo.name, pr, { base: main.sha, head });
    await e2e.pullRequest(repo, { action: "opened", number: pr, head: { ref: "feature", sha: head }, base: { ref: "main", sha: main.sha } });
    const run = await e2e.completedCheckRun(repo, head, "buildkit-bot / app", TIMEOUT);
    assert.equal(run.conclusion, "success", `${run.output.title}\n${run.output.summary}\n${run.output.text ?? ""}`);
    const repository = `${e2e.registryPrefix.slice(e2e.registry.addr.length + 1)}/${pathComponent(e2e.owner)}/${name}`;
    const digest = await manifestDigest(e2e.registry.addr, repository, `pr-${pr}`);
    assert.ok(digest, "the pull request's image is pushed as pr-N");
    return { repo, repository, main: main.sha, head, dockerfile, digest };
  }

  /** The queue's group commit on gh-readonly-queue/main/pr-<N>-<head>: main plus `files`, then merge_group.checks_requested. */
  async function queueGroup(repo: E2ERepo, pr: { number: number; head: string; main: string }, files: Record<string, string>): Promise<string> {
    const queueBranch = `gh-readonly-queue/main/pr-${pr.number}-${pr.head}`;
    await repo.git.setRef(`refs/heads/${queueBranch}`, pr.main);
    const groupSha = await e2e.commit(repo, files, { branch: queueBranch });
    await e2e.deliver("merge_group", mergeGroupPayload(repo, { action: "checks_requested", headRef: `refs/heads/${queueBranch}`, headSha: groupSha, baseSha: pr.main }));
    return groupSha;
  }

  it("reuses the pull request's image for a merge group of the same tree: no solve, its tag on the PR's digest, the check run says from which build; a group of another tree builds", { timeout: 2 * TIMEOUT }, async (t) => {
    const pr = await builtPullRequest("reused", CONFIG, 11);
    const solvesBefore = await solvesOnBuilder(e2e);
    assert.ok(solvesBefore >= 2, `buildkitd's history holds main's and the PR's builds (${solvesBefore})`);

    // The only builder is busy with another repository's long build while the group arrives.
    const occupant = await e2e.createRepo("occupant", { "README.md": "hi\n" });
    const long = await e2e.push(occupant, { ".github/buildkit-bot.yml": CONFIG, Dockerfile: `FROM ${base}\nRUN echo busy-${stamp()} && sleep 300\n` });
    await eventually(async () => e2e.checkRuns(occupant, { sha: long.sha, name: "buildkit-bot / app" }).find((c) => c.status === "in_progress"), "the occupant's build to start", { timeoutMs: TIMEOUT });
    const solvesWithOccupant = solvesBefore + 1;
    await eventually(async () => (await solvesOnBuilder(e2e)) === solvesWithOccupant || undefined, "the occupant's solve in buildkitd's history", { timeoutMs: 60_000 });

    // The same tree as the PR's head, as a squash or a merge of an up-to-date PR gives; another commit sha.
    const groupSha = await queueGroup(pr.repo, { number: 11, head: pr.head, main: pr.main }, { Dockerfile: pr.dockerfile });
    assert.notEqual(groupSha, pr.head);
    assert.equal(await treeOf(pr.repo, groupSha), await treeOf(pr.repo, pr.head));
    const run = await e2e.completedCheckRun(pr.repo, groupSha, "buildkit-bot / app", TIMEOUT);
    const said = `${run.output.title}\n${run.output.summary}`;
    assert.equal(run.conclusion, "success", said);
    assert.match(run.output.title ?? "", new RegExp(`^Reused from PR #11 \\(${pr.head.slice(0, 7)}\\)`), said);
    assert.ok(run.output.summary?.includes(pr.head), said);
    assert.ok(run.output.summary?.includes(pr.digest), said);
    const groupTag = `sha-${groupSha.slice(0, 7)}`;
    assert.equal(await manifestDigest(e2e.registry.addr, pr.repository, groupTag), pr.digest, "the group's tag points at the PR's image");
    assert.equal(await solvesOnBuilder(e2e), solvesWithOccupant, "nothing was solved for the group");
    assert.equal((await e2e.finalStatus(pr.repo, groupSha, "app")).state, "success");
    assert.equal(e2e.checkRuns(occupant, { sha: long.sha, name: "buildkit-bot / app" })[0]?.status, "in_progress", "reused while the only builder was still busy");
    // A newer commit of the occupant supersedes (ends) its long build and frees the builder.
    const short = await e2e.push(occupant, { Dockerfile: `FROM ${base}\n` });
    assert.equal((await e2e.completedCheckRun(occupant, long.sha, "buildkit-bot / app", TIMEOUT)).conclusion, "cancelled");
    await e2e.completedCheckRun(occupant, short.sha, "buildkit-bot / app", TIMEOUT);
    const solvesAfterOccupant = await solvesOnBuilder(e2e);
    t.diagnostic(`group of the PR's tree: "${run.output.title}"; the PR's own build: "${(await e2e.completedCheckRun(pr.repo, pr.head, "buildkit-bot / app")).output.title}"`);

    // Another pull request merged ahead of this one: the group's tree is not the PR head's, so the image is built.
    const otherSha = await queueGroup(pr.repo, { number: 11, head: pr.head, main: pr.main }, { Dockerfile: pr.dockerfile, "NOTES.md": "ahead\n" });
    const built = await e2e.completedCheckRun(pr.repo, otherSha, "buildkit-bot / app", TIMEOUT);
    assert.equal(built.conclusion, "success", `${built.output.title}\n${built.output.summary}`);
    assert.match(built.output.title ?? "", /^Built in /);
    assert.match(built.output.summary ?? "", /Not reused from the pull request's build: no pull request build of tree [0-9a-f]{7} with this image's config was pushed/);
    assert.equal(await solvesOnBuilder(e2e), solvesAfterOccupant + 1, "the group was solved");
    assert.notEqual(await manifestDigest(e2e.registry.addr, pr.repository, `sha-${otherSha.slice(0, 7)}`), undefined);

    // The PR's image gone from the registry: the copy fails, the group is built, and its check run says why.
    const gone = await fetch(`http://${e2e.registry.addr}/v2/${pr.repository}/manifests/${pr.digest}`, { method: "DELETE" });
    assert.equal(gone.status, 202);
    const lateSha = await queueGroup(pr.repo, { number: 11, head: pr.head, main: pr.main }, { Dockerfile: pr.dockerfile, "README.md": "hi\n" });
    const rebuilt = await e2e.completedCheckRun(pr.repo, lateSha, "buildkit-bot / app", TIMEOUT);
    assert.equal(rebuilt.conclusion, "success", `${rebuilt.output.title}\n${rebuilt.output.summary}`);
    assert.match(rebuilt.output.summary ?? "", new RegExp(`Not reused from the pull request's build: copying the image of PR #11 at ${pr.head.slice(0, 7)} \\(${pr.digest}\\) failed`));
    assert.equal(await solvesOnBuilder(e2e), solvesAfterOccupant + 2, "the group was solved");
  });

  it("builds a merge group of the pull request's tree when the image says merge_queue: { reuse: false }", { timeout: TIMEOUT }, async () => {
    const config = "images:\n  - name: app\n    push: { pull_requests: true }\n    merge_queue: { reuse: false }\n";
    const pr = await builtPullRequest("always-built", config, 21);
    const solvesBefore = await solvesOnBuilder(e2e);
    const groupSha = await queueGroup(pr.repo, { number: 21, head: pr.head, main: pr.main }, { Dockerfile: pr.dockerfile });
    const run = await e2e.completedCheckRun(pr.repo, groupSha, "buildkit-bot / app", TIMEOUT);
    assert.equal(run.conclusion, "success", `${run.output.title}\n${run.output.summary}`);
    assert.match(run.output.title ?? "", /^Built in /);
    assert.doesNotMatch(run.output.summary ?? "", /Reused/);
    assert.equal(await solvesOnBuilder(e2e), solvesBefore + 1, "the group was solved");
  });
});
