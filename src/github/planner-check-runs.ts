import { formatConfigIssue } from "../config/index.js";
import type {
  ConfigFailureCheckRun,
  ForkGateCheckRun,
  PlannerCheckRuns,
  QueuedCheckRun,
  RefusedCheckRun,
  SkippedCheckRun,
} from "./planner-check-run-types.js";
import { ACCOUNT_CHECK_RUN_NAME, CONFIG_CHECK_RUN_NAME, checkRunName } from "./check-run-names.js";
import { FORK_BUILD_ACTION } from "./check-run-actions.js";
import type { GitHubClient } from "./repo-reader.js";

/** GitHub takes at most 50 annotations per request. */
const MAX_ANNOTATIONS = 50;
/** `output.summary` limit (characters). */
const MAX_SUMMARY = 65_535;

function clip(text: string, max = MAX_SUMMARY): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The planner's check runs written straight through an installation Octokit, one request each.
 * BudgetedPlannerCheckRuns offers the same interface behind the shared write budget.
 */
export class OctokitPlannerCheckRuns implements PlannerCheckRuns {
  constructor(
    private readonly octokit: GitHubClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async createQueuedCheckRun(run: QueuedCheckRun): Promise<number> {
    const res = await this.octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      owner: run.repository.owner,
      repo: run.repository.repo,
      name: checkRunName(run.image),
      head_sha: run.headSha,
      external_id: run.externalId,
      status: "queued",
      output: { title: "Queued", summary: clip(run.summary) },
    });
    return Number(res.data.id);
  }

  async createSkippedCheckRun(run: SkippedCheckRun): Promise<void> {
    await this.octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      owner: run.repository.owner,
      repo: run.repository.repo,
      name: checkRunName(run.image),
      head_sha: run.headSha,
      external_id: run.externalId,
      status: "completed",
      conclusion: "neutral",
      completed_at: this.now().toISOString(),
      output: {
        title: "Skipped",
        summary: clip(`**${run.image}** was not built: ${run.reason}.\n\nUse "Re-run" to build it anyway.`),
      },
    });
  }

  async createConfigFailureCheckRun(run: ConfigFailureCheckRun): Promise<void> {
    const issues = run.issues;
    const list = issues.map((i) => `- \`${run.path}\`: ${formatConfigIssue(i)}`).join("\n");
    const more = issues.length > MAX_ANNOTATIONS ? `\n\nOnly the first ${MAX_ANNOTATIONS} problems are annotated.` : "";
    await this.octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      owner: run.repository.owner,
      repo: run.repository.repo,
      name: CONFIG_CHECK_RUN_NAME,
      head_sha: run.headSha,
      external_id: run.externalId,
      status: "completed",
      conclusion: "failure",
      completed_at: this.now().toISOString(),
      output: {
        title: issues.length === 1 ? `Invalid ${run.path}` : `Invalid ${run.path}: ${issues.length} problems`,
        summary: clip(`Nothing was built: fix \`${run.path}\` and push again.\n\n${list}${more}`),
        annotations: issues.slice(0, MAX_ANNOTATIONS).map((i) => ({
          path: run.path,
          start_line: i.line,
          end_line: i.line,
          annotation_level: "failure" as const,
          message: i.message,
          title: "buildkit-bot config",
        })),
      },
    });
  }

  async createRefusedCheckRun(run: RefusedCheckRun): Promise<void> {
    await this.octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      owner: run.repository.owner,
      repo: run.repository.repo,
      name: ACCOUNT_CHECK_RUN_NAME,
      head_sha: run.headSha,
      external_id: run.externalId,
      status: "completed",
      conclusion: "neutral",
      completed_at: this.now().toISOString(),
      output: { title: "Not built: this account is not served", summary: clip(run.reason) },
    });
  }

  async createForkGateCheckRun(run: ForkGateCheckRun): Promise<void> {
    const sha = run.headSha.slice(0, 12);
    const common = {
      owner: run.repository.owner,
      repo: run.repository.repo,
      name: ACCOUNT_CHECK_RUN_NAME,
      head_sha: run.headSha,
      external_id: run.externalId,
      details_url: run.detailsUrl,
      status: "completed" as const,
      completed_at: this.now().toISOString(),
    };
    if (run.policy === "never") {
      await this.octokit.request("POST /repos/{owner}/{repo}/check-runs", {
        ...common,
        conclusion: "neutral",
        output: {
          title: "Not built: pull requests from forks are not built for this account",
          summary: `This account's builds do not run pull requests from forks (its fork policy is \`never\`), so commit \`${sha}\` of #${run.pullNumber} was not built.`,
        },
      });
      return;
    }
    await this.octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      ...common,
      conclusion: "action_required",
      output: {
        title: "Waiting for a maintainer to approve this fork's commit",
        summary: [
          `#${run.pullNumber} comes from a fork, and this account builds a fork's commits only once someone with write access to the repository approves them.`,
          "",
          `**To build commit \`${sha}\`**, a maintainer either comments \`/build\` on the pull request, or presses **${FORK_BUILD_ACTION.label}** above.`,
          "",
          "Read the changes first: the build runs the fork's Dockerfile on this account's builders. Each new commit on the fork needs a new approval. Comments and clicks from people without write access are ignored.",
        ].join("\n"),
      },
      actions: [FORK_BUILD_ACTION],
    });
  }
}
