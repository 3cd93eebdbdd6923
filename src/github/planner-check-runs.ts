import { formatConfigIssue } from "../config/config-error.js";
import type {
  ConfigFailureCheckRun,
  PlannerReporter,
  QueuedCheckRun,
  RefusedCheckRun,
  SkippedCheckRun,
} from "../planner/planner-reporter.js";
import { ACCOUNT_CHECK_RUN_NAME, CONFIG_CHECK_RUN_NAME, imageCheckRunName } from "../planner/planner-reporter.js";
import type { GitHubClient } from "./repo-reader.js";

/** GitHub takes at most 50 annotations per request. */
const MAX_ANNOTATIONS = 50;
/** `output.summary` limit (characters). */
const MAX_SUMMARY = 65_535;

function clip(text: string, max = MAX_SUMMARY): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The planner's check runs written straight through an installation Octokit, one request each. The GitHub
 * reporter offers the same interface behind the shared write budget.
 */
export class OctokitPlannerCheckRuns implements PlannerReporter {
  constructor(
    private readonly octokit: GitHubClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async createQueuedCheckRun(run: QueuedCheckRun): Promise<number> {
    const res = await this.octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      owner: run.repository.owner,
      repo: run.repository.repo,
      name: imageCheckRunName(run.image),
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
      name: imageCheckRunName(run.image),
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
}
