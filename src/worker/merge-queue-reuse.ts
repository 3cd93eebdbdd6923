import type { Probot } from "probot";
import { tagByDigest } from "@buildkit-bot/buildkit";
import { readCommitTree } from "../github/index.js";
import type { BuildJob, BuildOutcome, QueueLog } from "../queue/index.js";
import { namespaceViolations, OutsideNamespacesError, repositoryOf } from "../tenancy/index.js";
import type { Tenants } from "../tenancy/index.js";
import { forwardingTrail } from "../trail/index.js";
import type { BuildTrail } from "../trail/index.js";
import { isLoopbackRegistry } from "./build-request-for-job.js";
import { imageConfigHash, mergeQueueRefOf } from "./image-identity.js";
import { installationAccountLogin } from "./installation-token.js";
import type { InstallationAccounts } from "./installation-accounts.js";
import { policyOfJob } from "./namespace-guard.js";
import type { ReusableImage, ReusableImageKey, ReusableImages } from "./reusable-images.js";

/** What one build hands the reuse: its trail, and the worker's GitHub, tenants and accounts. */
export interface ReuseContext {
  github: Pick<Probot, "auth">;
  tenants: Tenants;
  accounts: InstallationAccounts;
  trail: BuildTrail;
  signal: AbortSignal;
}

/** A merge group's image was copied (the build is over), or it is to be built, with why not copied when worth saying. */
export type ReuseAttempt = { kind: "reused"; outcome: BuildOutcome } | { kind: "build"; note?: string };

/** What a merge group may reuse: nothing by choice (`off`), nothing found (`miss`, with why), or a pull request's pushed image. */
export type ReuseLookup = { kind: "off"; line: string } | { kind: "miss"; note: string } | { kind: "found"; image: ReusableImage; tree: string };

const short = (sha: string): string => sha.slice(0, 7);
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Merge queue image reuse. A pull request's build that pushed its image notes it in Redis under the commit's git
 * tree and the image's config hash. A merge group whose commit has that tree, building an image of the same config,
 * copies that manifest to its own tags (the registry copy the moving tags use) instead of solving: the check run
 * says from which build. Anything that stops the copy (no such build, the image gone from the registry, a refused
 * copy) makes it build as before, and the check run says why.
 */
