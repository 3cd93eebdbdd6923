import { AppError } from "../errors/index.js";

/**
 * Why the webhook intake refused a delivery. Each carries the HTTP status and a plain message that is safe to
 * show whoever sent the request (no stack, no library internals); details for us go to the log.
 */
export abstract class IntakeError extends AppError {
  abstract readonly status: number;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Readonly<Record<string, string>> = {};
}

/** Over the size GitHub ever sends: refused from Content-Length, or as soon as the stream passes the limit. */
export class BodyTooLargeError extends IntakeError {
  readonly code = "BODY_TOO_LARGE";
  readonly status = 413;
  constructor(readonly limitBytes: number) {
    super(`request body is larger than ${limitBytes} bytes`);
  }
}

/** Bodies already in flight hold the whole memory budget: try again shortly. */
export class BodyBudgetExhaustedError extends IntakeError {
  readonly code = "BODY_BUDGET_EXHAUSTED";
  override readonly transient = true;
  readonly status = 503;
  override readonly headers: Readonly<Record<string, string>>;
  constructor(retryAfterSeconds: number) {
    super("too many request bodies in flight, retry later");
    this.headers = { "retry-after": String(retryAfterSeconds) };
  }
}

/** The body did not arrive in time (GitHub sends a whole delivery well within its own 10 s timeout). */
export class BodyTimeoutError extends IntakeError {
  readonly code = "BODY_TIMEOUT";
  readonly status = 408;
  constructor(timeoutMs: number) {
    super(`request body not received within ${timeoutMs} ms`);
  }
}

/** The client went away or the stream broke before the body ended. */
export class BodyAbortedError extends IntakeError {
  readonly code = "BODY_ABORTED";
  readonly status = 400;
  constructor() {
    super("request body ended early");
  }
}

/**
 * A malformed delivery: required webhook headers missing or malformed (checked before the body is read), or a
 * correctly signed payload that is not what its event says (not JSON, wrong shape, no installation…).
 */
export class MalformedDeliveryError extends IntakeError {
  readonly code = "MALFORMED_DELIVERY";
  readonly status = 400;
}

/** Not `application/json`: GitHub is configured to send JSON. */
export class UnsupportedContentTypeError extends IntakeError {
  readonly code = "UNSUPPORTED_CONTENT_TYPE";
  readonly status = 415;
  constructor() {
    super('content-type must be "application/json"');
  }
}

/** X-Hub-Signature-256 does not match the body. */
export class SignatureMismatchError extends IntakeError {
  readonly code = "SIGNATURE_MISMATCH";
  readonly status = 400;
  constructor() {
    super("signature does not match");
  }
}
