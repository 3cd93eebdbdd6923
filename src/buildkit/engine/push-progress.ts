import { PushRefusedError } from "../errors.js";

/** One newline-delimited JSON message of the Engine's push (and pull) progress stream. */
export interface PushProgressLine {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: { Tag?: string; Digest?: string; Size?: number };
  error?: string;
  errorDetail?: { message?: string; code?: number };
}

export interface PushOutcome {
  digest?: string;
  size?: number;
  /** The first error line's message; the Engine reports failures inside its HTTP 200 stream. */
  error?: string;
}

const DIGEST_STATUS = /digest: (sha256:[a-f0-9]{64}) size: (\d+)/;

/** Folds the progress lines of one push into its outcome. */
export class PushProgressTracker {
  readonly outcome: PushOutcome = {};

  /** Parses one raw line; returns it when it was a JSON message. */
  accept(raw: string): PushProgressLine | undefined {
    const text = raw.trim();
    if (text === "") return undefined;
    let line: PushProgressLine;
    try {
      line = JSON.parse(text) as PushProgressLine;
    } catch {
      return undefined;
    }
    if (typeof line !== "object" || line === null) return undefined;
    const message = line.errorDetail?.message ?? line.error;
    if (message !== undefined && this.outcome.error === undefined) this.outcome.error = String(message);
    if (line.aux?.Digest) {
      this.outcome.digest = line.aux.Digest;
      if (typeof line.aux.Size === "number") this.outcome.size = line.aux.Size;
    } else if (typeof line.status === "string") {
      const m = DIGEST_STATUS.exec(line.status);
      if (m?.[1]) {
        this.outcome.digest ??= m[1];
        this.outcome.size ??= Number(m[2]);
      }
    }
    return line;
  }
}

const TRANSIENT =
  /connection refused|connection reset|timeout|timed out|temporary failure|no route to host|network is unreachable|unexpected EOF|\bEOF\b|too many requests|\b429\b|\b5\d\d (?:internal|bad|service|gateway)|status(?: code)?:? 5\d\d|service unavailable|bad gateway/i;

/** Whether a push error message describes something a later retry may get past (network, 5xx, rate limit). */
export function isTransientPushError(message: string): boolean {
  return TRANSIENT.test(message);
}

export function pushRefused(registry: string, name: string, registryMessage: string): PushRefusedError {
  return new PushRefusedError(registry, `pushing ${name} failed: ${registryMessage}`, isTransientPushError(registryMessage));
}
