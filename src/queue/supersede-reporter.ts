import type { BuildJob } from "./job-types.js";

/** Who made a build obsolete. */
export interface SupersededBy {
  sha: string;
  buildId: string;
}

/**
 * Tells GitHub that a build was superseded: its check run completes as `cancelled` and its commit status
 * becomes `error`, both with `supersededMessage(by.sha)`. Implemented by the GitHub reporter; tests use a
 * recording implementation.
 */
export interface SupersedeReporter {
  superseded(build: BuildJob, by: SupersededBy): Promise<void>;
}

export function supersededMessage(sha: string): string {
  return `superseded by ${sha.slice(0, 7)}`;
}
