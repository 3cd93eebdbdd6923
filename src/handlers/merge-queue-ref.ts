/**
 * GitHub's merge queue tests each group on a branch of its own, `gh-readonly-queue/<base>/pr-<n>-<sha>`, and
 * sends a `push` for it besides the `merge_group` event: only the latter is built (see merge-group-event.ts).
 */
export const MERGE_QUEUE_REF_PREFIX = "refs/heads/gh-readonly-queue/";
