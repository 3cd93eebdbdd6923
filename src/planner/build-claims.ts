import type { Redis } from "ioredis";
import { redisCall } from "./redis-transient.js";

/**
 * One build for a commit that is both pushed to a branch and the head of a same-repository pull request.
 *
 * Both the push planner and the pull_request planner plan the same thing for such a commit — the branch's push
 * plan, plus `pr-N` tags when the config pushes pull requests (the "merged plan") — and whoever comes first claims
 * `<prefix>:plan:<repoId>:<sha>:<image>:<branch>` (SET NX, one day) and builds it; the other one sees the claim
 * and creates nothing, not even a skipped check run that would hide the queued one. So both arrival orders
 * build once:
 *  - PR first: the PR planner builds the merged plan (it knows the PR); the push planner finds the claim.
 *  - push first: the push planner builds the branch plan (a push payload names no PR); the PR planner finds the
 *    claim. Only when the config pushes pull requests and the claim lacks this PR's number does the PR planner
 *    queue a PR build for the missing `pr-N` tags (warm from the branch's cache, so mostly a re-tag).
 * Keyed by branch too, so the same commit pushed to two branches still builds for each.
 */
export interface BuildClaim {
  by: "push" | "pull_request";
  /** Identifies the planning run (delivery id): a retried job recognises its own claim. */
  planId: string;
  /** Pull requests whose tags the claimed build pushes. */
  prNumbers: number[];
}

const CLAIM_TTL_SECONDS = 24 * 3600;

export class BuildClaims {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "bkb",
  ) {}

  private key(repoId: number, sha: string, image: string, branch: string): string {
    return `${this.prefix}:plan:${repoId}:${sha}:${image}:${branch}`;
  }

  /** Claims the build; `won` is also true when the existing claim is this planning run's own (a retry). */
  async claim(
    at: { repoId: number; sha: string; image: string; branch: string },
    claim: BuildClaim,
  ): Promise<{ won: true } | { won: false; existing: BuildClaim }> {
    const key = this.key(at.repoId, at.sha, at.image, at.branch);
    const set = await redisCall("claiming a build", () => this.redis.set(key, JSON.stringify(claim), "EX", CLAIM_TTL_SECONDS, "NX"));
    if (set === "OK") return { won: true };
    const existing = await this.get(at);
    if (!existing) return this.claim(at, claim); // expired between the two calls
    return existing.planId === claim.planId ? { won: true } : { won: false, existing };
  }

  async get(at: { repoId: number; sha: string; image: string; branch: string }): Promise<BuildClaim | undefined> {
    const raw = await redisCall("claiming a build", () => this.redis.get(this.key(at.repoId, at.sha, at.image, at.branch)));
    return raw ? (JSON.parse(raw) as BuildClaim) : undefined;
  }
}
