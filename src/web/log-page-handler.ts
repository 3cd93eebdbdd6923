import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { renderLogPage, pageItems } from "./log-page.js";
import { isWellFormedLogToken } from "../trail/index.js";
import type { LogStore } from "../trail/index.js";

export interface LogPageOptions {
  /** Default `/logs`. */
  basePath?: string;
  /** How often a live page's stream checks Redis for new lines. Default 500 ms. */
  pollMs?: number;
  /** SSE comment sent this often so proxies keep the stream open. Default 15 s. */
  heartbeatMs?: number;
}

export type LogPageHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

// The token is in the URL: never leak it through Referer, caches or search engines.
const COMMON_HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-robots-tag": "noindex",
  "x-content-type-options": "nosniff",
};

function notFound(res: ServerResponse): true {
  res.writeHead(404, { ...COMMON_HEADERS, "content-type": "text/plain; charset=utf-8" });
  res.end("Not Found\n");
  return true;
}

/**
 * `GET <base>/<token>` (the page) and `GET <base>/<token>/events` (Server-Sent Events), for Probot's
 * `addHandler`. Resolves false for every other path. Anything else under `<base>` — unknown or expired tokens,
 * other methods, a bare `<base>` — answers the same plain 404.
 */
export function createLogPageHandler(store: LogStore, options: LogPageOptions = {}): LogPageHandler {
  const base = (options.basePath ?? "/logs").replace(/\/$/, "");
  const pollMs = options.pollMs ?? 500;
  const heartbeatMs = options.heartbeatMs ?? 15_000;

  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return false;
    const m = /^\/([^/]+)(\/events)?\/?$/.exec(url.pathname.slice(base.length));
    if (!m || (req.method !== "GET" && req.method !== "HEAD")) return notFound(res);
    const token = m[1] ?? "";
    if (!isWellFormedLogToken(token)) return notFound(res);
    const buildId = await store.resolve(token);
    if (!buildId) return notFound(res);

    if (!m[2]) {
      const snapshot = await store.read(buildId);
      if (!snapshot) return notFound(res);
      const nonce = randomBytes(16).toString("base64");
      const body = renderLogPage(snapshot, nonce);
      res.writeHead(200, {
        ...COMMON_HEADERS,
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; style-src-attr 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return true;
    }

    const lastEventId = req.headers["last-event-id"];
    let cursor = (typeof lastEventId === "string" && lastEventId) || url.searchParams.get("after") || undefined;
    if (cursor !== undefined && !/^\d+-\d+$/.test(cursor)) cursor = undefined;
    res.writeHead(200, { ...COMMON_HEADERS, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive", "x-accel-buffering": "no" });
    res.write("retry: 2000\n\n");
    let closed = false;
    res.on("close", () => {
      closed = true;
    });
    try {
      await streamEvents(store, buildId, res, cursor, () => closed, pollMs, heartbeatMs);
    } catch {
      // Redis went away mid-stream: end it; EventSource reconnects with Last-Event-ID.
    }
    res.end();
    return true;
  };
}

async function streamEvents(
  store: LogStore,
  buildId: string,
  res: ServerResponse,
  from: string | undefined,
  closed: () => boolean,
  pollMs: number,
  heartbeatMs: number,
): Promise<void> {
  let cursor = from;
  let lastWrite = Date.now();
  while (!closed()) {
    const snapshot = await store.read(buildId, cursor, 500);
    if (!snapshot) return; // expired while watching
    if (snapshot.entries.length > 0) {
      cursor = snapshot.lastId ?? cursor;
      res.write(`id: ${cursor}\nevent: records\ndata: ${JSON.stringify(pageItems(snapshot.entries))}\n\n`);
      lastWrite = Date.now();
      continue;
    }
    if (snapshot.done) {
      res.write("event: end\ndata: {}\n\n");
      return;
    }
    if (Date.now() - lastWrite >= heartbeatMs) {
      res.write(": keep-alive\n\n");
      lastWrite = Date.now();
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
