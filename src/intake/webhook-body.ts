import type { IncomingMessage } from "node:http";
import type { BodyBudget } from "./body-budget.js";
import { MalformedDeliveryError, BodyAbortedError, BodyBudgetExhaustedError, BodyTimeoutError, BodyTooLargeError } from "./intake-errors.js";

export interface BodyLimits {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** The whole body must have arrived within this long. */
  timeoutMs: number;
  /** Shared cap on body bytes held by all requests at once. */
  budget: BodyBudget;
  /** Sent as Retry-After (seconds) when the budget is exhausted. */
  retryAfterSeconds: number;
}

export interface ReceivedBody {
  /** Bytes received (the chunks went to `onChunk`; this module keeps none). */
  length: number;
  /** Gives the reserved bytes back to the budget; call once the request is answered. */
  release(): void;
}

/** The declared Content-Length, undefined when absent (chunked), a 400 when it is not a plain byte count. */
function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers["content-length"];
  if (header === undefined) return undefined;
  if (!/^\d{1,16}$/.test(header)) throw new MalformedDeliveryError("content-length is not a byte count");
  return Number(header);
}

/**
 * Reads a request body within `limits`: a declared length over the limit is refused before anything is read;
 * a stream that passes the limit, outgrows the budget or takes too long stops being read at once (the caller
 * answers and destroys the request). `onChunk` gets every chunk as it arrives (the signature check, and whoever
 * keeps the bytes); `onStart` gets the declared length, if any, before the first chunk.
 */
export function readBody(
  req: IncomingMessage,
  limits: BodyLimits,
  onChunk: (chunk: Buffer, received: number) => void,
  onStart?: (declared: number | undefined) => void,
): Promise<ReceivedBody> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limits.maxBytes) return Promise.reject(new BodyTooLargeError(limits.maxBytes));
  let reserved = 0;
  const release = (): void => {
    limits.budget.release(reserved);
    reserved = 0;
  };
  if (declared !== undefined) {
    if (!limits.budget.tryReserve(declared)) return Promise.reject(new BodyBudgetExhaustedError(limits.retryAfterSeconds));
    reserved = declared;
  }
  onStart?.(declared);

  return new Promise<ReceivedBody>((resolve, reject) => {
    let received = 0;
    const timer = setTimeout(() => fail(new BodyTimeoutError(limits.timeoutMs)), limits.timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAbort);
      req.off("close", onAbort);
    };
    const fail = (err: Error): void => {
      cleanup();
      req.pause();
      release();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limits.maxBytes) return fail(new BodyTooLargeError(limits.maxBytes));
      if (received > reserved) {
        if (!limits.budget.tryReserve(received - reserved)) return fail(new BodyBudgetExhaustedError(limits.retryAfterSeconds));
        reserved = received;
      }
      onChunk(chunk, received);
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ length: received, release });
    };
    const onAbort = (): void => fail(new BodyAbortedError());
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onAbort);
    req.on("close", onAbort);
  });
}
