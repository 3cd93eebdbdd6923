import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** Kept well past any planning's retries; an entry left that long has been reconciled many times over. */
const LEDGER_TTL_SECONDS = 3 * 24 * 3600;
const PLAN = "plan:";
const SLOT = "slot";

/** One image of one commit: the check runs named `buildkit-bot / <image>` on `sha`, and the builds of that image. */
export interface RunSlot {
  installationId: number;
  owner: string;
  repo: string;
  repoId: number;
  sha: string;
  image: string;
}

/** An event job's state as BullMQ has it, and when its current attempt started; undefined when the job is gone. */
export type PlannerLookup = (eventJobId: string) => Promise<{ state: string; processedOn?: number } | undefined>;

export interface LedgerEntry {
  slot: RunSlot;
  /** Event job ids whose planning of this slot began and was not seen through to the end. */
  planners: string[];
}

const CLOSE = `
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) <= 1 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
end
return 1
`;

/**
 * Where a check run can be left behind. The planner creates a build's run and queues the build at once, then hands
 * the run's id to the build through Redis; a Redis crash (or a planner's death) between the two leaves a run on
 * GitHub that no build will ever report on. So before creating, the planner writes down the slot (repository, commit,
 * image) and its own event job id here, and strikes its id out once the run is handed over. A slot still listed is
 * one an interrupted planning touched: the reconciler compares its runs on GitHub with the builds that hold them
 * (see orphaned-check-runs.ts). Acknowledged writes survive a Redis restart with its AOF, and the note is written
 * before the create, so every run ever created is either handed over or listed here.
 */
export class CheckRunLedger {
  readonly indexKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.indexKey = `${prefix}:run-ledger`;
  }

  private token(slot: Pick<RunSlot, "repoId" | "sha" | "image">): string {
    const image = createHash("sha256").update(slot.image).digest("hex").slice(0, 16);
    return `${slot.repoId}:${slot.sha}:${image}`;
  }

  private slotKey(token: string): string {
    return `${this.indexKey}:${token}`;
  }

  /**
   * Notes that `plannerId` is about to create a run for the slot. `again` is true when the same planner had
   * already noted it and not struck it out: an earlier attempt of that event job was interrupted in between.
   */
  async open(slot: RunSlot, plannerId: string): Promise<{ again: boolean }> {
    const token = this.token(slot);
    const key = this.slotKey(token);
    const results = await this.redis
      .multi()
      .hsetnx(key, PLAN + plannerId, String(Date.now()))
      .hset(key, SLOT, JSON.stringify(slot))
      .expire(key, LEDGER_TTL_SECONDS)
      .zadd(this.indexKey, Date.now(), token)
      .exec();
    const first = results?.[0];
    if (!first || first[0]) throw first?.[0] ?? new Error("the ledger note was not written");
    return { again: first[1] === 0 };
  }

  /** The run was handed over: strikes the planner out, and the slot with its last planner. */
  async close(slot: RunSlot, plannerId: string): Promise<void> {
    const token = this.token(slot);
    await this.redis.eval(CLOSE, 2, this.slotKey(token), this.indexKey, PLAN + plannerId, token);
  }

  /** Forgets the slot (the reconciler found every run of it concluded and nothing still working on it). */
  async remove(slot: RunSlot): Promise<void> {
    const token = this.token(slot);
    await this.redis.multi().del(this.slotKey(token)).zrem(this.indexKey, token).exec();
  }

  async entry(slot: Pick<RunSlot, "repoId" | "sha" | "image">): Promise<LedgerEntry | undefined> {
    return this.read(this.token(slot));
  }

  /** Every listed slot, oldest note first. */
  async list(limit = 200): Promise<LedgerEntry[]> {
    const tokens = await this.redis.zrange(this.indexKey, 0, limit - 1);
    const out: LedgerEntry[] = [];
    for (const token of tokens) {
      const entry = await this.read(token);
      if (entry) out.push(entry);
      else await this.redis.zrem(this.indexKey, token);
    }
    return out;
  }

  private async read(token: string): Promise<LedgerEntry | undefined> {
    const all = await this.redis.hgetall(this.slotKey(token));
    const raw = all[SLOT];
    if (raw === undefined) return undefined;
    try {
      const slot = JSON.parse(raw) as RunSlot;
      const planners = Object.keys(all).filter((f) => f.startsWith(PLAN)).map((f) => f.slice(PLAN.length));
      return { slot, planners };
    } catch {
      return undefined;
    }
  }

  /**
   * Whether a build queued at `queuedAt` without its run's id may still be handed one: only the planning attempt
   * that queued it hands it over, so only an event job of the slot that is running the attempt it began before
   * the build was queued. Any other state (finished, failed, waiting for its next attempt, gone) means never.
   */
  async mayStillHand(build: { repoId: number; sha: string; image: string; queuedAt: string }, lookup: PlannerLookup): Promise<boolean> {
    const entry = await this.entry(build);
    const queuedAt = Date.parse(build.queuedAt);
    for (const plannerId of entry?.planners ?? []) {
      const planner = await lookup(plannerId);
      if (planner?.state === "active" && (planner.processedOn === undefined || planner.processedOn <= queuedAt)) return true;
    }
    return false;
  }
}
