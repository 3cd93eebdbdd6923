import type { ConfigIssue } from "../config/index.js";
import type { RepositoryRef } from "../queue/index.js";

export interface CheckRunPlace {
  repository: RepositoryRef;
  headSha: string;
  externalId: string;
}

export interface QueuedCheckRun extends CheckRunPlace {
  image: string;
  /** Markdown: what will be built (tags, push, cache, matched files). */
  summary: string;
}

export interface SkippedCheckRun extends CheckRunPlace {
  image: string;
  reason: string;
}

export interface ConfigFailureCheckRun extends CheckRunPlace {
  /** The config file, as annotations point at it. */
  path: string;
  issues: readonly ConfigIssue[];
}

export interface RefusedCheckRun extends CheckRunPlace {
  /** Why the account is not served (the tenants file's decision). */
  reason: string;
}

export interface ForkGateCheckRun extends CheckRunPlace {
  /** `approve`: an `action_required` run with a "Build this commit" button; `never`: a neutral run. */
  policy: "approve" | "never";
  pullNumber: number;
  /** The pull request's page, where a maintainer comments `/build`. */
  detailsUrl: string;
}

/**
 * The check runs the planner writes. `OctokitPlannerCheckRuns` sends each straight through an installation
 * Octokit; `BudgetedPlannerCheckRuns` wraps it behind the shared write budget.
 */
export interface PlannerCheckRuns {
  /** A `queued` run `buildkit-bot / <image>`; returns its id for the build job. */
  createQueuedCheckRun(run: QueuedCheckRun): Promise<number>;
  /** A completed `neutral` run saying why the image was not built, so a required check never hangs. */
  createSkippedCheckRun(run: SkippedCheckRun): Promise<void>;
  /** One completed `failure` run `buildkit-bot / config` with an annotation on each offending line. */
  createConfigFailureCheckRun(run: ConfigFailureCheckRun): Promise<void>;
  /** One completed `neutral` run `buildkit-bot` saying the account is not served; nothing is built. */
  createRefusedCheckRun(run: RefusedCheckRun): Promise<void>;
  /** One run `buildkit-bot` on a fork's commit that the account's fork policy does not build (yet). */
  createForkGateCheckRun(run: ForkGateCheckRun): Promise<void>;
}
