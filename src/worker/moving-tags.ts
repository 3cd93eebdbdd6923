import { tagByDigest } from "@buildkit-bot/buildkit";
import type { BuildRequest, BuildResult } from "@buildkit-bot/buildkit";
import { AppError, isTransientError } from "../errors/index.js";
import { readBranchHead } from "../github/index.js";
import type { GitHubClient } from "../github/index.js";
import type { BuildJob, ImagePlan } from "../queue/index.js";

/** The tags that follow a branch (`main`, `latest`), put on the built image after the solve if the branch still points at the commit. */
export interface MovingTags {
  branch: string;
  tags: string[];
}

/** What the build pushed in the end, in the plan's order, and the moving tags left out with why. */
export interface MovingTagsOutcome {
  pushTags: string[];
  leftOut?: { tags: string[]; reason: string };
}

/**
 * The moving tags could not be put on the image. The image itself is in the registry under the commit's own tags
 * (the message names them and the digest); transient when the registry's refusal was.
 */
export class MovingTagsError extends AppError {
  readonly code = "MOVING_TAGS_FAILED";
  override readonly transient: boolean;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.transient = isTransientError(cause);
  }
}

const short = (sha: string): string => sha.slice(0, 7);

/**
 * Splits a plan whose branch tags may move only while the branch points at the commit: the solve pushes the
 * commit's own tags, and the moving ones are added afterwards by a manifest copy, so no GitHub round trip waits
 * before the solve. Undefined when there is nothing to defer, or no commit tag to carry the image to the registry
 * (then the branch is asked before the solve, as it always was).
 */
export function deferMovingTags(job: BuildJob): { image: ImagePlan; moving: MovingTags } | undefined {
  const check = job.image.ifBranchMoved;
  if (!check || !job.image.push || job.fork || check.tags.length === 0) return undefined;
  const kept = new Set(check.tags);
  const moving = job.image.tags.filter((t) => !kept.has(t));
  const { ifBranchMoved: _, ...image } = job.image;
  if (moving.length === 0) return undefined;
  return { image: { ...image, tags: [...check.tags] }, moving: { branch: check.branch, tags: moving } };
}

export interface ApplyMovingTagsDeps {
  /** The installation's client: reads the branch head. */
  installation: GitHubClient;
  /** The request the solve ran: its registry credentials and plain-HTTP setting serve the copy. */
  request: Pick<BuildRequest, "registryAuth" | "output">;
  /** The tags the solve pushed. */
  pushed: readonly string[];
  line(text: string): void;
  signal?: AbortSignal;
}

/**
 * After the solve: asks GitHub where the branch is now, and only if it still points at the commit copies the
 * image's manifest to the moving tags. A branch that moved on while the build ran (or is gone) keeps its tags
 * where they are: they never go back to an older commit.
 */
export async function applyMovingTags(job: BuildJob, moving: MovingTags, result: Pick<BuildResult, "digest">, deps: ApplyMovingTagsDeps): Promise<MovingTagsOutcome> {
  const inPlanOrder = (tags: readonly string[]): string[] => job.image.tags.filter((t) => tags.includes(t));
  const built = `${deps.pushed.join(", ")}${result.digest ? ` (${result.digest})` : ""}`;
  const head = await readBranchHead(deps.installation, { owner: job.repository.owner, repo: job.repository.repo, branch: moving.branch }).catch((err: unknown) => {
    throw new MovingTagsError(`the image was pushed as ${built}, but ${moving.tags.join(", ")} were not moved: ${err instanceof Error ? err.message : String(err)}`, err);
  });
  if (head !== job.sha) {
    const reason = head === undefined ? `branch ${moving.branch} no longer exists` : `branch ${moving.branch} has moved on to ${short(head)}`;
    deps.line(`${reason}: not moving ${moving.tags.join(", ")}`);
    return { pushTags: inPlanOrder(deps.pushed), leftOut: { tags: moving.tags, reason } };
  }
  if (!result.digest) {
    throw new MovingTagsError(`the image was pushed as ${built}, but the daemon reported no digest, so ${moving.tags.join(", ")} could not be moved to it`, undefined);
  }
  try {
    await tagByDigest({
      digest: result.digest,
      names: moving.tags,
      credentials: deps.request.registryAuth ?? [],
      ...(deps.request.output?.type === "image" && deps.request.output.insecure ? { insecure: true } : {}),
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
  } catch (err) {
    if (deps.signal?.aborted) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new MovingTagsError(`the image was pushed as ${built}, but moving ${moving.tags.join(", ")} to it failed: ${why}`, err);
  }
  deps.line(`branch ${moving.branch} still points at ${short(job.sha)}: moved ${moving.tags.join(", ")} to ${result.digest}`);
  return { pushTags: inPlanOrder([...deps.pushed, ...moving.tags]) };
}
