import type { EventJob } from "../queue/index.js";
import { AppError } from "../errors/index.js";

/** What a payload turns into: one event job, a deliberate no-op, or a payload we cannot read. */
export type HandlerResult =
  | { kind: "job"; job: EventJob }
  | { kind: "ignored"; reason: string }
  | { kind: "invalid"; problem: string };

/** Facts about our side the handlers need; nothing here comes from a GitHub API call. */
export interface HandlerContext {
  deliveryId: string;
  /** Our App id: check runs/suites of other apps are not ours to rerun. */
  appId: number;
  /** Clone base URL, e.g. `https://github.com`, no trailing slash. */
  gitBaseUrl: string;
  now?: () => Date;
}

/** Thrown by the field readers; turned into `{ kind: "invalid" }`. */
export class PayloadError extends AppError {
  readonly code = "PAYLOAD_INVALID";
  constructor(message: string) {
    super(message);
  }
}

export function invalidOnPayloadError(fn: () => HandlerResult): HandlerResult {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PayloadError) return { kind: "invalid", problem: err.message };
    throw err;
  }
}
