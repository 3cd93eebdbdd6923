import { GitCloneRefusedError } from "@buildkit-bot/buildkit";
import type { BuildKitClient } from "@buildkit-bot/buildkit";
import { AppError } from "../errors/index.js";
import type { QueueLog } from "../queue/index.js";

/** The builder's clone of the repository was damaged and has been deleted: the next attempt clones afresh. */
export class GitCloneDamagedError extends AppError {
  readonly code = "GIT_CLONE_DAMAGED";
  override readonly transient = true;
  constructor(
    cause: GitCloneRefusedError,
    /** The daemons' cache records deleted; none when every damaged clone was still held by another build. */
    readonly deleted: readonly string[],
  ) {
    super(
      `the builder's own clone of the repository was damaged (git objects missing or corrupt); ${
        deleted.length > 0 ? "it was deleted, and the next attempt clones afresh" : "another build still held it, so it could not be deleted yet"
      }`,
      { cause },
    );
  }
}

/**
 * What a failed solve means for the builders' clones of the repository. When git found the daemon's kept clone
 * damaged, every builder of the build deletes its clone of the remote (`forgetGitRemote`) and the attempt becomes a
 * retry (also when another build still holds the clone: the queue's attempts bound the retries); were it kept,
 * every later build of the repository on that builder would fail the same way. When the builder cannot be asked
 * (gone, or refusing) the failure is returned as it is.
 */
export async function afterDamagedGitClone(err: unknown, remote: string | undefined, builders: readonly Pick<BuildKitClient, "forgetGitRemote" | "address">[], log: QueueLog): Promise<unknown> {
  if (!(err instanceof GitCloneRefusedError) || err.failure !== "damaged-cache" || remote === undefined || builders.length === 0) return err;
  const forgotten = await Promise.all(builders.map((client) => client.forgetGitRemote(remote))).catch((cause: unknown) => {
    log.warn({ err: cause instanceof Error ? cause.message : String(cause) }, "could not delete a builder's damaged clone of the repository");
    return undefined;
  });
  if (!forgotten) return err;
  const deleted = forgotten.flat();
  const where = { builders: builders.map((b) => b.address), records: deleted };
  log.info(where, deleted.length > 0 ? "deleted a builder's damaged clone of the repository" : "a builder's damaged clone of the repository is still held by another build");
  return new GitCloneDamagedError(err, deleted);
}
