import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "probot";
import { QueueUnavailableError } from "../queue/index.js";
import { BodyBudget } from "./body-budget.js";
import { BodyWorkerPool } from "./body-worker-pool.js";
import type { BodySession } from "./body-worker-pool.js";
import { readBody } from "./webhook-body.js";
import { answer } from "./webhook-response.js";
import type { BodyLimits, ReceivedBody } from "./webhook-body.js";
import { MalformedDeliveryError, IntakeError, SignatureMismatchError, UnsupportedContentTypeError } from "./intake-errors.js";
import { parsePayload } from "./webhook-payload.js";
import type { WebhookPayload } from "./webhook-payload.js";
import { parseSignatureHeader, SignatureCheck } from "./webhook-signature.js";

/** GitHub caps webhook payloads at 25 MB; nothing larger is a real delivery. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;
/**
 * Body bytes all requests may hold at once: one largest delivery plus ~23 MB of ordinary ones (typically a few
 * kB to a few hundred kB each). The production image caps the old generation at 128 MB; raw bodies are Buffers
 * outside that heap, but the parsed payload is not, so the budget stays well under the cap.
 */
export const BODY_BUDGET_BYTES = 48 * 1024 * 1024;
/** GitHub gives up on a delivery after 10 s, so a body still arriving then is not GitHub's. */
export const BODY_TIMEOUT_MS = 10_000;
const RETRY_AFTER_SECONDS = 5;
/**
 * Bodies up to this size are assembled and parsed on the main thread (a few ms at most); larger ones are kept as
 * their chunks and, once the signature matched, moved to a body worker thread to be decoded and parsed, since
 * touching tens of MB of fresh memory stalls the loop.
 */
export const OFF_THREAD_BYTES = 1024 * 1024;

export interface VerifiedEvent {
  id: string;
  name: string;
  payload: WebhookPayload;
}

export interface WebhookIntakeOptions {
  /** The webhook path (WEBHOOK_PATH, default /api/github/webhooks). */
  path: string;
  secret: string;
  /** Hands a verified, parsed event to the handlers; its errors decide the status. */
  receive(event: VerifiedEvent): Promise<void>;
  log: Logger;
  limits?: Partial<Omit<BodyLimits, "budget">> & { budgetBytes?: number; offThreadBytes?: number };
}

/**
 * A route handler in Probot's server shape: true when it answered the request. `close()` stops its body worker
 * threads (they never keep the process alive on their own).
 */
export type IntakeHandler = ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) & { close(): Promise<void> };

const JSON_CONTENT_TYPE = /^\s*application\/json\s*(?:;|$)/i;
const EVENT_NAME = /^[a-z_]{1,64}$/;
const DELIVERY_ID = /^[\x21-\x7e]{1,200}$/;

function withoutTrailingSlashes(path: string): string {
  return path.replace(/\/+$/, "") || "/";
}

/** Whether the request is for `path` (already without trailing slashes). */
function isForPath(url: string | undefined, path: string): boolean {
  // The usual request names the path exactly (or with a query): no URL to parse for it.
  if (url !== undefined && url.startsWith(path) && (url.length === path.length || url[path.length] === "?")) return true;
  return pathnameOf(url) === path;
}

