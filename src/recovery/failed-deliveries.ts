import type { HookDelivery } from "../github/index.js";

/** A delivery none of whose attempts the app answered with 2xx. */
export interface FailedDelivery {
  guid: string;
  event: string;
  /** The newest attempt's id: the one a redelivery is asked for. */
  attemptId: number;
  /** When GitHub first tried it. */
  firstAt: number;
  /** Redeliveries already made (ours or an operator's). */
  redeliveries: number;
  /** The newest attempt's outcome, for the log. */
  lastStatus: string;
}

export interface FailedDeliveryFilter {
  /** Events the app handles; deliveries of others are left alone. */
  events: ReadonlySet<string>;
  /** Deliveries first tried before this time (ms) are out of the window. */
  since: number;
  /** A delivery redelivered this many times already is given up. */
  maxRedeliveries: number;
}

/**
 * The deliveries worth redelivering, oldest first: attempts are grouped by `guid` (GitHub lists each attempt,
 * redeliveries included, as an entry of its own), and a delivery failed when no attempt has `status` "OK".
 */
export function failedDeliveries(attempts: Iterable<HookDelivery>, filter: FailedDeliveryFilter): FailedDelivery[] {
  const byGuid = new Map<string, HookDelivery[]>();
  for (const a of attempts) {
    const list = byGuid.get(a.guid);
    if (list) list.push(a);
    else byGuid.set(a.guid, [a]);
  }
  const failed: FailedDelivery[] = [];
  for (const [guid, list] of byGuid) {
    if (list.some((a) => a.status === "OK")) continue;
    const first = list.reduce((a, b) => (b.deliveredAt < a.deliveredAt ? b : a));
    const last = list.reduce((a, b) => (b.deliveredAt > a.deliveredAt || (b.deliveredAt === a.deliveredAt && b.id > a.id) ? b : a));
    if (!filter.events.has(first.event) || first.deliveredAt < filter.since) continue;
    const redeliveries = list.filter((a) => a.redelivery).length;
    if (redeliveries >= filter.maxRedeliveries) continue;
    failed.push({ guid, event: first.event, attemptId: last.id, firstAt: first.deliveredAt, redeliveries, lastStatus: last.status });
  }
  return failed.sort((a, b) => a.firstAt - b.firstAt);
}
