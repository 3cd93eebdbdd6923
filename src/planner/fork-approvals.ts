import type { Redis } from "ioredis";
import { redisCall } from "./redis-transient.js";

/** Where one approval applies: a pull request's head commit, in one repository of one installation. */
export interface ApprovalPlace {
  installationId: number;
  repoId: number;
  pullNumber: number;
  sha: string;
}

/** Kept as long as a fork's commit can reasonably be re-run; a later approval writes it again. */
const APPROVAL_TTL_SECONDS = 90 * 24 * 3600;

/**
 * Approvals of fork builds under the `approve` policy, bound to the exact head commit: a new commit on the fork
 * has no approval until someone with write access gives one. The value records who approved, for the logs.
 */
export class ForkApprovals {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "bkb",
  ) {}

  #key(at: ApprovalPlace): string {
    return `${this.prefix}:fork-approval:${at.installationId}:${at.repoId}:${at.pullNumber}:${at.sha.toLowerCase()}`;
  }

  async approve(at: ApprovalPlace, by: string): Promise<void> {
    await redisCall("recording a fork build's approval", () => this.redis.set(this.#key(at), by, "EX", APPROVAL_TTL_SECONDS));
  }

  /** Who approved this commit, or undefined. */
  async approvedBy(at: ApprovalPlace): Promise<string | undefined> {
    return (await redisCall("reading a fork build's approval", () => this.redis.get(this.#key(at)))) ?? undefined;
  }
}
