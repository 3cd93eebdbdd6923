import { request as httpRequest, createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort } from "node:worker_threads";
import type { FromProxyThread, ToProxyThread } from "./timing-proxy.js";

/**
 * The timing proxy's server, on a thread of its own: the bench's main thread also runs the fake GitHub and the git
 * server, whose work (a clone spawns git) would otherwise hold up the moment a request is seen to arrive.
 */
const port = parentPort;
if (!port) throw new Error("timing-proxy-thread.ts runs as a worker thread");
const post = (message: FromProxyThread): void => port.postMessage(message);

let target = "";
const waiting: Array<() => void> = [];

const server = createServer((req, res) => {
  const start = Date.now();
  if (!target) {
    waiting.push(() => forward(req, res, start));
    return;
  }
  forward(req, res, start);
});

function forward(req: IncomingMessage, res: ServerResponse, start: number): void {
  const url = new URL(req.url ?? "/", target);
  const chunks: Buffer[] = [];
  let size = 0;
  req.on("data", (c: Buffer) => {
    size += c.length;
    if (size <= 256 * 1024) chunks.push(c);
  });
  const upstream = httpRequest(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
    res.once("finish", () => {
      const body = size > 0 && size <= 256 * 1024 ? parseBody(Buffer.concat(chunks)) : undefined;
      post({
        type: "call",
        call: {
          method: req.method ?? "GET",
          path: url.pathname.replace(/^\/api\/v3(?=\/)/, ""),
          status: up.statusCode ?? 0,
          start,
          end: Date.now(),
          ...(body ? { body } : {}),
        },
      });
    });
  });
  upstream.once("error", (err) => {
    res.writeHead(502, { "content-type": "text/plain" });
    res.end(`timing proxy: ${err.message}`);
  });
  req.pipe(upstream);
}

function parseBody(raw: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw.toString("utf8"));
    return value && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

port.on("message", (message: ToProxyThread) => {
  if (message.type === "target") {
    target = message.url;
    if (target) for (const go of waiting.splice(0)) go();
  } else if (message.type === "sync") {
    post({ type: "synced", id: message.id });
  } else {
    server.closeAllConnections();
    server.close(() => port.close());
  }
});

server.listen(0, "127.0.0.1", () => post({ type: "listening", port: (server.address() as AddressInfo).port }));