export class MergeQueueReuse {
  constructor(
    private readonly records: ReusableImages,
    private readonly log?: QueueLog,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * For a same-repository pull request's build that pushes: starts reading the commit's tree now (so the solve
   * hides the round trip) and returns what notes the pushed image once the build succeeded. A failed note is said
   * in the build's log and costs the build nothing (a merge group of that tree then builds).
   */
  noteWhenPushed(job: BuildJob, ctx: Pick<ReuseContext, "github" | "trail">): ((digest: string | undefined, pushTags: readonly string[]) => Promise<void>) | undefined {
    const pr = job.pullRequest;
    if (!pr || pr.fork || job.fork || !job.image.push || mergeQueueRefOf(job.ref) !== undefined) return undefined;
    const { owner, repo, installationId } = job.repository;
    const tree = ctx.github.auth(installationId).then((installation) => readCommitTree(installation, { owner, repo, sha: job.sha }));
    tree.catch(() => undefined);
    return async (digest, pushTags) => {
      const repositories = new Set(pushTags.map((t) => repositoryOf(t)));
      const repository = [...repositories][0];
      if (!digest || repositories.size !== 1 || repository === undefined) return;
      try {
        const key = this.keyOf(job, await tree);
        await this.records.note(key, { digest, repository, sha: job.sha, pr: pr.number, pushedAt: this.now() });
        ctx.trail.line(`merge queue: a merge group with tree ${short(key.tree)} may reuse this image`);
      } catch (err) {
        ctx.trail.line(`merge queue: this image was not noted for reuse by merge groups: ${message(err)}`);
        this.log?.warn({ buildId: job.buildId, err: message(err) }, "a pull request's image was not noted for merge queue reuse");
      }
    };
  }

  /**
   * For a merge group's build, before it asks for a builder: whether a pull request's image of the same tree and
   * config was noted (a copy needs no builder, so such a build does not wait for one). Undefined for any other build.
   * Never rejects: whatever stands in the way is a note, and the group builds.
   */
  async lookup(job: BuildJob, github: Pick<Probot, "auth">): Promise<ReuseLookup | undefined> {
    if (mergeQueueRefOf(job.ref) === undefined || !job.image.push || job.fork) return undefined;
    if (job.image.mergeQueueReuse === false) return { kind: "off", line: "reuse is off for this image (merge_queue.reuse: false)" };
    if (job.noCache || job.reason === "rebuild" || job.reason === "rebuild-no-cache") return { kind: "off", line: "a rebuild was asked for" };
    const { owner, repo, installationId } = job.repository;
    let key: ReusableImageKey;
    try {
      key = this.keyOf(job, await readCommitTree(await github.auth(installationId), { owner, repo, sha: job.sha }));
    } catch (err) {
      return { kind: "miss", note: `the tree of ${short(job.sha)} could not be read (${message(err)})` };
    }
    const found = await this.records.find(key).catch((err: unknown) => {
      this.log?.warn({ buildId: job.buildId, err: message(err) }, "merge queue reuse records could not be read");
      return undefined;
    });
    if (!found) return { kind: "miss", note: `no pull request build of tree ${short(key.tree)} with this image's config was pushed` };
    return { kind: "found", image: found, tree: key.tree };
  }

  /** Copies the image `lookup` found to the group's tags and ends the build's trail as reused; or says why it builds. */
  async attempt(job: BuildJob, lookup: ReuseLookup, ctx: ReuseContext): Promise<ReuseAttempt> {
    const fallBack = (note: string): ReuseAttempt => {
      ctx.trail.line(`merge queue: not reused: ${note}; building`);
      return { kind: "build", note };
    };
    if (lookup.kind === "off") {
      ctx.trail.line(`merge queue: ${lookup.line}; building`);
      return { kind: "build" };
    }
    if (lookup.kind === "miss") return fallBack(lookup.note);
    const { image: found, tree } = lookup;
    const { owner, installationId } = job.repository;
    const from = `PR #${found.pr} at ${short(found.sha)}`;
    const tags = [...job.image.tags];
    const elsewhere = tags.find((t) => repositoryOf(t) !== found.repository);
    if (elsewhere !== undefined || tags.length === 0) return fallBack(`the image of ${from} is in ${found.repository}, and this group's tags are not`);

    // The tenants decide where this account may push and with which credentials, as for a build.
    const login = await ctx.accounts.loginFor(installationId, owner, async () => installationAccountLogin((await ctx.github.auth()).request, installationId));
    const policy = policyOfJob(ctx.tenants, job, login);
    const violations = namespaceViolations(tags.map((ref) => ({ use: "push" as const, ref })), policy.namespaces);
    if (violations.length > 0) throw new OutsideNamespacesError(violations, policy.namespaces, policy.account.accountLogin);
    const credentials = policy.registry.credentials;

    ctx.trail.line(`merge queue: tree ${short(tree)} was built and pushed for ${from} with the same image config (${found.digest}); copying it to ${tags.join(", ")}`);
    try {
      await tagByDigest({
        digest: found.digest,
        names: tags,
        credentials: credentials ? [{ host: policy.registry.host, username: credentials.username, password: credentials.password }] : [],
        ...(tags.every((t) => isLoopbackRegistry(t.split("/")[0] ?? "")) ? { insecure: true } : {}),
        signal: ctx.signal,
      });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      return fallBack(`copying the image of ${from} (${found.digest}) failed: ${message(err)}`);
    }
    await ctx.trail.started();
    const summary = `reused ${found.digest} from ${from}: tagged ${tags.join(", ")}`;
    await ctx.trail.succeeded(
      {
        tags,
        pushed: true,
        digest: found.digest,
        stepsDone: 0,
        stepsTotal: 0,
        cachedSteps: 0,
        ...(job.image.platforms.length > 0 ? { platforms: job.image.platforms } : {}),
        reusedFrom: { sha: found.sha, pr: found.pr },
      },
      summary,
    );
    return { kind: "reused", outcome: { digest: found.digest, pushedTags: tags, durationMs: this.now() - ctx.trail.startedAt, summary } };
  }

  private keyOf(job: BuildJob, tree: string): ReusableImageKey {
    return { installationId: job.repository.installationId, repoId: job.repository.repoId, image: job.image.name, tree, configHash: imageConfigHash(job.image) };
  }
}

/** The build's trail, with its success saying why the merge group's image was built rather than reused. */
export function sayingWhyNotReused(trail: BuildTrail, note: string): BuildTrail {
  return forwardingTrail(trail, { succeeded: (result, summary) => trail.succeeded({ ...result, reuseNote: note }, summary) });
}
