// Every call to GitHub after the webhook: repository reads, the planner's and the builds' check runs and statuses, one write budget.
export { BudgetedPlannerCheckRuns } from "./budgeted-planner-check-runs.js";
export { BuildCheckRun, checkRunName } from "./build-check-run.js";
export { FORK_BUILD_ACTION, RebuildAction } from "./check-run-actions.js";
export type { BuildFailure, BuildProgress, BuildSuccess, FailureLocation } from "./check-run-output.js";
export { actionRequiredSince, hasWriteAccess, readOpenPullRequest } from "./fork-approval-reads.js";
export { OctokitPlannerCheckRuns } from "./planner-check-runs.js";
export { ACCOUNT_CHECK_RUN_NAME } from "./planner-check-run-types.js";
export type { PlannerCheckRuns } from "./planner-check-run-types.js";
export { listPullRequestFiles, listPushChangedFiles, readBranchHead, readRepoFile, readRepoFileEntry, RepoReadError } from "./repo-reader.js";
export type { GitHubClient } from "./repo-reader.js";
export { WriteBudget } from "./write-budget.js";
export type { OctokitRequest } from "./octokit-request.js";
