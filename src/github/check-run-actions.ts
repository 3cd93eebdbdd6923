/**
 * The buttons our check runs offer (`actions` on a check run; GitHub limits label and identifier to 20
 * characters, description to 40). BuildCheckRun renders them; the check_run handler acts on their identifiers.
 */
export const RebuildAction = {
  Rebuild: { label: "Rebuild", identifier: "rebuild", description: "Build this image again" },
  RebuildNoCache: { label: "Rebuild (no cache)", identifier: "rebuild-no-cache", description: "Build again without the build cache" },
} as const;

export type RebuildActionIdentifier = (typeof RebuildAction)[keyof typeof RebuildAction]["identifier"];

export const REBUILD_ACTIONS = [RebuildAction.Rebuild, RebuildAction.RebuildNoCache] as const;

/**
 * The button on a fork pull request's `action_required` run (the `approve` fork policy): builds the run's commit
 * once the planner has checked that the clicker has write access.
 */
export const FORK_BUILD_ACTION = { label: "Build this commit", identifier: "build-fork", description: "Approve and build this fork commit" } as const;
