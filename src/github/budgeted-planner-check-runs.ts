import type { ConfigFailureCheckRun, ForkGateCheckRun, PlannerCheckRuns, QueuedCheckRun, RefusedCheckRun, SkippedCheckRun } from "./planner-check-run-types.js";
import type { WriteBudget } from "./write-budget.js";

/**
 * The planner's check-run writes behind the shared write budget. Each of them is one request that must not be
 * lost (a build's run, a skipped image's neutral run, the config failure), so each waits for a final slot, and
 * waits out an app-wide pause and is sent again when GitHub asks the app to slow down.
 */
export class BudgetedPlannerCheckRuns implements PlannerCheckRuns {
  constructor(
    private readonly inner: PlannerCheckRuns,
    private readonly budget: WriteBudget,
  ) {}

  async createQueuedCheckRun(run: QueuedCheckRun): Promise<number> {
    let id: number | undefined;
    await this.budget.send("final", key(run, run.image), async () => {
      id = await this.inner.createQueuedCheckRun(run);
    });
    return id as number;
  }

  async createSkippedCheckRun(run: SkippedCheckRun): Promise<void> {
    await this.budget.send("final", key(run, run.image), () => this.inner.createSkippedCheckRun(run));
  }

  async createConfigFailureCheckRun(run: ConfigFailureCheckRun): Promise<void> {
    await this.budget.send("final", key(run, "config"), () => this.inner.createConfigFailureCheckRun(run));
  }

  async createRefusedCheckRun(run: RefusedCheckRun): Promise<void> {
    await this.budget.send("final", key(run, "account"), () => this.inner.createRefusedCheckRun(run));
  }

  async createForkGateCheckRun(run: ForkGateCheckRun): Promise<void> {
    await this.budget.send("final", key(run, "fork-gate"), () => this.inner.createForkGateCheckRun(run));
  }
}

function key(run: QueuedCheckRun | SkippedCheckRun | ConfigFailureCheckRun | RefusedCheckRun | ForkGateCheckRun, what: string): string {
  return `planner:${run.repository.owner}/${run.repository.repo}:${run.headSha}:${what}`;
}
