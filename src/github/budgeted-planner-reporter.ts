import type { ConfigFailureCheckRun, PlannerReporter, QueuedCheckRun, SkippedCheckRun } from "../planner/planner-reporter.js";
import type { WriteBudget } from "./write-budget.js";

/**
 * The planner's check-run writes behind the shared write budget. Each of them is one request that must not be
 * lost (a build's run, a skipped image's neutral run, the config failure), so each waits for a final slot.
 */
export class BudgetedPlannerReporter implements PlannerReporter {
  constructor(
    private readonly inner: PlannerReporter,
    private readonly budget: WriteBudget,
  ) {}

  async createQueuedCheckRun(run: QueuedCheckRun): Promise<number> {
    await this.budget.acquire("final", `planner:${run.repository.owner}/${run.repository.repo}:${run.headSha}:${run.image}`);
    return this.inner.createQueuedCheckRun(run);
  }

  async createSkippedCheckRun(run: SkippedCheckRun): Promise<void> {
    await this.budget.acquire("final", `planner:${run.repository.owner}/${run.repository.repo}:${run.headSha}:${run.image}`);
    await this.inner.createSkippedCheckRun(run);
  }

  async createConfigFailureCheckRun(run: ConfigFailureCheckRun): Promise<void> {
    await this.budget.acquire("final", `planner:${run.repository.owner}/${run.repository.repo}:${run.headSha}:config`);
    await this.inner.createConfigFailureCheckRun(run);
  }
}
