import type * as Http from "node:http";
import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { BuildCancelledError, ConnectionError, EngineApiError } from "../errors.js";

// Through require, not an ESM import: the ESM view of node:http reads every export, which loads Node's bundled
// undici (about 30 ms of CPU) for every process that loads the library, an Engine in use or not.
const http = createRequire(import.meta.url)("node:http") as typeof Http;

/** The API version every path is prefixed with: Docker Engine 20.10, understood by every later Engine. */
export const ENGINE_API_VERSION = "v1.41";

export interface EngineRequest {
  method: string;
  /** Path after the version prefix, with its query string, e.g. `/images/x/json`. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
}

/** Sends one request over the Engine's unix socket and resolves with the response stream, whatever its status. */
export function engineStream(socketPath: string, req: EngineRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (req.signal?.aborted) {
      reject(new BuildCancelledError("cancelled before the Engine request was sent", req.signal.reason));
      return;
    }
    const headers: Record<string, string> = { Host: "docker", ...req.headers };
    if (req.body) headers["Content-Length"] = String(req.body.length);
    const outgoing = http.request(
      { socketPath, method: req.method, path: `/${ENGINE_API_VERSION}${req.path}`, headers, signal: req.signal },
      resolve,
    );
    outgoing.on("error", (err) => {
      if (req.signal?.aborted) reject(new BuildCancelledError("Engine request cancelled", req.signal.reason));
      else reject(new ConnectionError(`unix://${socketPath}`, `cannot reach the Docker Engine at ${socketPath}: ${err.message}`, { cause: err }));
    });
    outgoing.end(req.body);
  });
}

/** Sends one request and buffers the whole response. */
export async function engineCall(socketPath: string, req: EngineRequest): Promise<{ status: number; headers: Http.IncomingHttpHeaders; body: Buffer }> {
  const res = await engineStream(socketPath, req);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res) chunks.push(chunk as Buffer);
  } catch (err) {
    if (req.signal?.aborted) throw new BuildCancelledError("Engine request cancelled", req.signal.reason);
    throw new ConnectionError(`unix://${socketPath}`, `Docker Engine connection broke: ${(err as Error).message}`, { cause: err });
  }
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
}

/** The message of the Engine's error JSON (`{"message": "…"}`), or the body's text when it is not that. */
export function engineMessage(body: Buffer): string {
  const text = body.toString("utf8").trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // plain text body
  }
  return text;
}

/** The Engine's error JSON (`{"message": "…"}`) turned into an `EngineApiError`. */
export function engineError(what: string, status: number, body: Buffer): EngineApiError {
  const detail = engineMessage(body);
  return new EngineApiError(status, `${what}: Docker Engine answered ${status}${detail ? `: ${detail}` : ""}`);
}

export function parseJson<T>(what: string, body: Buffer): T {
  try {
    return JSON.parse(body.toString("utf8")) as T;
  } catch (err) {
    throw new EngineApiError(200, `${what}: Docker Engine answered with invalid JSON`, { cause: err });
  }
}
