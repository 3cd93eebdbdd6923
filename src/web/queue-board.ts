import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import type { Queue } from "bullmq";

export interface QueueBoardOptions {
  /** The operator's token (BUILDKIT_BOT_ADMIN_TOKEN): the basic-auth password, with any user name. */
  token: string;
  queues: readonly Queue[];
  /** Default `/admin/queues`. */
  basePath?: string;
}

export type QueueBoardHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

type ExpressApp = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

const COMMON_HEADERS = { "cache-control": "no-store", "x-content-type-options": "nosniff", "x-robots-tag": "noindex" };

/**
 * Bull Board over the app's queues, for Probot's `addHandler`: `<base>` and everything under it, `false` for other
 * paths. Every request needs basic auth with the token as password (a browser cannot send a bearer header); the
 * board is read-only: its queues are in Bull Board's read-only mode, and any method but GET and HEAD is refused
 * here before Bull Board sees it, so no route of a later Bull Board version can change a queue either.
 */
export function createQueueBoardHandler(options: QueueBoardOptions): QueueBoardHandler {
  const base = (options.basePath ?? "/admin/queues").replace(/\/$/, "");
  // Compared as digests, so neither the comparison's time nor a length check says anything about the token.
  const expected = digest(options.token);
  const adapter = new ExpressAdapter().setBasePath(base);
  createBullBoard({
    queues: options.queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true, allowRetries: false })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: "buildkit-bot" } },
  });
  const board = adapter.getRouter() as ExpressApp;

  return (req, res) => {
    const url = req.url ?? "/";
    const pathname = url.split("?", 1)[0] ?? "/";
    if (pathname !== base && !pathname.startsWith(`${base}/`)) return false;
    if (!authorized(req.headers.authorization, expected)) {
      res.writeHead(401, { ...COMMON_HEADERS, "www-authenticate": 'Basic realm="buildkit-bot queues", charset="UTF-8"', "content-type": "text/plain; charset=utf-8" });
      res.end("Unauthorized\n");
      return true;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...COMMON_HEADERS, allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      res.end("The queue view is read-only\n");
      return true;
    }
    if (pathname === base) {
      // The board's relative links need the trailing slash.
      res.writeHead(302, { ...COMMON_HEADERS, location: `${base}/${url.slice(pathname.length)}` });
      res.end();
      return true;
    }
    // Bull Board's router expects paths relative to where it is mounted.
    req.url = url.slice(base.length);
    board(req, res, (err) => {
      if (res.headersSent) return;
      res.writeHead(err ? 500 : 404, { ...COMMON_HEADERS, "content-type": "text/plain; charset=utf-8" });
      res.end(err ? "Internal Server Error\n" : "Not Found\n");
    });
    return true;
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** `Authorization: Basic base64(user:password)` whose password is the token; any user name. */
function authorized(header: string | undefined, expected: Buffer): boolean {
  const m = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header ?? "");
  if (!m?.[1]) return false;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  return timingSafeEqual(digest(decoded.slice(colon + 1)), expected);
}
