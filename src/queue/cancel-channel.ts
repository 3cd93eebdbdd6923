import type { Redis } from "ioredis";
import { appKey } from "./queue-names.js";

/**
 * Cancel requests for running jobs, over Redis pub/sub: every worker process subscribes, and the one holding
 * the job aborts it. BullMQ's own `Worker.cancelJob` only reaches jobs in the calling process.
 */
export interface CancelMessage {
  jobId: string;
  reason: CancelReason;
}

export type CancelReason = { kind: "superseded"; bySha: string; byBuildId: string; note?: string } | { kind: "requested"; note: string };

export function cancelChannel(prefix: string): string {
  return appKey(prefix, "cancel");
}

export async function publishCancel(redis: Redis, prefix: string, message: CancelMessage): Promise<number> {
  return redis.publish(cancelChannel(prefix), JSON.stringify(message));
}

/**
 * Subscribes on a dedicated connection (a subscribed ioredis client can do nothing else) and calls
 * `onCancel` for every well-formed message. Returns a function that unsubscribes and closes the connection.
 */
export async function subscribeCancels(
  subscriber: Redis,
  prefix: string,
  onCancel: (message: CancelMessage) => void,
): Promise<() => Promise<void>> {
  const channel = cancelChannel(prefix);
  const listener = (ch: string, raw: string): void => {
    if (ch !== channel) return;
    const message = parseCancel(raw);
    if (message) onCancel(message);
  };
  subscriber.on("message", listener);
  await subscriber.subscribe(channel);
  return async () => {
    subscriber.off("message", listener);
    await subscriber.unsubscribe(channel).catch(() => undefined);
    subscriber.disconnect();
  };
}

function parseCancel(raw: string): CancelMessage | undefined {
  try {
    const m = JSON.parse(raw) as Partial<CancelMessage>;
    if (typeof m.jobId !== "string" || typeof m.reason !== "object" || m.reason === null) return undefined;
    return m as CancelMessage;
  } catch {
    return undefined;
  }
}
