import { randomUUID } from "node:crypto";
import { Agent, request } from "node:http";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/** What a client streaming a body saw of the exchange. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Body bytes the client handed to its socket before the exchange ended. */
  bytesSent: number;
  /** From the request's start to its response headers arriving (ms, this process's clock). */
  answeredAfterMs: number;
}

/**
 * POSTs a body from `source` chunk by chunk, the way a stranger streaming a big body would, and stops sending
 * as soon as an answer arrives (the write errors that follow a server-side close are expected). A keep-alive
 * connection, as GitHub and most HTTP/1.1 clients use: with `Connection: close` Node closes the socket as soon
 * as the answer is written, and a client still sending may see the reset before the answer.
 */
export function rawPost(url: string, headers: OutgoingHttpHeaders, source: AsyncIterable<Buffer>): Promise<RawAnswer> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const started = performance.now();
  return new Promise<RawAnswer>((resolve, reject) => {
    let bytesSent = 0;
    let answered = false;
    let answeredAfterMs = Number.NaN;
    const req = request(url, { method: "POST", headers, agent });
    req.on("response", (res) => {
      answered = true;
      answeredAfterMs = performance.now() - started;
      const parts: Buffer[] = [];
      const settle = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString(), bytesSent, answeredAfterMs });
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("close", () => agent.destroy());
      res.on("end", settle);
      res.on("error", settle);
    });
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    const stopped = new Promise<void>((done) => {
      req.once("response", () => done());
      req.once("close", () => done());
    });
    void (async () => {
      for await (const chunk of source) {
        if (answered || req.destroyed) return;
        const flushed = req.write(chunk, (err) => {
          if (!err) bytesSent += chunk.length;
        });
        if (!flushed) await Promise.race([new Promise((done) => req.once("drain", done)), stopped]);
      }
      if (!answered && !req.destroyed) req.end();
    })();
  });
}

/** `total` bytes of spaces in `chunkBytes` chunks (one buffer reused); with a gate, waits for it at `gate.at` bytes. */
export async function* filler(total: number, chunkBytes = 64 * 1024, gate?: { at: number; open: Promise<void> }): AsyncIterable<Buffer> {
  const chunk = Buffer.alloc(chunkBytes, 0x20);
  for (let sent = 0; sent < total; sent += chunkBytes) {
    if (gate && sent >= gate.at) await gate.open;
    yield sent + chunkBytes <= total ? chunk : chunk.subarray(0, total - sent);
  }
}

/** `body` in `chunkBytes` slices (views, no copies). */
export async function* slices(body: Buffer, chunkBytes = 64 * 1024): AsyncIterable<Buffer> {
  for (let i = 0; i < body.length; i += chunkBytes) yield body.subarray(i, i + chunkBytes);
}

/** The headers of a webhook delivery with a fresh delivery id. */
export function webhookHeaders(event: string, signature: string, extra: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  return {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": randomUUID(),
    "x-hub-signature-256": signature,
    ...extra,
  };
}

/** A well-formed signature header that matches no body. */
export const BAD_SIGNATURE = `sha256=${"0".repeat(64)}`;
