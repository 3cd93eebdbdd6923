import { randomBytes } from "node:crypto";
import type { FakeCheckRun } from "../../support/fake-github/index.js";
import type { E2E, E2ERepo } from "./e2e-harness.js";

/**
 * The check runs a reviewer of an image-changing pull request sees, made by the real app end to end: the base
 * branch is pushed and built, then pull request #1 changes one source file and grows the image by ~270 kB
 * (incompressible), and pull request #2 breaks a test step. Used by the check-run looks test and by
 * scripts/check-run-screenshot.ts (the README's screenshot).
 */

export const SCENARIO_IMAGE = "app";
export const SCENARIO_CHECK = `buildkit-bot / ${SCENARIO_IMAGE}`;

export interface ScenarioRuns {
  repo: E2ERepo;
  /** The base branch's build. */
  base: FakeCheckRun;
  /** Pull request #1: one source file changed, the image grown. */
  grown: FakeCheckRun;
  /** Pull request #2: a failing test step. */
  failed: FakeCheckRun;
}

const dockerfile = (baseImage: string, extra = "") =>
  [
    `FROM ${baseImage}`,
    "WORKDIR /app",
    "COPY packages.txt ./",
    // A pipe, as in most RUN lines: inside a table cell it must not split the cell.
    "RUN sort packages.txt | uniq > /etc/app-packages",
    "COPY src/ ./src/",
    `RUN wc -c src/* > /etc/app-sizes${extra}`,
    'CMD ["sh", "/app/src/main.sh"]',
    "",
  ].join("\n");

/** Runs the three builds on `e2e` (its daemon should be buildkitd: the cache report and size diff need it). */
export async function runCheckRunScenario(e2e: E2E, timeoutMs = 300_000): Promise<ScenarioRuns> {
  const base = e2e.stack.baseImage;
  const repo = await e2e.createRepo(SCENARIO_IMAGE, { "README.md": "An app.\n" });
  const stamp = randomBytes(4).toString("hex");
  const { sha: baseSha } = await e2e.push(repo, {
    // Pull requests' images are pushed, so that their size is compared with the base branch's image.
    ".github/buildkit-bot.yml": `images:\n  - name: ${SCENARIO_IMAGE}\n    push: { pull_requests: true }\n`,
    Dockerfile: dockerfile(base),
    "packages.txt": "curl\njq\n",
    "src/main.sh": `echo "app ${stamp}"\n`,
    "src/data.txt": "small\n",
  });
  const baseRun = await e2e.completedCheckRun(repo, baseSha, SCENARIO_CHECK, timeoutMs);
  if (baseRun.conclusion !== "success") throw new Error(`the base branch's build did not succeed: ${baseRun.output.title}\n${baseRun.output.summary}`);

  const grown = await openPullRequest(e2e, repo, 1, "grow-data", baseSha, { "src/data.txt": `${randomBytes(200_000).toString("base64")}\n` });
  const failed = await openPullRequest(e2e, repo, 2, "broken-test", baseSha, {
    Dockerfile: dockerfile(base, " && sh src/test.sh"),
    "src/test.sh": 'echo "ok 1 - parses an empty file"\necho "not ok 2 - keeps the order of packages"\necho "# expected: curl, jq"\necho "# got:      jq, curl"\nexit 1\n',
  });
  const [grownRun, failedRun] = await Promise.all([
    e2e.completedCheckRun(repo, grown, SCENARIO_CHECK, timeoutMs),
    e2e.completedCheckRun(repo, failed, SCENARIO_CHECK, timeoutMs),
  ]);
  return { repo, base: baseRun, grown: grownRun, failed: failedRun };
}

/** Commits `files` on a branch from `baseSha` and opens pull request `number` for it; returns its head. */
async function openPullRequest(e2e: E2E, repo: E2ERepo, number: number, branch: string, baseSha: string, files: Record<string, string>): Promise<string> {
  await repo.git.setRef(`refs/heads/${branch}`, baseSha);
  const head = await e2e.commit(repo, files, { branch });
  await repo.git.setRef(`refs/pull/${number}/head`, head);
  e2e.github.setPullRequest(repo.owner, repo.name, number, { base: baseSha, head });
  await e2e.pullRequest(repo, { action: "opened", number, head: { ref: branch, sha: head }, base: { ref: "main", sha: baseSha } });
  return head;
}
