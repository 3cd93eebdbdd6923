import { ProbotOctokit } from "probot";
import { githubRequestMetrics } from "../metrics/index.js";

type OctokitOptions = NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>;

/**
 * The Octokit class Probot uses in this app (passed to `run()` and to the workers' Probot). Retries belong
 * to BullMQ alone: plugin-retry is off. The throttling plugin is off too: it would run one write at a time per
 * process, 1 s apart, adding seconds to every build, while the app-wide Redis write budget (src/github/write-budget.ts)
 * already keeps writes under GitHub's secondary limits. A rate-limited request simply fails; the job's attempt fails
 * as transient (isTransientError: 5xx, 429, 403 rate limit) and the backoff honours the reset time. Without this a
 * GitHub 5xx inside a job would be retried by Octokit and then again by BullMQ.
 *
 * A function default, not an object: Probot wraps this class with its own throttle options, and only a function
 * sees — and can override — what Probot passes in. Every request is counted in the metrics (src/metrics).
 */
export const JobOctokit: typeof ProbotOctokit = ProbotOctokit.defaults((options: OctokitOptions): OctokitOptions => ({
  ...options,
  retry: { ...options.retry, enabled: false },
  throttle: { ...options.throttle, enabled: false },
})).plugin(githubRequestMetrics);
