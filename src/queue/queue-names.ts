/** Queue names inside the configured prefix (BullMQ keys: `<prefix>:<queue>:…`). */
export const QueueName = {
  /** One job per accepted webhook delivery; consumed by the planner. */
  Events: "events",
  /** One job per image to build; consumed by the build worker. */
  Builds: "builds",
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

/** Our own Redis keys (dedupe claims, attempt counters, supersede sets, cancel channel) under the same prefix. */
export function appKey(prefix: string, ...parts: string[]): string {
  return [prefix, "bkb", ...parts].join(":");
}
