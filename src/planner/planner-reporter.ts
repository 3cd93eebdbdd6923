import type { ConfigIssue } from "../config/config-error.js";
import type { RepositoryRef } from "../queue/job-types.js";

/** Check-run name for one image, and for the config itself. */
export const imageCheckRunName = (image: string): string => `buildkit-bot / ${image}`;
export const CONFIG_CHECK_RUN_NAME = "buildkit-bot / config";

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

/**
 * The check runs the planner writes. The GitHub reporter implements it behind the shared write budget;
 * `planner-check-runs.ts` is a direct Octokit implementation.
 */
export interface PlannerReporter {
  /** A `queued` run `buildkit-bot / <image>`; returns its id for the build job. */
  createQueuedCheckRun(run: QueuedCheckRun): Promise<number>;
  /** A completed `neutral` run saying why the image was not built, so a required check never hangs. */
  createSkippedCheckRun(run: SkippedCheckRun): Promise<void>;
  /** One completed `failure` run `buildkit-bot / config` with an annotation on each offending line. */
  createConfigFailureCheckRun(run: ConfigFailureCheckRun): Promise<void>;
}
