import type { IncomingMessage, ServerResponse } from "node:http";

/** How long a refused body may keep arriving (discarded) after the answer, so the client can read it. */
const LINGER_MS = 2_000;

/**
 * After answering a request whose body was not read to the end: discard what still arrives (nothing is kept),
 * and destroy the connection if the body has not ended within LINGER_MS. Closing at once would reset the
 * connection while the client is still sending, and the client could lose the answer. (A client that sent
 * `Connection: close` gets Node's own handling: the socket is closed once the answer is written.)
 */
function lingerThenDestroy(req: IncomingMessage): void {
  const socket = req.socket;
  req.resume();
  if (req.complete) return;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  req.once("end", () => clearTimeout(timer));
}

/**
 * Answers `ok` (2xx) or `{"error": message}` with a short plain message. A request whose body was not read
 * to the end is then drained for a moment and destroyed (see lingerThenDestroy).
 */
export function answer(req: IncomingMessage, res: ServerResponse, status: number, message: string, headers: Readonly<Record<string, string>> = {}): void {
  const ok = status < 300;
  const body = ok ? `${message}\n` : `${JSON.stringify({ error: message })}\n`;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    ...headers,
    "content-type": ok ? "text/plain" : "application/json",
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
  if (!req.complete) res.once("finish", () => lingerThenDestroy(req));
}