function pathnameOf(url: string | undefined): string | undefined {
  try {
    return withoutTrailingSlashes(new URL(url ?? "/", "http://localhost").pathname);
  } catch {
    return undefined;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

interface Outcome {
  status: number;
  message: string;
}

/** The status a failed `receive` answers with; details stay in the log. */
function outcomeOf(err: unknown): Outcome {
  const errors = err instanceof AggregateError ? (err.errors as unknown[]) : [err];
  const invalid = errors.find((e): e is IntakeError => e instanceof IntakeError);
  if (invalid) return { status: invalid.status, message: invalid.message };
  if (errors.some((e) => e instanceof QueueUnavailableError)) {
    const queue = new QueueUnavailableError();
    return { status: queue.status, message: `${queue.name}: ${queue.message}` };
  }
  return { status: 500, message: "internal error while handling the event" };
}

/** The headers a delivery must carry, checked before a byte of the body is read. */
function deliveryHeaders(req: IncomingMessage): { id: string; name: string; signature: Buffer } {
  if (!JSON_CONTENT_TYPE.test(header(req, "content-type") ?? "")) throw new UnsupportedContentTypeError();
  const name = header(req, "x-github-event");
  const id = header(req, "x-github-delivery");
  if (name === undefined || !EVENT_NAME.test(name)) throw new MalformedDeliveryError("x-github-event is missing or malformed");
  if (id === undefined || !DELIVERY_ID.test(id)) throw new MalformedDeliveryError("x-github-delivery is missing or malformed");
  const signature = parseSignatureHeader(header(req, "x-hub-signature-256"));
  if (!signature) throw new MalformedDeliveryError("x-hub-signature-256 is missing or malformed");
  return { id, name, signature };
}

/**
 * The webhook endpoint: refuses oversized or over-budget bodies before buffering them, verifies the signature
 * over the raw bytes before any parsing, checks the payload's shape, then hands the event to the handlers and
 * maps their outcome to a status (400 for a payload that is not what its event says, 503 when the queue is
 * down, 500 for anything else). Other paths are left to the next handler.
 */
export function createWebhookIntake(opts: WebhookIntakeOptions): IntakeHandler {
  const path = withoutTrailingSlashes(opts.path);
  const limits: BodyLimits = {
    maxBytes: opts.limits?.maxBytes ?? MAX_WEBHOOK_BYTES,
    timeoutMs: opts.limits?.timeoutMs ?? BODY_TIMEOUT_MS,
    retryAfterSeconds: opts.limits?.retryAfterSeconds ?? RETRY_AFTER_SECONDS,
    budget: new BodyBudget(opts.limits?.budgetBytes ?? BODY_BUDGET_BYTES),
  };
  const offThreadBytes = opts.limits?.offThreadBytes ?? OFF_THREAD_BYTES;
  const pool = new BodyWorkerPool();
  const log = opts.log.child({ name: "webhook-intake" });

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (!isForPath(req.url, path)) return false;
    if (req.method !== "POST") {
      answer(req, res, 404, `unknown route: ${req.method ?? ""} ${path}`);
      return true;
    }
    let body: ReceivedBody | undefined;
    let session: BodySession | undefined;
    let where: { event?: string; deliveryId?: string } = {};
    try {
      const delivery = deliveryHeaders(req);
      where = { event: delivery.name, deliveryId: delivery.id };
      const check = new SignatureCheck(opts.secret);
      let kept: Buffer[] = [];
      const offThread = (): BodySession => {
        session = pool.open();
        for (const c of kept) session.push(c);
        kept = [];
        return session;
      };
      body = await readBody(
        req,
        limits,
        (chunk, received) => {
          check.update(chunk);
          if (session === undefined && received > offThreadBytes) offThread();
          if (session) session.push(chunk);
          else kept.push(chunk);
        },
        (declared) => {
          if (declared !== undefined && declared > offThreadBytes) offThread();
        },
      );
      if (!check.matches(delivery.signature)) throw new SignatureMismatchError();
      const payload = session ? await session.parse(delivery.name) : parsePayload(delivery.name, kept.length === 1 ? (kept[0] as Buffer) : Buffer.concat(kept, body.length));
      kept = [];
      await opts.receive({ id: delivery.id, name: delivery.name, payload });
      answer(req, res, 200, "ok");
    } catch (err) {
      if (err instanceof IntakeError) {
        log.warn({ ...where, status: err.status, problem: err.message }, `webhook refused: ${err.message}`);
        answer(req, res, err.status, err.message, err.headers);
      } else {
        const outcome = outcomeOf(err);
        if (outcome.status >= 500) log.error({ ...where, err }, `webhook failed: ${outcome.message}`);
        else log.warn({ ...where, status: outcome.status, problem: outcome.message }, `webhook refused: ${outcome.message}`);
        answer(req, res, outcome.status, outcome.message);
      }
    } finally {
      session?.drop();
      body?.release();
    }
    return true;
  };
  return Object.assign(handler, { close: () => pool.close() });
}
