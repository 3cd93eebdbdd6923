import { parentPort } from "node:worker_threads";
import { MalformedDeliveryError } from "./intake-errors.js";
import { projectPayload } from "./payload-projection.js";
import { parsePayload } from "./webhook-payload.js";
import type { WebhookPayload } from "./webhook-payload.js";

/** From the intake: the chunks of one body as they arrive, then `parse` once its signature matched, or `drop`. */
export type ToBodyWorker =
  | { kind: "chunk"; id: number; chunk: Uint8Array }
  | { kind: "parse"; id: number; name: string }
  | { kind: "drop"; id: number };

export type FromBodyWorker =
  | { kind: "parsed"; id: number; payload: WebhookPayload }
  | { kind: "invalid"; id: number; message: string }
  | { kind: "failed"; id: number; message: string };

const port = parentPort;
if (!port) throw new Error("body-worker.ts runs as a worker thread");

const bodies = new Map<number, Uint8Array[]>();

function parse(id: number, name: string): FromBodyWorker {
  const chunks = bodies.get(id) ?? [];
  bodies.delete(id);
  try {
    const payload = parsePayload(name, Buffer.concat(chunks));
    return { kind: "parsed", id, payload: projectPayload(name, payload) };
  } catch (err) {
    if (err instanceof MalformedDeliveryError) return { kind: "invalid", id, message: err.message };
    return { kind: "failed", id, message: err instanceof Error ? err.message : String(err) };
  }
}

port.on("message", (msg: ToBodyWorker) => {
  if (msg.kind === "chunk") {
    const chunks = bodies.get(msg.id);
    if (chunks) chunks.push(msg.chunk);
    else bodies.set(msg.id, [msg.chunk]);
  } else if (msg.kind === "drop") {
    bodies.delete(msg.id);
  } else {
    port.postMessage(parse(msg.id, msg.name));
  }
});
