import { request as httpRequest, createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the app saw it: from the moment it reached the proxy until its response was fully sent back. */
export interface TimedCall {
  method: string;
  /** Path without the GHE `/api/v3` prefix and without the query. */
  path: string;
  status: number;
  start: number;
  end: number;
  /** The parsed JSON request body (small bodies only), to tell a check run's updates apart. */
  body?: Record<string, unknown>;
}

/**
 * A pass-through HTTP proxy in front of the fake GitHub that records when each request started and ended as the
 * app experiences it (the fake records only arrival). It adds one loopback hop per call, for every build alike.
 */
export class TimingProxy {
  readonly calls: TimedCall[] = [];
  url = "";
  #server: Server;
  #target = "";
  #targetSet: () => void = () => {};
  /** Requests that arrive before the target is known (the app calls GitHub while it starts) wait for it. */
  readonly #targetKnown = new Promise<void>((resolve) => (this.#targetSet = resolve));

  get target(): string {
    return this.#target;
  }

  set target(url: string) {
    this.#target = url;
    if (url) this.#targetSet();
  }

  constructor() {
    this.#server = createServer((req, res) => {
      const start = Date.now();
      if (!this.#target) {
        void this.#targetKnown.then(() => this.#forward(req, res, start));
        return;
      }
      this.#forward(req, res, start);
    });
  }

  #forward(req: IncomingMessage, res: ServerResponse, start: number): void {
    const target = new URL(req.url ?? "/", this.#target);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= 256 * 1024) chunks.push(c);
    });
    const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      res.once("finish", () => {
        this.calls.push({
          method: req.method ?? "GET",
          path: target.pathname.replace(/^\/api\/v3(?=\/)/, ""),
          status: up.statusCode ?? 0,
          start,
          end: Date.now(),
          ...(size > 0 && size <= 256 * 1024 ? { body: parseBody(Buffer.concat(chunks)) } : {}),
        });
      });
    });
    upstream.once("error", (err) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`timing proxy: ${err.message}`);
    });
    req.pipe(upstream);
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  get host(): string {
    return new URL(this.url).host;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function parseBody(raw: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw.toString("utf8"));
    return value && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
