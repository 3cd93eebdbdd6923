import { setTimeout as sleep } from "node:timers/promises";

/** Polls `probe` until it returns something other than undefined/false; fails after `timeoutMs` naming `what`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  opts: { timeoutMs?: number; intervalMs?: number; describe?: () => string | Promise<string> } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const state = opts.describe ? `\n${await opts.describe()}` : "";
      const cause = lastError instanceof Error ? `\nlast error: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${state}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}
