/**
 * Fair order of the events queue across installations, from this process's memory: the BullMQ `priority` each event
 * job is added with. No Redis call of its own, so the webhook path keeps its one round trip (the add).
 *
 * Start-time fair queuing, with a virtual clock that is the wall clock in seconds. Each installation has a finish
 * tag: the virtual time its events so far are "paid up" to, one second of virtual time per event. An event's tag is
 * max(now, the installation's finish tag), and its priority is that tag (BullMQ runs smaller priorities first, in
 * the order they were added within one priority). So:
 *  - an installation with no recent events gets the tag "now", ahead of every event another installation queued
 *    beyond its share: B's first event runs after at most the A events whose tags had come due, not after A's
 *    whole backlog of 100;
 *  - installations with backlogs at the same time alternate (tags now, now+1, … each);
 *  - one installation's tags never decrease, so its events keep their order within this process;
 *  - no event waits forever: a later event's tag is at least its own "now", so an event is overtaken only by events
 *    that arrive within its installation's lead, which is capped at MAX_LEAD_S.
 * Its limits: each web process keeps its own tags, so with several web processes one installation's events are in
 * order per process, while two of them taken by different processes are ordered by their tags, which can put the
 * later one first. (Nor did FIFO guarantee the planning order: events are planned by several slots at once.) What
 * depends on the order, one branch's pushes superseding each other, goes by the webhook's arrival time instead
 * (supersede-registry.ts). And the priority is the tag modulo BullMQ's 2^21 priorities,
 * which wraps once every 24 days: events still waiting at that second are overtaken by later ones, once.
 * A redelivery that the queue deduplicates still counts in its installation's share (one second).
 *
 * A job without a priority runs before every prioritised one in BullMQ: every event job gets one here.
 */

/** BullMQ accepts priorities 0..2^21, 0 meaning none. */
const PRIORITIES = 2 ** 21;

/** How far an installation's tag may run ahead of now: its events past that share the last tag, in arrival order. */
export const MAX_LEAD_S = 600;

/** Installations remembered before the ones whose tags came due are forgotten (they need no entry). */
const PRUNE_AT = 1_000;

export interface EventFairnessOptions {
  /** Milliseconds since the epoch (the same clock in every process). */
  now?: () => number;
  maxLeadS?: number;
}

export class EventFairness {
  readonly #finish = new Map<number, number>();
  readonly #now: () => number;
  readonly #maxLead: number;
  #pruneAt = PRUNE_AT;

  constructor(opts: EventFairnessOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#maxLead = opts.maxLeadS ?? MAX_LEAD_S;
  }

  /** The priority of the next event of `installationId` (1..2^21 - 1), counting it in its installation's share. */
  priorityOf(installationId: number): number {
    const now = Math.floor(this.#now() / 1000);
    const tag = Math.min(Math.max(now, this.#finish.get(installationId) ?? now), now + this.#maxLead);
    this.#finish.set(installationId, tag + 1);
    if (this.#finish.size >= this.#pruneAt) this.#prune(now);
    return (tag % (PRIORITIES - 1)) + 1;
  }

  /** Installations with events paid up past now (the rest behave as if they had no entry). */
  get installations(): number {
    return this.#finish.size;
  }

  #prune(now: number): void {
    for (const [id, finish] of this.#finish) if (finish <= now) this.#finish.delete(id);
    this.#pruneAt = Math.max(PRUNE_AT, 2 * this.#finish.size);
  }
}
